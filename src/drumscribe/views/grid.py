"""Hits laid on the detected beat grid, bar by bar: what the tab and the notation both draw.

Each bar is laid on the detected beats (not a fixed tempo, so a drifting band still lines up)
and quantised to 16ths, or to 8th-note triplets when those fit its hits clearly better. Where
the beats run out (before the first, after the last) the grid goes on at the detected tempo.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Sequence

TRIPLET_GAIN = 0.5  # a bar goes triplet only when that halves the quantisation error


@dataclass
class Bar:
    number: int  # 1-based; a pickup before the first downbeat is bar 0
    beats: list[float]  # beat times, plus the time the bar ends
    division: int = 4  # cells per beat: 4 (16ths) or 3 (8th-note triplets)
    hits: list[tuple[int, Any]] = field(default_factory=list)  # (cell, event), in time order

    @property
    def start(self) -> float:
        return self.beats[0]

    @property
    def beat_count(self) -> int:
        return len(self.beats) - 1

    @property
    def cells(self) -> int:
        return self.beat_count * self.division


def beat_grid(beats: Sequence[float], downbeats: Sequence[float], tempo: float, start: float, end: float) -> list[Bar]:
    """Bars covering [start, end]: the detected beats, extended at the tempo where they run out."""
    beats = sorted(float(b) for b in beats)
    period = median([b - a for a, b in zip(beats, beats[1:])]) if len(beats) >= 2 else 60.0 / (tempo if tempo > 0 else 120.0)
    if not beats:
        beats = [float(downbeats[0]) if downbeats else 0.0]
    per_bar = 4
    if len(downbeats) >= 2:
        counts = [sum(1 for b in beats if d0 - period / 4 <= b < d1 - period / 4) for d0, d1 in zip(downbeats, downbeats[1:])]
        per_bar = max(1, int(median(counts)))
    d = min(range(len(beats)), key=lambda i: abs(beats[i] - downbeats[0])) if downbeats else 0
    # make beat 0 a bar line, and reach back far enough for hits before the first downbeat
    while d % per_bar:
        beats.insert(0, beats[0] - period)
        d += 1
    while beats[0] - period / 8 > start:
        beats[0:0] = [beats[0] - period * i for i in range(per_bar, 0, -1)]
        d += per_bar
    while beats[-1] < end + period * per_bar:  # room for a whole bar after the last hit
        beats.append(beats[-1] + period)
    bars = []
    for index in range(0, len(beats) - per_bar, per_bar):
        span = beats[index : index + per_bar + 1]
        if span[-1] - period / 8 > start and span[0] - period / 8 <= end:
            bars.append(Bar(1 + (index - d) // per_bar, span))
    return bars


def position(bar: Bar, t: float) -> float:
    """Where ``t`` falls in ``bar``, in beats from its downbeat (fractional, may be slightly < 0)."""
    j = min(max(bisect.bisect_right(bar.beats, t) - 1, 0), len(bar.beats) - 2)
    a, b = bar.beats[j], bar.beats[j + 1]
    return j + (t - a) / (b - a)


def cell(pos: float, division: int, cells: int) -> tuple[int, float]:
    """The nearest cell to ``pos`` (beats) and how far off it is, in beats."""
    slot = math.floor(pos * division + 0.5)
    return min(max(slot, 0), cells - 1), abs(pos * division - slot) / division


def quantize(transcription: Any) -> list[Bar]:
    """The bars of ``transcription`` with each hit in its cell (16ths, or triplets where they fit)."""
    events = sorted(transcription.events, key=lambda e: e.time)
    if not events:
        return []
    start, end = events[0].time, max(events[-1].time, 0.0)
    grid = beat_grid(transcription.beats, transcription.downbeats, float(transcription.tempo or 0), start, end)
    # each hit belongs to the bar whose span (shifted back half a 16th) contains it
    starts = [bar.start - (bar.beats[1] - bar.beats[0]) / 8 for bar in grid]
    per_bar: list[list[Any]] = [[] for _ in grid]
    for event in events:
        i = bisect.bisect_right(starts, event.time) - 1
        if 0 <= i < len(grid):
            per_bar[i].append(event)
    for bar, hits in zip(grid, per_bar):
        n = bar.beat_count
        err16 = sum(cell(position(bar, e.time), 4, n * 4)[1] ** 2 for e in hits)
        err3 = sum(cell(position(bar, e.time), 3, n * 3)[1] ** 2 for e in hits)
        bar.division = 3 if hits and err3 < err16 * TRIPLET_GAIN else 4
        bar.hits = [(cell(position(bar, e.time), bar.division, bar.cells)[0], e) for e in hits]
    return grid
