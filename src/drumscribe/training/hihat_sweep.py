"""Choose the open/closed hi-hat rule's lag and ratio on synthetic validation clips.

    python -m drumscribe.training.hihat_sweep --val /work/data/val,/work/data/valv3

For every labelled hi-hat hit (closed, pedal or open) of the clips, runs the product's rule
(``transcription.hihat.open_hits``) on the clip's hi-hat band curve at the labelled onset frame,
for each lag and ratio, and prints the share of open hats called open, of closed/pedal hats
called closed, and their mean (balanced accuracy: open hats are a minority).
"""

from __future__ import annotations

import argparse

import numpy as np

from drumscribe.training import render as rd
from drumscribe.training.dataset import clip_files
from drumscribe.transcription.hihat import open_hits
from drumscribe.transcription.velocity import strength_curves

LAGS = (4, 6, 8, 12, 16)
RATIOS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
HATS = (rd.R["hihat_closed"], rd.R["hihat_pedal"], rd.R["hihat_open"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--val", required=True, help="validation folder(s), comma-separated")
    p.add_argument("--fps", type=float, default=100.0)
    a = p.parse_args(argv)
    clips = []
    for f in clip_files(a.val):
        d = np.load(f)
        hats = d["onsets"][np.isin(d["onsets"][:, 1], HATS)]
        if len(hats):
            curve = strength_curves(d["feats"].astype(np.float32), ["hihat_closed"])[:, 0]
            frames = np.round(hats[:, 0] * a.fps).astype(int)
            clips.append((curve, frames, hats[:, 1] == rd.R["hihat_open"]))
    truth = np.concatenate([t for _, _, t in clips])
    print(f"{len(clips)} clips, {len(truth)} hi-hat hits, {int(truth.sum())} open")
    best = (0.0, None)
    for lag in LAGS:
        cells = []
        for ratio in RATIOS:
            called = np.concatenate([open_hits(c, f, lag=lag, ratio=ratio) for c, f, _ in clips])
            tpr, tnr = (called & truth).sum() / truth.sum(), (~called & ~truth).sum() / (~truth).sum()
            cells.append(f"{ratio:.1f}: {tpr:.2f}/{tnr:.2f} ({(tpr + tnr) / 2:.4f})")
            best = max(best, ((tpr + tnr) / 2, (lag, ratio)), key=lambda b: b[0])
        print(f"lag {lag:2d}  " + "  ".join(cells))
    print(f"best: lag {best[1][0]} ratio {best[1][1]} (balanced accuracy {best[0]:.4f})")


if __name__ == "__main__":
    main()
