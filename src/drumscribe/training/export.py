"""Export a trained checkpoint to the package model format (.npz: weights + JSON ``meta``).

    python -m drumscribe.training.export --ckpt /work/data/runs/r1/ckpt.pt \
        --calibration /work/data/runs/r1/calibration.json \
        --out src/drumscribe/transcription/models/drums.npz \
        --parity tests/transcription/data/parity.npz

Batch norms are folded into the preceding convolutions. ``--parity`` stores a fixed random input
and the torch network's output for it (the test runs the exported numpy network on it).

``--ckpt`` given more than once exports an ensemble: every network is stored (weights prefixed
``m0_``, ``m1_``...) and the model's output is the mean of theirs, in torch and in numpy alike.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from drumscribe.training.train import CLASSES, DrumNet
from drumscribe.transcription import features as feat


def _fold(conv_w, conv_b, bn):
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    shape = [-1] + [1] * (conv_w.dim() - 1)
    w = conv_w.detach() * scale.reshape(shape)
    b = (conv_b.detach() - bn.running_mean) * scale + bn.bias.detach()
    return w.numpy().astype(np.float32), b.numpy().astype(np.float32)


def model_from_ckpt(path) -> DrumNet:
    ck = torch.load(path, map_location="cpu")
    cfg = dict(ck["cfg"])
    model = DrumNet(**cfg)
    model.load_state_dict(ck["state"])
    model.eval()
    return model, ck


def to_arrays(model: DrumNet) -> tuple[list[dict], dict[str, np.ndarray]]:
    spec: list[dict] = []
    arrays: dict[str, np.ndarray] = {}

    def add(s, **arr):
        i = len(spec)
        spec.append(s)
        for k, v in arr.items():
            arrays[f"l{i}_{k}"] = np.ascontiguousarray(v, dtype=np.float32)

    add({"type": "normalize"}, mean=model.mean.numpy(), std=model.std.numpy())
    add({"type": "split_channels", "channels": 2})
    for conv, bn, pool in zip(model.conv, model.bn2d, model.pool_after):
        w, b = _fold(conv.weight, conv.bias, bn)  # (out, in, kt, kf)
        add({"type": "conv2d", "kt": 3, "kf": 3, "activation": "relu", "pool": 3 if pool else 1},
            w=w.transpose(2, 3, 1, 0), b=b)
    add({"type": "flatten"})
    w, b = _fold(model.t0.weight, model.t0.bias, model.bn0)  # (out, in, k)
    add({"type": "tconv", "k": 3, "dilation": 1, "activation": "relu", "residual": False}, w=w.transpose(2, 1, 0), b=b)
    for conv, bn, d in zip(model.tconv, model.tbn, model.dilations):
        w, b = _fold(conv.weight, conv.bias, bn)
        add({"type": "tconv", "k": 3, "dilation": d, "activation": "relu", "residual": True},
            w=w.transpose(2, 1, 0), b=b)
    add({"type": "dense_sigmoid"}, w=model.out.weight.detach().numpy().T, b=model.out.bias.detach().numpy())
    return spec, arrays


def export(ckpts, out: Path, calibration: dict | None = None, parity: Path | None = None, version="0.1.0",
           extra_meta: dict | None = None):
    """Write one checkpoint (a path) or an ensemble (a list of paths) as a package model file."""
    from drumscribe.transcription.network import receptive_context

    paths = [ckpts] if isinstance(ckpts, (str, Path)) else list(ckpts)
    loaded = [model_from_ckpt(p) for p in paths]
    members, arrays = [], {}
    for j, (model, ck) in enumerate(loaded):
        spec, arr = to_arrays(model)
        prefix = f"m{j}_" if len(loaded) > 1 else ""
        arrays.update({prefix + k: v for k, v in arr.items()})
        members.append({
            "layers": spec,
            "torch_cfg": dict(model.cfg),
            "training": {"step": ck.get("step"), "val_loss": ck.get("val_loss"), "train_hours": ck.get("train_hours"),
                         "n_train_clips": ck.get("n_train_clips"), "args": ck.get("args")},
        })
    model, ck = loaded[0]
    if len({m.n_bands for m, _ in loaded}) != 1:
        raise SystemExit("ensemble members must take the same features")

    calibration = calibration or {}
    meta = {
        "name": "drumscribe-tcn",
        "version": version,
        "classes": list(ck.get("classes", CLASSES)),
        "thresholds": calibration.get("thresholds", {c: 0.5 for c in CLASSES}),
        "offset": float(calibration.get("offset", 0.0)),
        "min_distance": float(calibration.get("min_distance", 0.025)),
        "fps": feat.FPS,
        "sample_rate": feat.SAMPLE_RATE,
        "n_features": int(2 * model.n_bands),
        "features": {"frame_size": feat.FRAME_SIZE, "bands_per_octave": feat.BANDS_PER_OCTAVE,
                     "fmin": feat.FMIN, "fmax": feat.FMAX, "diff": "positive, ratio 0.5, stacked"},
        "context_frames": max(receptive_context(m["layers"]) for m in members),
        "calibration": calibration.get("notes", ""),
        "licence": "MIT (weights trained only on audio synthesized from GPL Hydrogen kits and GM soundfonts)",
    }
    if len(members) == 1:
        meta.update(members[0])  # the single-network format: "layers", "torch_cfg", "training"
    else:
        meta["members"] = members
    meta.update(extra_meta or {})
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB), {len(members)} network(s), "
          f"context {meta['context_frames']} frames")
    if parity is not None:
        rng = np.random.default_rng(1234)
        x = (rng.random((300, 2 * model.n_bands)) * 2.0).astype(np.float32)
        with torch.no_grad():
            y = np.mean([torch.sigmoid(m(torch.from_numpy(x)[None]))[0].numpy() for m, _ in loaded], axis=0)
        parity.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(parity, input=x, output=y.astype(np.float32))
        from drumscribe.transcription.network import load_model

        got = load_model(out).activations(x)
        print(f"wrote {parity}; max |numpy - torch| = {np.abs(got - y).max():.2e}")
    return meta


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", required=True, action="append",
                   help="a checkpoint; give it more than once for an ensemble (outputs averaged)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--calibration", type=Path)
    p.add_argument("--parity", type=Path)
    p.add_argument("--version", default="0.1.0")
    a = p.parse_args(argv)
    cal = json.loads(a.calibration.read_text()) if a.calibration else None
    export(a.ckpt, a.out, cal, a.parity, a.version)


if __name__ == "__main__":
    main()
