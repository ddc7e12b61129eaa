"""Calibration on synthetic validation clips: the best threshold per class, and how the model
file's own thresholds score there (the figures the model card quotes)."""

import json

import numpy as np

from drumscribe.training import calibrate
from drumscribe.training import render as rd
from drumscribe.transcription.features import FeatureProcessor
from drumscribe.transcription.network import DEFAULT_MODEL, load_model
from synth import groove, render

ROLE = {"kick": rd.R["kick"], "snare": rd.R["snare"], "hihat_closed": rd.R["hihat_closed"]}


def _clips(folder, n=2):
    """Clips as ``dataset`` writes them: features and labelled onsets (time, role, velocity)."""
    folder.mkdir()
    fp = FeatureProcessor()
    for k in range(n):
        hits = groove(bars=3, bpm=100 + 15 * k)
        x = render(hits, 8.0, sr=rd.SR, seed=k)
        onsets = np.array([(t, ROLE[name], g) for t, name, g in hits], np.float32)
        np.savez(folder / f"clip_{k:05d}.npz", feats=fp(x).astype(np.float16), onsets=onsets,
                 meta=json.dumps({"k": k}))
    return str(folder)


def test_calibration_reports_the_best_and_the_models_own_thresholds(tmp_path):
    out = tmp_path / "cal.json"
    calibrate.main(["--model", str(DEFAULT_MODEL), "--val", _clips(tmp_path / "val"), "--out", str(out),
                    "--offset", "0.007"])
    cal = json.loads(out.read_text())
    model = load_model()
    assert cal["offset"] == 0.007 and set(cal["thresholds"]) == set(model.classes)
    for c in ("kick", "snare", "hihat_closed"):
        r = cal["synthetic_val"][c]
        assert r["model_threshold"] == model.thresholds[c]
        assert r["F50"] >= r["F_at_model_threshold"]  # the best threshold is the best
        assert r["F_at_model_threshold"] > 0.8  # a clean groove: the shipped thresholds find it
