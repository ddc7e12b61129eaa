"""Bar 1 of the MIDI and of the tab is the first downbeat; a hit at 0.000 s is found; no invented tempo.

The grooves are synthesized with a known bar grid: 120 BPM, 4/4, kick on 1 and 3, snare on 2 and 4,
hi-hats on every eighth note, the first bar starting at exactly 0.000 s.
"""

from __future__ import annotations

import io

import mido
import numpy as np
import pytest

from drumscribe.transcription import midi
from drumscribe.transcription.pipeline import transcribe
from drumscribe.views.tab import render_tab
from synth import SR, groove, render

BAR_TICKS = midi.BEATS_PER_BAR * midi.TICKS_PER_BEAT


def kick_ticks(t, align="bar") -> list[int]:
    """Absolute ticks of the kick notes in the transcription's MIDI file."""
    song = mido.MidiFile(file=io.BytesIO(t.to_midi(align=align)))
    ticks, now = [], 0
    for msg in song.tracks[1]:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0 and msg.note == 36:
            ticks.append(now)
    return ticks


def bar_lines(t) -> list[int]:
    """Ticks where the audio-aligned file's time signatures start (a pickup bar first, if any)."""
    song = mido.MidiFile(file=io.BytesIO(t.to_midi(align="audio")))
    found, now = [], 0
    for msg in song.tracks[0]:
        now += msg.time
        if msg.type == "time_signature":
            found.append((now, msg.numerator, msg.denominator))
    return found


def ms_to_ticks(ms: float, bpm: float = 120.0) -> int:
    return round(ms / 1000 * bpm / 60 * midi.TICKS_PER_BEAT)


@pytest.fixture(scope="module")
def groove_from_zero(real_model):
    hits = groove(8, bpm=120.0, start=0.0)
    return hits, transcribe(render(hits, 17.0, SR), sample_rate=SR, model=real_model)


def test_a_hit_at_zero_seconds_is_found(groove_from_zero):
    _, t = groove_from_zero
    first = [e for e in t.events if e.time < 0.03]
    assert {"kick", "hihat_closed"} <= {e.instrument for e in first}, t.events[:4]


def test_bar_one_of_the_midi_starts_on_the_first_kick(groove_from_zero):
    _, t = groove_from_zero
    assert t.tempo == pytest.approx(120.0, rel=0.01)
    assert t.downbeats[0] == pytest.approx(0.0, abs=0.02)
    ticks = kick_ticks(t, "bar")
    assert ticks[0] == 0  # bar 1, beat 1: no empty bar, no half-bar shift
    assert abs(ticks[2] - BAR_TICKS) <= ms_to_ticks(10)  # kick on 1 and 3: the third kick opens bar 2, at 120 BPM
    # every kick on beat 1 or 3 of a bar (within a 32nd note)
    on_grid = [(tick % BAR_TICKS) / midi.TICKS_PER_BEAT for tick in ticks]
    assert all(min(abs(b - 0), abs(b - 2), abs(b - 4)) < 0.125 for b in on_grid), on_grid
    # the default, audio-aligned file: MIDI time = audio time, and still 4/4 from bar 1 at 0 (no
    # pickup bar), its first kick on beat 1 within 10 ms and every kick on beat 1 or 3
    audio = kick_ticks(t, "audio")
    assert bar_lines(t) == [(0, 4, 4)]
    assert audio[0] <= ms_to_ticks(10)
    on_grid = [(tick % BAR_TICKS) / midi.TICKS_PER_BEAT for tick in audio]
    assert all(min(abs(b - 0), abs(b - 2), abs(b - 4)) < 0.125 for b in on_grid), on_grid


def test_bar_one_of_the_tab_starts_on_the_first_kick(groove_from_zero):
    _, t = groove_from_zero
    tab = render_tab(t, "1")
    lines = tab.splitlines()
    assert lines[0].split() == ["1"]  # no pickup bar 0
    kick = next(line for line in lines if line.startswith("BD"))
    snare = next(line for line in lines if line.startswith("SD"))
    assert kick.lower() == "bd  |o-------o-------|"  # upper case marks accents
    assert snare.lower() == "sd  |----o-------o---|"


def test_a_pickup_beat_gets_a_pickup_bar(real_model):
    # one snare on the last beat of a bar before the groove: bar 1 is the pickup, the first kick opens bar 2
    hits = [(0.0, "snare", 0.8)] + groove(8, bpm=120.0, start=0.5)
    t = transcribe(render(hits, 17.5, SR), sample_rate=SR, model=real_model)
    assert t.downbeats[0] == pytest.approx(0.5, abs=0.02)
    ticks = kick_ticks(t, "bar")
    assert abs(ticks[0] - BAR_TICKS) <= 10  # bar 2, beat 1 (within 10 ms)
    # audio-aligned: a one-beat pickup bar (1/4), then 4/4 from the first kick
    (pickup_tick, *pickup), (bar_two, *four_four) = bar_lines(t)
    assert pickup_tick == 0 and pickup == [1, 4] and four_four == [4, 4]
    assert abs(kick_ticks(t, "audio")[0] - bar_two) <= ms_to_ticks(10)
    assert render_tab(t).splitlines()[0].split()[:2] == ["0", "1"]  # the tab numbers the pickup bar 0


@pytest.mark.parametrize("seconds", [0.1, 3.0])
def test_silence_and_a_tenth_of_a_second_have_no_tempo(seconds, real_model):
    t = transcribe(np.zeros(int(seconds * SR), np.float32), sample_rate=SR, model=real_model)
    assert t.tempo is None and t.beats == () and t.downbeats == () and t.midi_offset == 0.0
    assert '"tempo": null' in t.to_json()
    assert mido.MidiFile(file=io.BytesIO(t.to_midi())).tracks  # still a valid (empty) MIDI file


def test_a_clip_shorter_than_the_network_context_is_transcribed(real_model):
    # 0.1 s holds 10 frames; the network looks 33 frames each way
    assert real_model.context_frames > 10
    clip = render([(0.0, "kick", 1.0)], 0.1, SR)
    clip *= np.sqrt(np.linspace(1.0, 0.0, len(clip)))  # faded out: a hard cut of a ringing kick is a click
    t = transcribe(clip, sample_rate=SR, model=real_model)
    assert [e.instrument for e in t.events] == ["kick"] and t.tempo is None


def test_two_hits_and_noise_have_no_tempo(real_model):
    two_hits = render([(0.5, "snare", 1.0), (4.0, "kick", 1.0)], 6.0, SR)
    noise = (np.random.default_rng(0).standard_normal(5 * SR) * 0.1).astype(np.float32)  # sets off "crashes"
    for signal in (two_hits, noise):
        t = transcribe(signal, sample_rate=SR, model=real_model)
        assert t.tempo is None and t.beats == () and t.downbeats == ()
