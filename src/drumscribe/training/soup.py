"""Average the weights of checkpoints of one architecture (a "model soup").

    python -m drumscribe.training.soup --out /work/data/runs/soup/ckpt.pt \\
        /work/data/runs/r1/ckpt.pt /work/data/runs/r4/ckpt.pt

Why: the fine-tuned model (r4) fits the synthetic mixes better, the model it started from (r1)
was better on the real drum-only recordings. Interpolating the weights of a model and its own
fine-tune (they sit in one loss basin) keeps most of both and is known to be more robust out of
distribution than either end point (Wortsman et al., "Robust fine-tuning of zero-shot models",
CVPR 2022). Real recordings are out of distribution for a model trained on synthetic audio.
Batch-norm running statistics are averaged like the weights; ``export`` folds them afterwards.

A path ``model.npz#J`` is network J of a package model file (the start of a fine-tune made with
``train --init-npz``). Outputs the fine-tune added (``--fine``) have no counterpart there: the
average takes them from the last checkpoint, unaveraged.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def _from_npz(path, like: dict) -> dict:
    """Network J of a model file as a checkpoint shaped like ``like``; outputs it lacks copied from ``like``."""
    from drumscribe.training.export import model_from_npz

    file, member = str(path).rsplit("#", 1)
    model = model_from_npz(file, int(member), n_classes=like["cfg"]["n_classes"])
    state = model.state_dict()
    n_file = int(model_from_npz(file, int(member)).cfg["n_classes"])
    for key in ("out.weight", "out.bias"):
        state[key][n_file:] = like["state"][key][n_file:]
    return {"state": state, "cfg": model.cfg}


def soup(paths: list[Path], weights: list[float] | None = None) -> dict:
    """A checkpoint whose floating-point tensors are the weighted mean of those in ``paths``."""
    last = torch.load(paths[-1])
    cks = [_from_npz(p, last) if "#" in str(p) else torch.load(p) for p in paths[:-1]] + [last]
    weights = weights or [1.0 / len(cks)] * len(cks)
    if len(weights) != len(cks) or abs(sum(weights) - 1) > 1e-6:
        raise SystemExit("--weights: one per checkpoint, summing to 1")
    if any(ck["cfg"] != cks[0]["cfg"] or ck["state"].keys() != cks[0]["state"].keys() for ck in cks):
        raise SystemExit("checkpoints of different architectures cannot be averaged")
    state = {}
    for key, ref in cks[-1]["state"].items():
        if ref.is_floating_point():
            state[key] = sum(w * ck["state"][key].double() for w, ck in zip(weights, cks)).to(ref.dtype)
        else:  # e.g. num_batches_tracked
            state[key] = ref
    out = dict(cks[-1])
    out["state"] = state
    out["args"] = dict(cks[-1].get("args", {}), soup=[f"{w:g} * {p}" for w, p in zip(weights, paths)])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ckpts", nargs="+", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--weights", type=float, nargs="+", default=None)
    a = p.parse_args(argv)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(soup(a.ckpts, a.weights), a.out)
    print(f"wrote {a.out} (mean of {len(a.ckpts)} checkpoints)")


if __name__ == "__main__":
    main()
