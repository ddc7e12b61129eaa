"""Per-class thresholds on the held-out SYNTHETIC validation set (never on the dev recordings).

    python -m drumscribe.training.calibrate --model /work/data/runs/r1/model.npz \
        --val /work/data/val --out /work/data/runs/r1/calibration.json [--offset 0.008]

Runs the exported numpy model (the shipped inference path) on the validation clips' features,
sweeps each class's threshold (0.05..0.95) and keeps the one with the best micro F at ±50 ms.
Also reports the model's median timing offset on synthetic data. ``--offset`` is stored as is
(the docs say where it came from). For a model with finer outputs (2.0) it reports how often a
detected hit matched to a labelled one is named right (which hat, tom, cymbal), with open hats
named by the network and by the 80 ms rule (``transcription.hihat``): the better one ships.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drumscribe.training.dataset import ROLE_TO_CLASS, ROLE_TO_FINE, clip_files
from drumscribe.transcription import subclass
from drumscribe.transcription.network import load_model
from drumscribe.transcription.peaks import detect_onsets
from drumscribe.transcription.velocity import strength_curves


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
    named = []  # per clip: finer outputs, band curves, labelled (time, class, finer name)
    for f in clip_files(a.val):
        d = np.load(f)
        feats = d["feats"].astype(np.float32)
        out = model.all_activations(feats)
        act = out[:, : len(model.classes)]
        refs = {c: [] for c in model.classes}
        for t, r, _ in d["onsets"]:
            name = ROLE_TO_CLASS.get(int(r))
            if name:
                refs[name].append(float(t))
        if model.fine_classes:
            labels = [(float(t), ROLE_TO_CLASS[int(r)], ROLE_TO_FINE[int(r)]) for t, r, _ in d["onsets"]
                      if int(r) in ROLE_TO_FINE]
            named.append((out[:, len(model.classes) :], strength_curves(feats, model.classes), labels))
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
        # the model file's own threshold too: how the shipped thresholds score on these clips
        own = int(np.argmin(np.abs(grid - model.thresholds[c])))
        report[c] = {"threshold": float(grid[i]), "F50": float(scores[i]), "F_at_0.5": float(scores[list(grid).index(0.5)]),
                     "model_threshold": float(grid[own]), "F_at_model_threshold": float(scores[own])}
        print(f"{c:14} threshold {grid[i]:.2f}  F {scores[i]:.3f}  (F at 0.5: {report[c]['F_at_0.5']:.3f}; "
              f"at the model's {grid[own]:.2f}: {scores[own]:.3f})", flush=True)
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
    naming = naming_report(model, clips, named, best) if named else {}
    cal = {"thresholds": best, "offset": a.offset, "min_distance": model.min_distance,
           "notes": f"thresholds: best micro F(±50 ms) per class on {len(clips)} synthetic validation clips "
                    f"({a.val}); offset: {a.offset_note or 'none'}",
           "synthetic_val": report, "synthetic_median_offset_ms": synth_offset, "synthetic_naming": naming}
    a.out.write_text(json.dumps(cal, indent=1))
    print(f"wrote {a.out}")


def naming_report(model, clips, named, thresholds) -> dict:
    """Per finer name: of the detected hits matched (±50 ms) to a labelled hit of that name, the share
    named right; open hats both by the network ("learnt") and by the ringing rule ("rule")."""
    import mir_eval

    played = {c: c for c in model.classes}
    # the hits do not depend on who names open hats: detect once per clip, name twice
    detected = [detect_onsets(act, model, thresholds=thresholds, offset=0.0) for act, _ in clips]
    report = {}
    for how in ("learnt", "rule"):
        model.open_hat = how
        right: dict[str, list[int]] = {}
        for ons, (fine, curves, labels) in zip(detected, named):
            names = subclass.play([o.instrument for o in ons], [o.frame for o in ons], fine, curves, model, played)
            for c in model.fine_groups:
                est = [(o.time, n) for o, n in zip(ons, names) if o.instrument == c]
                ref = sorted((t, n) for t, cls, n in labels if cls == c)
                if not est or not ref:
                    continue
                pairs = mir_eval.util.match_events(np.array([t for t, _ in ref]), np.array([t for t, _ in est]), 0.05)
                for i, j in pairs:
                    truth = {n for t, n in ref if abs(t - ref[i][0]) < 1e-3}  # unison hits: either name is right
                    right.setdefault(ref[i][1], []).append(int(est[j][1] in truth))
        report[how] = {n: {"right": int(sum(v)), "of": len(v), "share": float(np.mean(v))} for n, v in sorted(right.items())}
        print(f"naming ({how} open hats): " + "  ".join(f"{n} {r['right']}/{r['of']} ({r['share']:.3f})"
                                                         for n, r in report[how].items()), flush=True)
    hats = [n for n in ("hihat_closed", "hihat_open") if n in report["rule"]]
    for how in ("learnt", "rule"):
        report[how + "_hat_balanced_accuracy"] = float(np.mean([report[how][n]["share"] for n in hats])) if hats else None
    return report


if __name__ == "__main__":
    main()
