"""The open/closed hi-hat sweep scores the product's rule on labelled clips."""

from __future__ import annotations

import json

import numpy as np

from drumscribe.training import hihat_sweep
from drumscribe.training import render as rd


def _clip(path, hats):
    """A clip whose high bands hold one decaying burst per (frame, open?) hat."""
    feats = np.zeros((400, 144), np.float32)
    mag = np.full(400, 0.01)
    for frame, is_open in hats:
        t = np.arange(60)
        mag[frame : frame + 60] += np.exp(-t / (30.0 if is_open else 2.0))
    feats[:, 60:72] = np.log10(1 + mag)[:, None]  # the bands above ~5 kHz
    onsets = np.array([[f / 100, rd.R["hihat_open" if o else "hihat_closed"], 0.8] for f, o in hats], np.float32)
    np.savez(path, feats=feats.astype(np.float16), onsets=onsets, meta=np.array(json.dumps({})))


def test_the_sweep_finds_a_rule_that_separates_clear_cases(tmp_path, capsys):
    _clip(tmp_path / "clip_00000.npz", [(20, False), (100, True), (200, False), (300, True)])
    _clip(tmp_path / "clip_00001.npz", [(50, True), (150, False)])
    hihat_sweep.main(["--val", str(tmp_path)])
    out = capsys.readouterr().out
    assert "2 clips, 6 hi-hat hits, 3 open" in out
    assert "lag  8  0.3: 1.00/1.00" in out and "0.5: 1.00/1.00 (1.0000)" in out
    assert "best:" in out and "(balanced accuracy 1.0000)" in out
