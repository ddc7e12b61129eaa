"""The whole pipeline on a real, human-annotated recording (skips without the dev data or model)."""

from __future__ import annotations

import numpy as np
import pytest

from drumscribe.transcription.instruments import INSTRUMENTS
from drumscribe.transcription.pipeline import transcribe

TRACK = "Punk"  # 29 s, steady eighth-note hats: a quick end-to-end check


def f_measure(found, truth, window=0.05):
    found, truth = sorted(found), list(truth)
    used = [False] * len(truth)
    tp = 0
    for f in found:
        best = None
        for i, t in enumerate(truth):
            if not used[i] and abs(f - t) <= window and (best is None or abs(f - t) < abs(f - truth[best])):
                best = i
        if best is not None:
            used[best] = True
            tp += 1
    if not found or not truth:
        return float(not found and not truth)
    p, r = tp / len(found), tp / len(truth)
    return 0.0 if tp == 0 else 2 * p * r / (p + r)


def test_dev_track_drums_and_tempo(mdb_dev, real_model):
    wav = mdb_dev / "audio" / "drum_only" / f"MusicDelta_{TRACK}_Drum.wav"
    rows = [line.split() for line in (mdb_dev / "annotations" / "class" / f"MusicDelta_{TRACK}_class.txt").read_text().splitlines() if line.strip()]
    beats_ann = np.loadtxt(mdb_dev / "annotations" / "beats" / f"MusicDelta_{TRACK}_MIX.beats")[:, 0]

    result = transcribe(wav, model=real_model)

    scores = {}
    for label in ("KD", "SD", "HH"):
        truth = [float(t) for t, lab in rows if lab == label]
        found = [e.time for e in result.events if INSTRUMENTS[e.instrument].eval_class == label]
        scores[label] = f_measure(found, truth)
    assert scores["KD"] >= 0.8 and scores["SD"] >= 0.6, scores
    assert result.tempo == pytest.approx(60.0 / np.median(np.diff(beats_ann)), rel=0.03)
    assert all(1 <= e.velocity <= 127 for e in result.events)
