"""Velocities from the signal; tempo, beats and downbeats from the drum activations."""

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


def test_tempo_is_the_median_inter_beat_interval_and_none_without_a_pulse():
    assert beats.tempo_of([]) is None and beats.tempo_of([1.0]) is None
    assert beats.tempo_of([0, 0.5, 1.0, 1.5, 2.6, 3.1]) == pytest.approx(120.0)  # one gap ignored


def pulse_activation(seconds, period, phase=0.0, fps=100):
    act = np.full(int(seconds * fps), 0.01, np.float32)
    for t in np.arange(phase, seconds, period):
        act[int(round(t * fps))] = 0.9
    return act


def test_beats_are_tracked_window_by_window_without_seams(monkeypatch):
    monkeypatch.setattr(beats, "WINDOW_SECONDS", 20)
    monkeypatch.setattr(beats, "WINDOW_MARGIN_SECONDS", 5)
    found = beats.track_beats(pulse_activation(70, 0.5, 0.25), fps=100) / 100
    assert len(found) == pytest.approx(140, abs=1)
    ibi = np.diff(found)
    assert ibi.min() > 0.45 and ibi.max() < 0.55  # no duplicates or gaps where windows meet


CLASSES = ("kick", "snare", "hihat_closed", "tom_mid", "crash")


def strike(act, seconds, name, level=0.9, fps=100):
    """A hit as the network shows it: a peak a few frames wide."""
    frame, column = int(round(seconds * fps)), CLASSES.index(name)
    for d, share in ((-1, 0.4), (0, 1.0), (1, 0.6), (2, 0.2)):
        if 0 <= frame + d < len(act):
            act[frame + d, column] = max(act[frame + d, column], level * share)


def drum_activations(bars, pattern, *, beat=0.5, start=0.0, fps=100):
    """Activations of a drum pattern: ``pattern[j]`` = classes struck on beat j of each bar (eighth hats on top)."""
    act = np.zeros((int((start + bars * 4 * beat + 1) * fps), len(CLASSES)), np.float32)
    for bar in range(bars):
        for j, names in enumerate(pattern):
            for name in names:
                strike(act, start + (bar * 4 + j) * beat, name)
        for e in range(8):
            strike(act, start + (bar * 4 + e / 2) * beat, "hihat_closed", 0.8)
    return act


def test_beats_come_from_the_drums_and_sit_on_the_hits_with_the_model_offset():
    act = drum_activations(8, [("kick",), ("snare",), ("kick",), ("snare",)], start=0.5)
    result = beats.analyse(act, CLASSES, fps=100, offset=0.007)
    assert result.tempo == pytest.approx(120.0, rel=0.01)
    expected = 0.5 + 0.5 * np.arange(32) + 0.007  # not an eighth-note (hi-hat) tempo, not early
    assert len(result.beats) == 32 and np.abs(np.array(result.beats) - expected).max() < 0.006


@pytest.mark.parametrize("pattern, first, how", [
    ([("kick",), ("snare",), ("kick",), ("snare",)], 0, "first kick"),  # kick 1 and 3: the drums cannot tell 1 from 3
    ([("kick", "crash"), ("snare",), ("kick",), ("snare",)], 0, "pattern"),  # a crash marks beat 1
    ([("kick",), ("snare",), (), ("snare",)], 0, "pattern"),  # kick on 1 only
])
def test_downbeat_phase_is_read_from_the_drum_pattern(pattern, first, how):
    act = drum_activations(8, pattern, start=0.5)
    result = beats.analyse(act, CLASSES, fps=100)
    assert result.downbeats == result.beats[first::4] and result.phase_from == how


def test_a_pickup_beat_before_the_first_kick_is_not_bar_one():
    # one snare beat of pickup at 0.5 s, then bars with the kick on 1 and 3 from 1.0 s
    act = drum_activations(8, [("kick",), ("snare",), ("kick",), ("snare",)], start=1.0)
    strike(act, 0.5, "snare")
    result = beats.analyse(act, CLASSES, fps=100)
    assert result.beats[0] == pytest.approx(0.5, abs=0.01) and result.downbeats[0] == pytest.approx(1.0, abs=0.01)


def test_no_steady_pulse_means_no_beats_and_no_tempo():
    cymbals_only = drum_activations(8, [("crash",), ("crash",), ("crash",), ("crash",)])
    for act in (np.zeros((500, 5), np.float32), drum_activations(1, [("kick",), (), (), ()])[:100], cymbals_only):
        result = beats.analyse(act, CLASSES, fps=100)
        assert (result.beats, result.downbeats, result.tempo) == ([], [], None)


def test_beat_tracker_finds_the_tempo_of_a_synthesized_groove(groove_signal, real_model):
    feats = FeatureProcessor()(resample(groove_signal, SR, SAMPLE_RATE))
    result = beats.analyse(real_model.activations(feats), real_model.classes, fps=real_model.fps, offset=real_model.offset)
    assert result.tempo == pytest.approx(120.0, rel=0.03)
    on_grid = [b for b in result.beats if 0.45 < b < 16.5]
    assert all(abs((b - 0.5) / 0.5 - round((b - 0.5) / 0.5)) < 0.05 for b in on_grid)
    assert result.downbeats[0] == pytest.approx(0.5, abs=0.02)  # the groove's first kick


def test_eighth_notes_tracked_as_beats_are_halved():
    backbone = np.array([True, False] * 8)  # a kick or snare on every other "beat" only
    assert beats.eighth_note_parity(backbone, 150.0) == 0
    assert beats.eighth_note_parity(~backbone, 150.0) == 1
    assert beats.eighth_note_parity(np.ones(16, bool), 150.0) is None  # on every beat: a fast beat
    assert beats.eighth_note_parity(backbone, 110.0) is None  # slower: a brushed snare may just be missed


def test_a_slow_groove_is_not_tracked_at_double_tempo(real_model):
    from synth import groove

    signal = render(groove(8, bpm=75.0, start=0.3), 27.5, SR)
    feats = FeatureProcessor()(resample(signal, SR, SAMPLE_RATE))
    result = beats.analyse(real_model.activations(feats), real_model.classes, fps=real_model.fps, offset=real_model.offset)
    assert result.tempo == pytest.approx(75.0, rel=0.02)  # its eighth-note hi-hats alone would say 150
    assert result.downbeats[0] == pytest.approx(0.3, abs=0.02)
