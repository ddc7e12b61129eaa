"""The 2.0 training data: what a whole-kit performance plays, and the kits it is rendered with."""

import numpy as np
import pytest

from drumscribe.training import render as rd


def performances(whole_kit, n=60, seconds=20.0):
    return [rd.make_performance(np.random.default_rng([9, k]), seconds, whole_kit=whole_kit) for k in range(n)]


def test_whole_kit_performances_put_the_floor_tom_with_the_kick():
    """The unison figure real rock drummers play (floor tom with kick and snare), which 1.x missed."""

    def unison(perfs):
        n = 0
        for ev in perfs:
            kicks = np.array([t for t, r, _ in ev if r == rd.R["kick"]])
            n += sum(1 for t, r, _ in ev if r == rd.R["tom_low"] and len(kicks) and np.min(np.abs(kicks - t)) < 0.015)
        return n

    assert unison(performances(True)) > 3 * max(1, unison(performances(False)))


def test_whole_kit_performances_stay_inside_the_clip_and_keep_velocities_in_range():
    for ev in performances(True, n=30, seconds=12.0):
        assert ev == sorted(ev)
        assert all(0.02 <= t < 12.0 - 0.05 and 0.05 <= v <= 1.0 for t, _, v in ev)


def test_the_earlier_sets_render_exactly_as_before_without_the_flag():
    a = rd.make_performance(np.random.default_rng([3, 7]), 20.0)
    b = rd.make_performance(np.random.default_rng([3, 7]), 20.0, whole_kit=False)
    assert a == b


def test_a_retuned_tom_is_higher_and_shorter_or_lower_and_longer():
    s = np.sin(np.linspace(0, 200 * np.pi, 11025)).astype(np.float32)
    assert len(rd._retune(s, 3.0)) < len(s) < len(rd._retune(s, -3.0))
    assert rd._retune(s, 0.1) is s  # below the rounding step: untouched


def test_the_avl_note_map_plays_every_role_on_the_kits_own_notes():
    assert set(rd.AVL_NOTES) == set(rd.ROLES)
    events = [(0.1 * i, r, 0.8) for i, r in enumerate(range(len(rd.ROLES)))]
    notes = rd.drum_midi(events, 0, np.random.default_rng(0), rd.AVL_NOTES, channel=0)
    assert {n[2] for n in notes} == {0}  # the AVL kits are one melodic-channel preset
    for (_, role, _), note in zip(events, notes):
        assert note[4] in rd.AVL_NOTES[rd.ROLES[role]]


@pytest.mark.skipif(not rd.HYDROGEN_DIR.is_dir(), reason="Debian's hydrogen-drumkits is not installed")
def test_a_mixed_kit_takes_its_pieces_from_several_kits():
    kits = rd.hydrogen_kits()
    sources = set()
    for seed in range(10):
        mix = rd.mixed_kit(kits, np.random.default_rng(seed))
        assert mix.usable
        for role, insts in mix.roles.items():
            sources.add(next(k.name for k in kits if k.roles.get(role) is insts))
    assert len(sources) > 3


def test_a_kick_body_is_a_low_ring_under_the_kicks_only():
    """The 2.1 sets' boomy kicks (labelled kick only): energy below 100 Hz right after each kick,
    silence where only a snare plays."""
    events = [(0.5, rd.R["kick"], 1.0), (1.5, rd.R["snare"], 1.0), (2.5, rd.R["kick"], 0.6)]
    x = rd.kick_body(events, 3.5, np.random.default_rng(4))
    assert len(x) == int(3.5 * rd.SR) and np.max(np.abs(x)) == pytest.approx(1.0, abs=1e-6)

    def energy(t0, t1):
        return float(np.sum(x[int(t0 * rd.SR) : int(t1 * rd.SR)] ** 2))

    assert energy(0.5, 0.6) > 50 * energy(0.0, 0.49)
    assert energy(1.5, 1.6) < 0.01 * energy(0.5, 0.6)
    assert energy(2.5, 2.6) > 0.1 * energy(0.5, 0.6)  # a softer kick rings softer, but rings
    seg = x[int(0.5 * rd.SR) : int(0.9 * rd.SR)]
    spectrum = np.abs(np.fft.rfft(seg))
    freqs = np.fft.rfftfreq(len(seg), 1 / rd.SR)
    assert freqs[np.argmax(spectrum)] < 100
