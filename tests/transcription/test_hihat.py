"""Open or closed hi-hat: a hit that still rings 80 ms after its attack is played as an open hat."""

from __future__ import annotations

import numpy as np
from synth import SR, groove, render

from drumscribe.transcription.hihat import OPEN_RATIO, SUSTAIN_LAG, open_hits, play_open_hats, split


def _decay(curve: np.ndarray, frame: int, peak: float, tau_frames: float, length: int) -> None:
    t = np.arange(length)
    curve[frame : frame + length] += peak * np.exp(-t / tau_frames)


def test_a_ringing_hit_is_open_a_damped_one_closed():
    curve = np.full(200, 0.01)
    _decay(curve, 20, 1.0, 2.0, 60)  # closed: gone within a few frames
    _decay(curve, 100, 1.0, 30.0, 60)  # open: still most of it 80 ms later
    assert list(open_hits(curve, [20, 100])) == [False, True]
    assert list(open_hits(curve, [100, 20])) == [True, False]  # any order in, same order out


def test_a_crash_ringing_underneath_does_not_open_every_hat():
    curve = 0.8 * np.exp(-np.arange(300) / 400.0)  # a long crash from frame 0
    for f in (50, 75, 100, 125):
        _decay(curve, f, 0.5, 2.0, 40)
    assert not open_hits(curve, [50, 75, 100, 125]).any()


def test_the_next_hat_shortens_the_look_and_a_too_close_one_means_closed():
    curve = np.full(200, 0.01)
    _decay(curve, 50, 1.0, 30.0, 5)  # open hat, closed by the pedal...
    _decay(curve, 55, 1.0, 2.0, 40)  # ...with the next hit 5 frames later: only 3 frames to judge
    assert list(open_hits(curve, [50, 55])) == [True, False]
    curve2 = np.full(200, 0.01)
    _decay(curve2, 50, 1.0, 30.0, 4)
    _decay(curve2, 54, 1.0, 2.0, 40)  # 4 frames: fewer than 3 left after the attack -> closed
    assert list(open_hits(curve2, [50, 54])) == [False, False]


def test_edges_and_silence():
    assert open_hits(np.zeros(0), [3]).tolist() == [False]
    assert open_hits(np.ones(50), []).tolist() == []
    assert open_hits(np.zeros(100), [10, 40]).tolist() == [False, False]  # nothing rises: closed
    curve = np.full(30, 0.01)
    _decay(curve, 25, 1.0, 30.0, 5)
    assert open_hits(curve, [25]).tolist() == [False]  # too close to the end to judge


def test_split_renames_only_ringing_closed_hats():
    curve = np.full(200, 0.01)
    _decay(curve, 20, 1.0, 2.0, 60)
    _decay(curve, 100, 1.0, 30.0, 60)
    names = split(["kick", "hihat_closed", "snare", "hihat_closed"], [100, 20, 60, 100], curve)
    assert names == ["kick", "hihat_closed", "snare", "hihat_open"]
    assert SUSTAIN_LAG == 8 and 0 < OPEN_RATIO < 1


def test_transcribed_open_hats_are_note_46(real_model):
    """A rock beat whose 'and' of 4 is an open hat, through the whole pipeline and packaged model."""
    from drumscribe.transcription.pipeline import transcribe

    hits = []
    for time, name, gain in groove(8, bpm=120.0, start=0.5):
        bar_pos = round((time - 0.5) / 0.25) % 8
        hits.append((time, "hihat_open" if name == "hihat_closed" and bar_pos == 7 else name, gain))
    result = transcribe(render(hits, 18.0, SR), SR, beats=False)
    hats = [e for e in result.events if e.note in (42, 46)]
    truth = {round(t, 3): name for t, name, _ in hits if name.startswith("hihat")}

    def called(t):
        near = [e for e in hats if abs(e.time - t) < 0.03]
        return near[0].instrument if near else None

    opens = [called(t) for t, name in truth.items() if name == "hihat_open"]
    closed = [called(t) for t, name in truth.items() if name == "hihat_closed"]
    assert opens.count("hihat_open") >= len(opens) - 1, opens
    assert closed.count("hihat_closed") >= len(closed) - 2, closed
    assert all(e.note == 46 for e in result.events if e.instrument == "hihat_open")


def test_only_a_shared_hihat_output_is_split():
    curve = np.full(200, 0.01)
    _decay(curve, 100, 1.0, 30.0, 60)  # rings: open
    strength = np.stack([np.zeros(200), curve], axis=1)
    names, frames = ["kick", "hihat_closed"], [50, 100]
    assert play_open_hats(names, frames, strength, ["kick", "hihat_closed"]) == ["kick", "hihat_open"]
    # a model with its own open-hat output decides itself; a model without hi-hat has nothing to split
    assert play_open_hats(names, frames, strength, ["kick", "hihat_closed", "hihat_open"]) == names
    assert play_open_hats(["kick"], [50], strength[:, :1], ["kick"]) == ["kick"]
