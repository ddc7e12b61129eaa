"""Cross-validation by track: fine-tune on recordings without ever scoring a track it trained on.

    # 1. for each track T: fine-tune networks of a model file on the other tracks' recordings
    #    (+ synthetic clips, so the rest of what they know is kept); then once on every track
    python -m drumscribe.training.crossval train --base drums.npz --members 0,1,2 \\
        --real /work/data/real --train /work/data/train20s,/work/data/trainv3s --val /work/data/val20 \\
        --steps 800 --lr 3e-4 --real-share 0.25 --out /work/data/cv/c1
    # 2. one model file per fold (and one from every track: OUT/models/_all.npz)
    python -m drumscribe.training.crossval export --base drums.npz --runs /work/data/cv/c1 \\
        --soup 0.5 --detect 2=kick,crash --out /work/data/cv/c1/models
    # 3. score every track with the model that never saw it
    python benchmarks/accuracy.py --cv /work/data/cv/c1/models

``--real`` holds one folder of clips per track (``training.recordings``). A fold's networks see
the clips of every other track; the held-out track's stem *and* mix stay out (they are one
performance). ``export`` keeps the base file's thresholds, offset and open-hat namer unless told
otherwise; ``--soup A`` averages each fine-tuned network with the one it started from
(A = weight of the fine-tune), the recipe 1.1.0 and 1.4.0 already use for robustness.

Every choice (steps, learning rate, real share, soup weight, which network detects which class)
is compared on the figures this gives: each track scored by the fold that left it out, summed
over tracks. The model trained on every track (``_all``) is what ships once the folds have chosen.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ALL = "_all"  # the run that trains on every track (what ships); never scored


def folds(real: Path) -> list[str]:
    return sorted(p.name for p in real.iterdir() if p.is_dir() and any(p.glob("clip_*.npz")))


def base_meta(base: Path) -> dict:
    return json.loads(str(np.load(base)["meta"]))


def member_has_fine(meta: dict, j: int) -> bool:
    members = meta.get("members", [meta])
    return int(members[j]["torch_cfg"]["n_classes"]) > len(meta["classes"])


def train_folds(a) -> None:
    from drumscribe.training import train

    meta = base_meta(a.base)
    tracks = folds(a.real)
    todo = [t for t in tracks if not a.only or t in a.only.split(",")] + ([ALL] if not a.only or ALL in a.only else [])
    for held in todo:
        real = ",".join(str(a.real / t) for t in tracks if t != held)
        for j in (int(m) for m in a.members.split(",")):
            out = a.out / held / f"m{j}"
            if (out / "last.pt").exists():
                continue
            args = ["--train", a.train, "--val", a.val, "--out", str(out), "--init-npz", str(a.base),
                    "--init-member", str(j), "--steps", str(a.steps), "--lr", str(a.lr), "--threads", str(a.threads),
                    "--seed", str(a.seed + j), "--real", real, "--real-share", str(a.real_share),
                    "--eval-every", str(a.steps)]
            if member_has_fine(meta, j):
                args.append("--fine")
            print(f"== fold {held}, network {j}", flush=True)
            train.main(args)


def export_folds(a) -> None:
    import torch

    from drumscribe.training.export import export
    from drumscribe.training.soup import soup

    meta = base_meta(a.base)
    n = len(meta.get("members", [meta]))
    detect = {int(j): (False if cs == "none" else [c for c in cs.split(",") if c])
              for j, cs in (d.split("=", 1) for d in a.detect)} if a.detect \
        else {j: m["detect"] for j, m in enumerate(meta.get("members", [])) if m.get("detect", True) is not True}
    name_only = tuple(j for j, d in detect.items() if d is False)
    detect = {j: d for j, d in detect.items() if d is not False}
    calibration = {"thresholds": meta["thresholds"], "offset": meta["offset"],
                   "min_distance": meta.get("min_distance", 0.025), "notes": meta.get("calibration", "")}
    if a.thresholds:
        calibration["thresholds"] = {**calibration["thresholds"], **json.loads(a.thresholds)}
    open_hat = meta.get("fine", {}).get("open_hat", "rule")
    a.out.mkdir(parents=True, exist_ok=True)
    for held in sorted(p.name for p in a.runs.iterdir() if any(p.glob("m*/last.pt"))):
        ckpts = []
        for j in range(n):
            run = a.runs / held / f"m{j}" / "last.pt"
            if not run.exists() or (a.keep and str(j) in a.keep.split(",")):
                ckpts.append(f"{a.base}#{j}")
                continue
            if a.soup < 1.0:
                souped = a.out / f".{held}_m{j}_soup.pt"
                torch.save(soup([Path(f"{a.base}#{j}"), run], [1 - a.soup, a.soup]), souped)
                run = souped
            ckpts.append(run)
        export(ckpts, a.out / f"{held}.npz", calibration, version=a.version, open_hat=open_hat,
               name_only=name_only, detect=detect)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="fine-tune per fold and once on every track")
    t.add_argument("--base", required=True, type=Path, help="the model file whose networks are fine-tuned")
    t.add_argument("--members", default="0", help="which networks of --base to fine-tune (comma-separated)")
    t.add_argument("--real", required=True, type=Path, help="one folder of clips per track (training.recordings)")
    t.add_argument("--train", required=True, help="synthetic clips trained on alongside (comma-separated folders)")
    t.add_argument("--val", required=True, help="synthetic validation clips (loss logged, not used to choose)")
    t.add_argument("--out", required=True, type=Path)
    t.add_argument("--steps", type=int, default=800)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--real-share", type=float, default=0.25)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--only", default=None, help="these folds only (comma-separated; _all for the full run)")
    e = sub.add_parser("export", help="one model file per fold")
    e.add_argument("--base", required=True, type=Path)
    e.add_argument("--runs", required=True, type=Path, help="the --out of crossval train")
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--soup", type=float, default=1.0, help="weight of the fine-tune in an average with its start")
    e.add_argument("--detect", action="append", default=[], metavar="J=CLASS,CLASS",
                   help="which classes network J detects (default: as in --base); J=none: it only names hits")
    e.add_argument("--keep", default=None, help="networks (comma-separated) taken unchanged from --base")
    e.add_argument("--thresholds", default=None, help='JSON overriding some of the base thresholds')
    e.add_argument("--version", default="0.0.0-cv")
    a = p.parse_args(argv)
    if a.cmd == "train":
        train_folds(a)
    else:
        export_folds(a)


if __name__ == "__main__":
    main()
