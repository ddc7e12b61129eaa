"""Per-class thresholds on the held-out SYNTHETIC validation set (never on the dev recordings).

    python -m drumscribe.training.calibrate --model /work/data/runs/r1/model.npz \
        --val /work/data/val --out /work/data/runs/r1/calibration.json [--offset 0.008]

Runs the exported numpy model (the shipped inference path) on the validation clips' features,
sweeps each class's threshold (0.05..0.95) and keeps the one with the best micro F at ±50 ms.
Also reports the model's median timing offset on synthetic data. ``--offset`` is stored as is
(the docs say where it came from).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drumscribe.training.dataset import ROLE_TO_CLASS, clip_files
from drumscribe.transcription.network import load_model
from drumscribe.transcription.peaks import detect_onsets


def _match_count(ref, est, window):
    import mir_eval

    if len(ref) == 0 or len(est) == 0:
        return 0, []
    m = mir_eval.util.match_events(ref, est, window)
    return len(m), [est[j] - ref[i] for i, j in m]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--val", required=True, help="validation folder(s), comma-separated")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--offset", type=float, default=0.0)
    p.add_argument("--offset-note", default="")
    a = p.parse_args(argv)
    model = load_model(a.model)
    clips = []
    for f in clip_files(a.val):
        d = np.load(f)
        act = model.activations(d["feats"].astype(np.float32))
        refs = {c: [] for c in model.classes}
        for t, r, _ in d["onsets"]:
            name = ROLE_TO_CLASS.get(int(r))
            if name:
                refs[name].append(float(t))
        # merge unison duplicates (e.g. two toms at once) into one reference onset
        refs = {c: np.unique(np.round(np.array(v), 3)) for c, v in refs.items()}
        clips.append((act, refs))
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    best = {}
    report = {}
    for c in model.classes:
        scores = []
        for th in grid:
            tp = n_est = n_ref = 0
            for act, refs in clips:
                est = np.array([o.time for o in detect_onsets(act, model, thresholds={k: (th if k == c else 2.0) for k in model.classes}, offset=0.0)])
                k, _ = _match_count(refs[c], est, 0.05)
                tp += k
                n_est += len(est)
                n_ref += len(refs[c])
            pr = tp / max(n_est, 1)
            rc = tp / max(n_ref, 1)
            scores.append(2 * pr * rc / max(pr + rc, 1e-9))
        i = int(np.argmax(scores))
        best[c] = float(grid[i])
        report[c] = {"threshold": float(grid[i]), "F50": float(scores[i]), "F_at_0.5": float(scores[list(grid).index(0.5)])}
        print(f"{c:14} threshold {grid[i]:.2f}  F {scores[i]:.3f}  (F at 0.5: {report[c]['F_at_0.5']:.3f})", flush=True)
    # intrinsic timing offset on synthetic data with the chosen thresholds
    diffs = {c: [] for c in model.classes}
    for act, refs in clips:
        ons = detect_onsets(act, model, thresholds=best, offset=0.0)
        for c in model.classes:
            est = np.array([o.time for o in ons if o.instrument == c])
            _, d = _match_count(refs[c], est, 0.05)
            diffs[c] += d
    synth_offset = {c: float(np.median(v) * 1000) if v else None for c, v in diffs.items()}
    print("median offset on synthetic val (ms):", synth_offset)
    cal = {"thresholds": best, "offset": a.offset, "min_distance": model.min_distance,
           "notes": f"thresholds: best micro F(±50 ms) per class on {len(clips)} synthetic validation clips "
                    f"({a.val}); offset: {a.offset_note or 'none'}",
           "synthetic_val": report, "synthetic_median_offset_ms": synth_offset}
    a.out.write_text(json.dumps(cal, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
