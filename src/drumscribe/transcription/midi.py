"""Standard MIDI files from drum events (mido).

Layout: type 1, 480 ticks per beat; track 0 holds the tempo (from the detected tempo) and a 4/4
time signature, track 1 the drums on channel 10 (mido ``channel=9``) with General MIDI notes.

Alignment: the whole performance is shifted later by ``offset`` seconds (>= 0, less than a bar) so
that the first downbeat (or, without downbeats, the first beat) falls exactly on a bar line; a DAW
then shows the notes on its bar grid. ``offset`` is stored in the JSON as ``midi_offset``: MIDI
time = audio time + midi_offset.

Times are converted from absolute seconds to absolute ticks with the tempo exactly as written
in the file (integer microseconds per beat), and only then to delta times, so rounding never
accumulates along the track.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import mido

TICKS_PER_BEAT = 480
BEATS_PER_BAR = 4
NOTE_TICKS = TICKS_PER_BEAT // 8  # a 1/32 note: short, like a drum hit
DRUM_CHANNEL = 9  # channel 10 in 1-based MIDI numbering
MIN_TEMPO, MAX_TEMPO = 20.0, 400.0


@dataclass(frozen=True)
class Grid:
    """How audio seconds map to ticks."""

    tempo_us: int  # microseconds per quarter note, as written in the file
    offset: float  # seconds added to audio time
    anchor_ticks: int  # tick of the bar line the anchor (first downbeat/beat) sits on

    @property
    def bpm(self) -> float:
        return mido.tempo2bpm(self.tempo_us)

    def ticks(self, seconds: float) -> int:
        return max(0, int(round((seconds + self.offset) * 1e6 * TICKS_PER_BEAT / self.tempo_us)))


def make_grid(tempo: float, anchor: float | None) -> Grid:
    """A grid at ``tempo`` BPM that puts ``anchor`` seconds on the first bar line at or after it."""
    tempo = min(max(float(tempo), MIN_TEMPO), MAX_TEMPO)
    tempo_us = int(mido.bpm2tempo(tempo))
    if anchor is None or anchor <= 0:
        return Grid(tempo_us, 0.0, 0)
    bar_ticks = BEATS_PER_BAR * TICKS_PER_BEAT
    anchor_raw = anchor * 1e6 * TICKS_PER_BEAT / tempo_us
    bars = math.ceil(anchor_raw / bar_ticks - 1e-9)
    anchor_ticks = bars * bar_ticks
    offset = anchor_ticks * tempo_us / (1e6 * TICKS_PER_BEAT) - anchor
    return Grid(tempo_us, offset, anchor_ticks)


def anchor_of(beats: Sequence[float], downbeats: Sequence[float]) -> float | None:
    if len(downbeats):
        return float(downbeats[0])
    if len(beats):
        return float(beats[0])
    return None


def build_midi(
    events: Iterable[tuple[float, int, int]],
    grid: Grid,
    *,
    name: str = "drumscribe",
) -> mido.MidiFile:
    """``events``: (audio seconds, GM note, velocity 1-127)."""
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("track_name", name=name, time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=grid.tempo_us, time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=BEATS_PER_BAR, denominator=4, time=0))
    meta.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks.append(meta)

    hits = sorted((grid.ticks(t), int(note), int(min(max(vel, 1), 127))) for t, note, vel in events)
    # absolute (tick, order, message): note_off sorts before note_on on the same tick
    timeline: list[tuple[int, int, mido.Message]] = []
    next_on: dict[int, int] = {}
    for tick, note, vel in reversed(hits):
        length = NOTE_TICKS
        if note in next_on:  # never let a note outlast the next hit of the same drum
            length = max(1, min(length, next_on[note] - tick))
        next_on[note] = tick
        timeline.append((tick, 1, mido.Message("note_on", channel=DRUM_CHANNEL, note=note, velocity=vel)))
        timeline.append((tick + length, 0, mido.Message("note_off", channel=DRUM_CHANNEL, note=note, velocity=0)))
    timeline.sort(key=lambda item: (item[0], item[1], item[2].note))

    drums = mido.MidiTrack()
    drums.append(mido.MetaMessage("track_name", name="Drums", time=0))
    now = 0
    for tick, _, msg in timeline:
        drums.append(msg.copy(time=tick - now))
        now = tick
    drums.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks.append(drums)
    return mid


def midi_bytes(mid: mido.MidiFile) -> bytes:
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
