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

from drumscribe.training.dataset import FINE_GROUPS
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


def model_from_npz(path, member: int = 0, n_classes: int | None = None) -> DrumNet:
    """The torch network of one member of a package model file: the inverse of ``to_arrays``.

    The file's batch norms were folded into the convolutions, so here they are the identity and stay
    frozen (``frozen_bn``) while the network is fine-tuned. ``n_classes`` larger than the file's adds
    outputs with fresh weights after the file's ones.
    """
    from drumscribe.transcription.network import member_specs

    data = np.load(path)
    meta = json.loads(str(data["meta"]))
    cfg = dict(meta["members"][member]["torch_cfg"] if "members" in meta else meta["torch_cfg"])
    prefix, spec = member_specs(meta)[member]
    arr = lambda i, k: torch.from_numpy(np.array(data[f"{prefix}l{i}_{k}"]))  # noqa: E731
    n_file = arr(len(spec) - 1, "b").shape[0]
    cfg["n_classes"] = n_classes or n_file
    model = DrumNet(**cfg)
    model.frozen_bn = True
    with torch.no_grad():
        for bn in [*model.bn2d, model.bn0, *model.tbn]:
            bn.weight.fill_(1.0)
            bn.bias.zero_()
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)  # so that the scale is exactly 1
        convs = iter(model.conv)
        tconvs = iter([model.t0, *model.tconv])
        for i, s in enumerate(spec):
            if s["type"] == "normalize":
                model.mean.copy_(arr(i, "mean"))
                model.std.copy_(arr(i, "std"))
            elif s["type"] == "conv2d":
                conv = next(convs)
                conv.weight.copy_(arr(i, "w").permute(3, 2, 0, 1))
                conv.bias.copy_(arr(i, "b"))
            elif s["type"] == "tconv":
                conv = next(tconvs)
                conv.weight.copy_(arr(i, "w").permute(2, 1, 0))
                conv.bias.copy_(arr(i, "b"))
            elif s["type"] == "dense_sigmoid":
                model.out.weight[:n_file].copy_(arr(i, "w").T)
                model.out.bias[:n_file].copy_(arr(i, "b"))
    model.eval()
    return model


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


def load_any(path) -> tuple[DrumNet, dict]:
    """A checkpoint (``.pt``), or ``file.npz#J``: network J of a package model file (exported before)."""
    path = str(path)
    if "#" in path:
        file, member = path.rsplit("#", 1)
        data = np.load(file)
        meta = json.loads(str(data["meta"]))
        info = meta["members"][int(member)] if "members" in meta else meta
        model = model_from_npz(file, int(member))
        # a network with outputs after the classes has the file's finer ones (a 2.0 naming network)
        has_fine = model.cfg["n_classes"] > len(meta["classes"])
        fine = list(meta["fine"]["outputs"]) if has_fine else []
        ck = dict(info.get("training", {}), classes=meta["classes"], fine_classes=fine)
        return model, ck
    return model_from_ckpt(path)


SYNTHETIC_SOURCES = ("GPL/CC0 Hydrogen kits, the GPL-2+ AVL Drumkits, GM soundfonts, and CC-BY-3.0 guitar strums by "
                     "Gabriel Verdugo Soto, belofilms.com")


def licence_of(members: list[dict]) -> str:
    """What the weights were trained on, and so under which terms they are offered."""
    real = sorted({str(m["training"]["args"]["real"]) for m in members
                   if (m.get("training") or {}).get("args") and m["training"]["args"].get("real")})
    if not real:
        return f"MIT (weights trained only on synthesized audio: {SYNTHETIC_SOURCES}; see docs/model.md)"
    return ("MIT for the networks trained only on synthesized audio; a network here was also fine-tuned on MDB Drums "
            "recordings (Southall et al., ISMIR 2017; audio and annotations CC BY-NC-SA 4.0), whose terms may reach "
            f"weights learnt from them: see docs/model.md, *Licences*. Synthetic sources: {SYNTHETIC_SOURCES}")


def export(ckpts, out: Path, calibration: dict | None = None, parity: Path | None = None, version="0.1.0",
           extra_meta: dict | None = None, open_hat: str = "rule", name_only: tuple[int, ...] = (),
           detect: dict[int, list[str]] | None = None):
    """Write one checkpoint (a path) or an ensemble (a list of paths) as a package model file.

    A path ``model.npz#J`` takes network J of an earlier model file as it is (its folded weights).
    Members trained with finer outputs (``train --fine``) add ``meta["fine"]``; ``open_hat``
    ("rule" or "learnt") says whether the open-hat output or the 80 ms rule names open hats.
    ``detect``: {member position: the classes it detects}; members not named detect every class.
    ``name_only``: members (by position) that only name hits, i.e. ``detect`` ``False``.
    """
    from drumscribe.errors import TranscriptionError
    from drumscribe.transcription.network import detect_masks, ensemble_outputs, receptive_context

    detect = {**(detect or {}), **{j: False for j in name_only}}
    paths = [ckpts] if isinstance(ckpts, (str, Path)) else list(ckpts)
    loaded = [load_any(p) for p in paths]
    members, arrays = [], {}
    for j, (model, ck) in enumerate(loaded):
        spec, arr = to_arrays(model)
        prefix = f"m{j}_" if len(loaded) > 1 else ""
        arrays.update({prefix + k: v for k, v in arr.items()})
        d = detect.get(j, True)  # every class, none (it only names hits) or the classes given
        members.append({
            "layers": spec,
            "torch_cfg": dict(model.cfg),
            "training": {"step": ck.get("step"), "val_loss": ck.get("val_loss"), "train_hours": ck.get("train_hours"),
                         "n_train_clips": ck.get("n_train_clips"), "args": ck.get("args")},
            "detect": d if isinstance(d, bool) else list(d),
        })
    model, ck = loaded[0]
    if len({m.n_bands for m, _ in loaded}) != 1:
        raise SystemExit("ensemble members must take the same features")
    fine = next((list(c["fine_classes"]) for _, c in loaded if c.get("fine_classes")), [])
    if any(c.get("fine_classes") and list(c["fine_classes"]) != fine for _, c in loaded):
        raise SystemExit("ensemble members with finer outputs must have the same ones")

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
        "licence": licence_of(members),
    }
    try:
        masks = detect_masks(meta["classes"], members)
    except TranscriptionError as e:
        raise SystemExit(f"--detect: {e}") from None
    if any(not any(mask) and not loaded[j][1].get("fine_classes") for j, mask in enumerate(masks)):
        raise SystemExit("--name-only/--detect: a network that detects nothing must name hits (finer outputs)")
    if fine:
        meta["fine"] = {"outputs": fine, "groups": FINE_GROUPS, "open_hat": open_hat}
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
            y = ensemble_outputs(len(meta["classes"]), masks)(
                [torch.sigmoid(m(torch.from_numpy(x)[None]))[0].numpy() for m, _ in loaded])
        parity.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(parity, input=x, output=y.astype(np.float32))
        from drumscribe.transcription.network import load_model

        got = load_model(out).all_activations(x)
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
    p.add_argument("--name-only", type=int, action="append", default=[],
                   help="position of a --ckpt that only names hits (which hat, tom, cymbal); the others detect them")
    p.add_argument("--detect", action="append", default=[], metavar="J=CLASS,CLASS",
                   help="the classes the --ckpt at position J detects (the others: all of them)")
    p.add_argument("--open-hat", choices=("rule", "learnt"), default="rule",
                   help="what names open hats when the model has finer outputs: the 80 ms rule or the network")
    a = p.parse_args(argv)
    cal = json.loads(a.calibration.read_text()) if a.calibration else None
    detect = {int(j): [c for c in classes.split(",") if c] for j, classes in (d.split("=", 1) for d in a.detect)}
    export(a.ckpt, a.out, cal, a.parity, a.version, open_hat=a.open_hat, name_only=tuple(a.name_only),
           detect=detect)


if __name__ == "__main__":
    main()
