"""Where the tempo really changes (transcription/tempo.py): stretches of steady tempo through the
detected beats, as (seconds, tick) points for the MIDI tempo map."""

from __future__ import annotations

import random

import pytest

from drumscribe.transcription.tempo import TOLERANCE, steady_points

TPB = 480


def points(beats, first_tick=TPB):
    return [(b, first_tick + i * TPB) for i, b in enumerate(beats)]


def tempos(anchors, origin=(0.0, 0)):
    """BPM of each stretch between the anchors."""
    out, (s0, t0) = [], origin
    for s, t in anchors:
        out.append(60 * (t - t0) / TPB / (s - s0))
        s0, t0 = s, t
    return out


def wobbly(bpm, n, start, jitter, seed=1):
    rng = random.Random(seed)
    return [start + i * 60 / bpm + rng.uniform(-jitter, jitter) for i in range(n)]


def test_a_steady_drummer_is_one_stretch_however_the_beats_wobble():
    beats = wobbly(100, 40, start=0.6, jitter=0.015)
    anchors = steady_points(points(beats))
    assert len(anchors) == 1 and tempos(anchors) == [pytest.approx(100, abs=0.3)]
    assert anchors[0][1] == points(beats)[-1][1]  # the stretch runs to the last beat


def test_a_single_stray_beat_is_a_slip_not_a_change():
    beats = [0.5 + 0.5 * i for i in range(24)]
    beats[11] += 0.09  # a beat tracked 90 ms late (a fifth of a beat), its neighbours on time
    assert tempos(steady_points(points(beats))) == [pytest.approx(120, abs=0.1)]
    beats[12] += 0.09  # two in a row: the drummer really is elsewhere
    assert len(steady_points(points(beats))) > 1


def test_a_drummer_who_speeds_up_gets_a_tempo_for_each_step():
    beats, t = [], 0.6  # a beat at 100 BPM after 0
    for bpm in [100] * 8 + [100 + 20 * i / 31 for i in range(32)] + [120] * 16:
        beats.append(t)
        t += 60 / bpm
    bpms = tempos(steady_points(points(beats)))
    assert 3 <= len(bpms) <= 6 and bpms == sorted(bpms)
    assert bpms[0] == pytest.approx(100, abs=1) and bpms[-1] == pytest.approx(120, abs=1.5)


def test_every_beat_stays_within_the_tolerance_of_its_stretch():
    rng = random.Random(4)
    beats, t = [], 0.3
    for _ in range(300):  # a drummer who drifts between 110 and 130 and back
        beats.append(t + rng.uniform(-0.01, 0.01))
        t += 60 / (120 + 10 * ((len(beats) // 50) % 2 * 2 - 1))
    pts = points(beats)
    anchors = steady_points(pts)
    starts = [(0.0, 0)] + anchors
    for (s0, t0), (s1, t1) in zip(starts, anchors):
        period = (s1 - s0) / (t1 - t0) * TPB
        inside = [(s, t) for s, t in pts if t0 < t < t1]
        off = [abs(s - (s0 + (t - t0) / TPB * period)) / period for s, t in inside]
        strays = [o > TOLERANCE for o in off]
        assert not any(a and b for a, b in zip(strays, strays[1:]))  # at most a stray beat here and there
    assert len(anchors) < len(beats) / 10


def test_the_lead_in_joins_the_first_stretch_only_when_it_fits():
    # 120 BPM from 0.74 s: the 6 sixteenths before the first beat take 0.75 s at 120, 10 ms off: one tempo
    assert len(steady_points(points([0.74 + 0.5 * i for i in range(16)], first_tick=720))) == 1
    # from 0.70 s the 6 sixteenths are 50 ms (a tenth of a beat) off: the lead-in keeps a tempo of its own
    anchors = steady_points(points([0.70 + 0.5 * i for i in range(16)], first_tick=720))
    assert anchors[0] == (0.70, 720) and tempos(anchors) == [pytest.approx(128.57, abs=0.01), pytest.approx(120)]
