"""Velocities from the signal; tempo, beats and downbeats from madmom's beat models."""

from __future__ import annotations

import numpy as np
import pytest

from drumscribe.transcription import beats, velocity
from drumscribe.transcription.features import FeatureProcessor, SAMPLE_RATE
from synth import SR, render
from drumscribe.transcription.audio import resample


def test_velocity_follows_the_gm_attenuation_curve_per_class():
    strengths_db = np.array([0.0, -6.0, -12.0, -60.0, 10.0, -10.0])
    classes = np.array([0, 0, 0, 0, 1, 1])
    v = velocity.to_velocities(strengths_db, classes)
    ref0 = np.percentile(strengths_db[:4], velocity.REFERENCE_PERCENTILE)
    assert v[0] == round(100 * 10 ** ((0.0 - ref0) / 40))
    # 6 dB quieter (half the amplitude) is 10**(-6/40) = 0.71 times the velocity
    assert v[1] / v[0] == pytest.approx(10 ** (-6 / 40), abs=0.02)
    assert v[2] / v[0] == pytest.approx(10 ** (-12 / 40), abs=0.02)
    assert v[3] == round(100 * 10 ** ((-60.0 - ref0) / 40)) and v.min() >= 1 and v.max() <= 127
    # class 1 is normalized on its own: its loud hit sits near the reference velocity
    ref1 = np.percentile([10.0, -10.0], velocity.REFERENCE_PERCENTILE)
    assert v[4] == round(100 * 10 ** ((10.0 - ref1) / 40)) and v[5] < v[4]


def test_halving_a_kick_costs_six_db_of_velocity():
    gains = [1.0, 0.5, 0.25, 0.125, 1.0, 0.5]
    hits = [(0.5 + i * 0.5, "kick", g) for i, g in enumerate(gains)]
    signal = resample(render(hits, 4.0, SR), SR, SAMPLE_RATE)
    curves = velocity.strength_curves(FeatureProcessor()(signal), ["kick", "snare"])
    frames = [int(round(t * 100)) for t, _, _ in hits]
    db = velocity.hit_strengths(curves, np.array(frames), np.zeros(len(frames), int))
    assert np.diff(db[:4]) == pytest.approx([-6.02] * 3, abs=0.5)
    v = velocity.velocities(curves, frames, [0] * len(frames))
    assert v[0] > v[1] > v[2] > v[3] and abs(int(v[0]) - int(v[4])) <= 1 and abs(int(v[1]) - int(v[5])) <= 1
    assert v[1] / v[0] == pytest.approx(0.71, abs=0.03)


def test_tempo_is_the_median_inter_beat_interval_with_a_default():
    assert beats.tempo_of([]) == beats.DEFAULT_TEMPO == 120.0
    assert beats.tempo_of([1.0]) == 120.0
    assert beats.tempo_of([0, 0.5, 1.0, 1.5, 2.6, 3.1]) == pytest.approx(120.0)  # one gap ignored


def pulse_activation(seconds, period, phase=0.0, fps=100):
    act = np.full(int(seconds * fps), 0.01, np.float32)
    for t in np.arange(phase, seconds, period):
        act[int(round(t * fps))] = 0.9
    return act


def test_beats_are_tracked_window_by_window_without_seams(monkeypatch):
    monkeypatch.setattr(beats, "WINDOW_SECONDS", 20)
    monkeypatch.setattr(beats, "WINDOW_MARGIN_SECONDS", 5)
    found = beats.track_beats(pulse_activation(70, 0.5, 0.25))
    assert len(found) == pytest.approx(140, abs=1)
    ibi = np.diff(found)
    assert ibi.min() > 0.45 and ibi.max() < 0.55  # no duplicates or gaps where windows meet


def test_downbeats_take_the_phase_with_the_strongest_downbeat_activation():
    times = np.arange(0.5, 30.0, 0.5)
    down = np.zeros(3000, np.float32)
    for t in times[2::4]:  # the third beat starts each bar
        down[int(round(t * 100))] = 0.8
    picked, ratio = beats.pick_downbeats(times, down)
    assert np.allclose(picked, times[2::4]) and ratio > beats.DOWNBEAT_MIN_RATIO


def test_silence_has_no_beats_and_the_default_tempo():
    result = beats.analyse(np.zeros((500, 2), np.float32))
    assert (result.beats, result.downbeats, result.tempo) == ([], [], 120.0)


def test_beat_tracker_finds_the_tempo_of_a_synthesized_groove(groove_signal):
    act = beats.BeatActivationProcessor()(resample(groove_signal, SR, beats.SAMPLE_RATE))
    result = beats.analyse(act)
    assert result.tempo == pytest.approx(120.0, rel=0.03)
    on_grid = [b for b in result.beats if 0.45 < b < 16.5]
    assert all(abs((b - 0.5) / 0.5 - round((b - 0.5) / 0.5)) < 0.1 for b in on_grid)
