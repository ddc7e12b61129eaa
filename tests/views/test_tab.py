"""The drum tab: bars and beats from the detected grid, 16ths or triplets per bar."""

from __future__ import annotations

import pytest

from drumscribe import render_tab
from drumscribe.errors import InputError
from drumscribe.transcription.result import DrumEvent, Transcription

NOTES = {"hihat_closed": 42, "snare": 38, "kick": 36, "ride": 51, "crash": 49, "tom_high": 48, "tom_low": 43}


def hit(t, instrument, velocity=90):
    return DrumEvent(t, instrument, NOTES[instrument], velocity, 0.9)


def rock_beat(bars=2):
    """120 BPM: 8th-note hi-hat (accent on the beat), snare on 2 and 4, kick on 1, 3 and the 'and' after 3,
    each hit a few ms off the grid as a drummer plays it."""
    events = []
    for bar in range(bars):
        t0 = bar * 2.0
        events += [hit(t0 + i * 0.25 + 0.01, "hihat_closed", 110 if i % 2 == 0 else 80) for i in range(8)]
        events += [hit(t0 + beat * 0.5 - 0.012, "snare") for beat in (1, 3)]
        events += [hit(t0 + t, "kick") for t in (0.0, 1.0, 1.25)]
    return Transcription(
        events=tuple(events), tempo=120.0, beats=tuple(i * 0.5 for i in range(4 * bars)), downbeats=tuple(i * 2.0 for i in range(bars))
    )


ROCK_TAB = """\
     1                2
    |1e&a2e&a3e&a4e&a|1e&a2e&a3e&a4e&a|
HH  |X-x-X-x-X-x-X-x-|X-x-X-x-X-x-X-x-|
SD  |----o-------o---|----o-------o---|
BD  |o-------o-o-----|o-------o-o-----|

x/o hit (cymbal/drum), X/O accent
"""


def test_rock_beat_at_120_bpm():
    assert render_tab(rock_beat()) == ROCK_TAB


def test_bar_range_and_line_wrapping():
    t = rock_beat(bars=6)
    assert render_tab(t, "6-6").splitlines()[0].strip() == "6"
    full = render_tab(t)
    counts = [line for line in full.splitlines() if line.startswith("    |")]
    assert [line.count("|") - 1 for line in counts] == [4, 2]  # 4 bars on the first line, 2 on the second
    with pytest.raises(InputError, match="outside"):
        render_tab(t, "9-12")
    with pytest.raises(InputError, match="3-6"):
        render_tab(t, "three")


def test_swung_bar_is_written_as_triplets():
    events = [hit(i * 0.5 + off, "ride") for i in range(4) for off in (0.0, 1 / 3)]
    tab = render_tab(Transcription(events=tuple(events), tempo=120.0, beats=(0.0, 0.5, 1.0, 1.5), downbeats=(0.0,)))
    assert "    |1&a2&a3&a4&a|" in tab
    assert "RD  |x-xx-xx-xx-x|" in tab


def test_beats_follow_the_detected_grid_not_a_fixed_tempo():
    # the band speeds up: beats 0.5 s apart, then 0.4 s; hits on every beat stay on beats
    beats = (0.0, 0.5, 1.0, 1.5, 2.0, 2.4, 2.8, 3.2)
    events = [hit(b, "snare") for b in beats]
    tab = render_tab(Transcription(events=tuple(events), tempo=130.0, beats=beats, downbeats=(0.0, 2.0)))
    assert "SD  |o---o---o---o---|o---o---o---o---|" in tab


def test_pickup_before_the_first_downbeat_is_bar_zero():
    events = [hit(1.5, "tom_high"), hit(1.75, "tom_low"), hit(2.0, "crash", 120), hit(2.0, "kick", 120)]
    tab = render_tab(Transcription(events=tuple(events), tempo=120.0, beats=(2.0, 2.5, 3.0, 3.5), downbeats=(2.0,)))
    lines = tab.splitlines()
    assert lines[0].split() == ["0", "1"]
    assert "CR  |----------------|X---------------|" in tab
    assert "HT  |------------o---|----------------|" in tab


def test_no_hits():
    assert render_tab(Transcription(events=(), tempo=120.0)) == "(no drum hits)\n"
