"""Standard MIDI files from drum events (mido), laid on a tempo map that follows the detected beats.

Layout: type 1, 480 ticks per beat. Track 0 holds the tempo map and time signatures; the drums
follow on channel 10 (mido ``channel=9``), in one track or one named track per drum.

Tempo map (``tempo="follow"``, the default): a tempo change only where the tempo really changes
(``transcription/tempo.py``): each stretch of steady tempo gets the tempo that fits its detected
beats best, and a new one starts only where holding it would put a detected beat more than a
twelfth of a beat off its MIDI beat. So a steady groove is one tempo, a drummer who speeds up gets
a tempo for each step of the way, and every detected beat stays within a twelfth of a beat of a
MIDI beat, every downbeat that near a bar line; after the last stretch its tempo goes on.
``tempo="fixed"``: one tempo for the whole file, the detected tempo (``Transcription.tempo``).
Each hit keeps its time either way: a reader that converts ticks to seconds through the tempo
map (``mido.tick2second`` segment by segment, as a DAW does) gets the audio time back within one
tick. Two alignments:

- ``audio``: MIDI second 0 is audio second 0, so the file lines up with the song on a DAW
  timeline from 0. The stretch before the first detected beat becomes the whole number of 16ths
  nearest to it at the detected tempo (at least one), at the first stretch's tempo when the
  first beat then lands within the tolerance, else at whatever tempo makes them fit; with the
  beats before the first downbeat they make a short first bar (a pickup, time signature
  n/16, n/8 or n/4), so that the first downbeat falls on a bar line. With ``fixed`` there is no
  pickup: bar lines run from 0 at the one tempo, as a DAW project at that tempo has them.
- ``bar`` (the alignment before tempo maps): the whole performance is shifted later by
  ``midi_offset`` seconds (less than a bar) so that the first downbeat, or without downbeats the
  first beat, falls on a bar line of a 4/4 grid that starts at 0 (the first bar line at or after
  it). MIDI time = audio time + midi_offset.

Ticks are computed from absolute seconds with the tempos exactly as written in the file (whole
microseconds per beat), and each segment's tempo is chosen from where the reader will be, not
where it should be, so rounding never accumulates along the song.
"""

from __future__ import annotations

import bisect
import io
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import mido

from drumscribe.errors import InputError

TICKS_PER_BEAT = 480
BEATS_PER_BAR = 4
NOTE_TICKS = TICKS_PER_BEAT // 8  # a 1/32 note: short, like a drum hit
DRUM_CHANNEL = 9  # channel 10 in 1-based MIDI numbering
MIN_TEMPO, MAX_TEMPO = 20.0, 400.0
MAX_TEMPO_US = 0xFFFFFF  # set_tempo holds 24 bits

ALIGNS = ("audio", "bar")
TRACKS = ("single", "per-instrument")
TEMPOS = ("follow", "fixed")
DEFAULT_ALIGN = "audio"
DEFAULT_TRACKS = "single"
DEFAULT_TEMPO = "follow"

# per-instrument tracks: one per drum (the hi-hat's articulations share the hi-hat's track)
DRUM_TRACKS = (
    ("Kick", ("kick",)),
    ("Snare", ("snare", "side_stick")),
    ("Hi-hat", ("hihat_closed", "hihat_open", "hihat_pedal")),
    ("Tom high", ("tom_high",)),
    ("Tom mid", ("tom_mid",)),
    ("Tom low", ("tom_low",)),
    ("Crash", ("crash",)),
    ("Ride", ("ride",)),
)
TRACK_OF = {name: track for track, names in DRUM_TRACKS for name in names}


def check_options(align: str, tracks: str, tempo: str = DEFAULT_TEMPO) -> None:
    """A one-line ``InputError`` for an unknown alignment, track layout or tempo choice."""
    if align not in ALIGNS:
        raise InputError(f"--midi-align must be one of {', '.join(ALIGNS)}, got {align!r}")
    if tracks not in TRACKS:
        raise InputError(f"--midi-tracks must be one of {', '.join(TRACKS)}, got {tracks!r}")
    if tempo not in TEMPOS:
        raise InputError(f"--midi-tempo must be one of {', '.join(TEMPOS)}, got {tempo!r}")


@dataclass(frozen=True)
class Grid:
    """One tempo for the whole file (the layout before tempo maps; ``--no-beats`` still uses it)."""

    tempo_us: int  # microseconds per quarter note, as written in the file
    offset: float  # seconds added to audio time
    anchor_ticks: int  # tick of the bar line the anchor (first downbeat/beat) sits on

    @property
    def bpm(self) -> float:
        return mido.tempo2bpm(self.tempo_us)

    def ticks(self, seconds: float) -> int:
        return max(0, int(round((seconds + self.offset) * 1e6 * TICKS_PER_BEAT / self.tempo_us)))

    def tempo_map(self) -> "TempoMap":
        return TempoMap(offset=self.offset, ticks=(0,), tempos=(self.tempo_us,), seconds=(0.0,))


def clamp_tempo(tempo: float) -> float:
    return min(max(float(tempo), MIN_TEMPO), MAX_TEMPO) if tempo and tempo > 0 else 120.0


def make_grid(tempo: float, anchor: float | None) -> Grid:
    """A grid at ``tempo`` BPM that puts ``anchor`` seconds on the first bar line at or after it."""
    tempo_us = int(mido.bpm2tempo(clamp_tempo(tempo)))
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


@dataclass(frozen=True)
class TempoMap:
    """Piecewise-constant tempo: segment ``i`` starts at ``ticks[i]`` (MIDI second ``seconds[i]``)."""

    offset: float  # seconds added to audio time (0 when aligned to the audio)
    ticks: tuple[int, ...]
    tempos: tuple[int, ...]  # microseconds per quarter note, as written
    seconds: tuple[float, ...]  # where a reader of the file puts each segment start
    signatures: tuple[tuple[int, int, int], ...] = ((0, BEATS_PER_BAR, 4),)  # (tick, numerator, denominator)

    @classmethod
    def through(cls, points: Sequence[tuple[float, int]], tail_us: int | None, *, offset: float = 0.0,
                signatures: tuple[tuple[int, int, int], ...] = ((0, BEATS_PER_BAR, 4),)) -> "TempoMap":
        """The map through (MIDI second, tick) ``points`` after (0, 0); after the last, ``tail_us``
        (``None``: the last segment's tempo goes on)."""
        ticks, tempos, seconds = [0], [], [0.0]
        for s, t in points:
            if t <= ticks[-1] or s <= seconds[-1]:
                continue  # a beat at 0, or closer than a tick to the previous one: the segment would be empty
            # aim from where the reader is (seconds[-1]), so whole-microsecond rounding never adds up
            us = round((s - seconds[-1]) * 1e6 * TICKS_PER_BEAT / (t - ticks[-1]))
            us = min(max(us, 1), MAX_TEMPO_US)
            tempos.append(us)
            seconds.append(seconds[-1] + (t - ticks[-1]) * us / (1e6 * TICKS_PER_BEAT))
            ticks.append(t)
        tempos.append(tail_us if tail_us is not None else tempos[-1] if tempos else int(mido.bpm2tempo(120)))
        return cls(offset=offset, ticks=tuple(ticks), tempos=tuple(tempos), seconds=tuple(seconds), signatures=signatures)

    def to_ticks(self, audio_seconds: float) -> int:
        s = audio_seconds + self.offset
        i = max(bisect.bisect_right(self.seconds, s) - 1, 0)
        return max(0, self.ticks[i] + int(round((s - self.seconds[i]) * 1e6 * TICKS_PER_BEAT / self.tempos[i])))

    def to_seconds(self, tick: int) -> float:
        """Audio seconds of ``tick`` (the inverse of ``to_ticks``, as a reader of the file computes it)."""
        i = max(bisect.bisect_right(self.ticks, tick) - 1, 0)
        return self.seconds[i] + (tick - self.ticks[i]) * self.tempos[i] / (1e6 * TICKS_PER_BEAT) - self.offset


def _pickup_signature(sixteenths: int) -> tuple[int, int]:
    """A bar of ``sixteenths`` 16ths as a time signature, in the plainest unit that divides it."""
    if sixteenths % 4 == 0:
        return sixteenths // 4, 4
    if sixteenths % 2 == 0:
        return sixteenths // 2, 8
    return sixteenths, 16


def beat_tempo_map(beats: Sequence[float], downbeats: Sequence[float], tempo: float, *,
                   align: str = DEFAULT_ALIGN, midi_offset: float | None = None,
                   tempo_map: str = DEFAULT_TEMPO) -> TempoMap:
    """The tempo map for these beats (see the module docstring): ``tempo_map`` ``"follow"`` (the
    detected beats, a change only where the tempo really changes) or ``"fixed"`` (``tempo``)."""
    check_options(align, DEFAULT_TRACKS, tempo_map)
    beats = sorted(float(b) for b in beats)
    period_us = int(mido.bpm2tempo(clamp_tempo(tempo)))
    if tempo_map == "fixed" or not beats:  # one tempo; "bar" shifts the performance as midi_offset says
        offset = 0.0 if align == "audio" else float(midi_offset) if midi_offset is not None \
            else make_grid(tempo, anchor_of(beats, downbeats)).offset
        return Grid(period_us, offset, 0).tempo_map()
    d = min(range(len(beats)), key=lambda i: abs(beats[i] - downbeats[0])) if len(downbeats) else 0
    if align == "bar":
        grid = make_grid(tempo, beats[d])
        offset, anchor_ticks = grid.offset, grid.anchor_ticks
        if midi_offset is not None:  # the pipeline's choice (bar 1, or bar 2 after a pickup; may be < 0)
            offset = float(midi_offset)
            bar_seconds = BEATS_PER_BAR * period_us / 1e6
            anchor_ticks = max(0, round((beats[d] + offset) / bar_seconds)) * BEATS_PER_BAR * TICKS_PER_BEAT
        points = [(b + offset, anchor_ticks + (i - d) * TICKS_PER_BEAT) for i, b in enumerate(beats)]
        steady = _steady(points)
        return TempoMap.through(steady, None if steady else period_us, offset=offset)
    # audio: the lead-in before the first beat is a whole number of 16ths at the detected tempo,
    # the beats before the first downbeat follow; whatever is not a whole 4/4 bar is a pickup bar
    sixteenth = period_us / 1e6 / 4
    lead = beats[0]
    # a first beat less than half a 16th in (a song that starts on its first beat, give or take the
    # onset's own few ms) is the origin itself: bar 1 starts at 0, no pickup of a 16th at a freak tempo
    lead_16 = round(lead / sixteenth)
    pickup = (lead_16 + 4 * (d % BEATS_PER_BAR)) % (4 * BEATS_PER_BAR)
    first_tick = lead_16 * TICKS_PER_BEAT // 4
    points = [(b, first_tick + i * TICKS_PER_BEAT) for i, b in enumerate(beats)]
    if lead_16 == 0:  # the first beat is at 0 (within half a 16th): the origin stands in for it
        points[0] = (0.0, 0)
    signatures: tuple[tuple[int, int, int], ...] = ((0, BEATS_PER_BAR, 4),)
    if pickup:
        signatures = ((0, *_pickup_signature(pickup)), (pickup * TICKS_PER_BEAT // 4, BEATS_PER_BAR, 4))
    steady = _steady(points)
    return TempoMap.through(steady, None if steady else period_us, offset=0.0, signatures=signatures)


def _steady(points: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """Only the points where the tempo really changes (``tempo.steady_points``), from (0, 0)."""
    from drumscribe.transcription.tempo import steady_points

    kept = points[:1] if points[:1] == [(0.0, 0)] else []  # a first beat at 0 starts the first stretch
    for s, t in points[len(kept):]:
        last_s, last_t = kept[-1] if kept else (0.0, 0)
        if s > last_s and t > last_t:  # a beat before the origin (bar alignment) has nothing to time
            kept.append((s, t))
    return [p for p in steady_points(kept, (0.0, 0), ticks_per_beat=TICKS_PER_BEAT) if p != (0.0, 0)]


def build_midi(
    events: Iterable[tuple],
    timing: Grid | TempoMap,
    *,
    name: str = "drumscribe",
    tracks: str = DEFAULT_TRACKS,
) -> mido.MidiFile:
    """``events``: (audio seconds, note, velocity 1-127) or (..., instrument) for per-instrument tracks."""
    check_options(DEFAULT_ALIGN, tracks)
    tempo_map = timing.tempo_map() if isinstance(timing, Grid) else timing
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    meta: list[tuple[int, mido.MetaMessage]] = [(0, mido.MetaMessage("track_name", name=name))]
    previous = None
    for tick, us in zip(tempo_map.ticks, tempo_map.tempos):
        if us != previous:
            meta.append((tick, mido.MetaMessage("set_tempo", tempo=us)))
            previous = us
    for tick, numerator, denominator in tempo_map.signatures:
        meta.append((tick, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator)))
    meta.sort(key=lambda item: item[0])  # stable: at one tick, the tempo before the signature
    mid.tracks.append(_track(meta))

    hits = sorted((tempo_map.to_ticks(e[0]), int(e[1]), int(min(max(e[2], 1), 127)), e[3] if len(e) > 3 else "") for e in events)
    # absolute (tick, order, message): note_off sorts before note_on on the same tick
    timeline: dict[str, list[tuple[int, int, mido.Message]]] = {}
    next_on: dict[int, int] = {}
    for tick, note, vel, instrument in reversed(hits):
        length = NOTE_TICKS
        if note in next_on:  # never let a note outlast the next hit of the same note, in any track
            length = max(1, min(length, next_on[note] - tick))
        next_on[note] = tick
        track = TRACK_OF.get(instrument, instrument) if tracks == "per-instrument" else "Drums"
        timeline.setdefault(track, []).append((tick, 1, mido.Message("note_on", channel=DRUM_CHANNEL, note=note, velocity=vel)))
        timeline[track].append((tick + length, 0, mido.Message("note_off", channel=DRUM_CHANNEL, note=note, velocity=0)))
    order = [track for track, _ in DRUM_TRACKS] + sorted(set(timeline) - {t for t, _ in DRUM_TRACKS})
    for track in order if tracks == "per-instrument" else ["Drums"]:
        if track not in timeline and tracks == "per-instrument":
            continue
        items = sorted(timeline.get(track, []), key=lambda item: (item[0], item[1], item[2].note))
        mid.tracks.append(_track([(0, mido.MetaMessage("track_name", name=track))] + [(tick, msg) for tick, _, msg in items]))
    return mid


def _track(items: list[tuple[int, mido.Message | mido.MetaMessage]]) -> mido.MidiTrack:
    """Absolute-tick messages (in order) as a track of delta times, closed by end_of_track."""
    track = mido.MidiTrack()
    now = 0
    for tick, msg in items:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def midi_bytes(mid: mido.MidiFile) -> bytes:
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()
