"""A transcription as a drum tab for the terminal: one line per instrument, bars and beats from the
detected grid.

::

         1               2
        |1e&a2e&a3e&a4e&a|1e&a2e&a3e&a4e&a|
    HH  |x-x-x-x-x-x-x-x-|x-x-x-x-x-x-x-x-|
    SD  |----o-------o---|----o-------o---|
    BD  |o-------o-------|o-------o-o-----|

Each bar is laid on the detected beats (not a fixed tempo, so a drifting band still lines up)
and quantised to 16ths, or to 8th-note triplets (``1&a`` counting) when those fit its hits
clearly better. Symbols follow the usual ASCII drum-tab convention: ``x`` a cymbal or hi-hat
hit, ``o`` a drum hit, upper case (``X``/``O``) an accent (velocity >= ``ACCENT``).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from statistics import median
from typing import Any, Sequence

from drumscribe.errors import InputError
from drumscribe.transcription.instruments import INSTRUMENTS

ACCENT = 100  # MIDI velocity from which a hit is drawn as an accent
BARS_PER_LINE = 4
# top to bottom as on a staff: cymbals, hi-hat, toms high to low, snare, kick, hi-hat foot
ROW_ORDER = ("crash", "ride", "hihat_open", "hihat_closed", "tom_high", "tom_mid", "tom_low", "snare", "side_stick", "kick", "hihat_pedal")
CYMBALS = {"crash", "ride", "hihat_open", "hihat_closed", "hihat_pedal"}
TRIPLET_GAIN = 0.5  # a bar goes triplet only when that halves the quantisation error


@dataclass
class Bar:
    number: int  # 1-based; a pickup before the first downbeat is bar 0
    beats: list[float]  # beat times, plus the time the bar ends
    division: int = 4  # cells per beat: 4 (16ths) or 3 (8th-note triplets)

    @property
    def start(self) -> float:
        return self.beats[0]


def parse_bars(text: str | Sequence[int] | None) -> tuple[int, int] | None:
    """``"3-6"``, ``"5"`` or ``(3, 6)`` -> (first, last), 1-based and inclusive."""
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        first, last = text
    else:
        try:
            head, _, tail = text.partition("-")
            first = int(head)
            last = int(tail) if tail else first
        except ValueError:
            raise InputError(f"--bars must look like 3-6 or 5, got {text!r}") from None
    if first < 0 or last < first:
        raise InputError(f"--bars must be a range like 3-6 (first <= last), got {text!r}")
    return int(first), int(last)


def _grid(beats: Sequence[float], downbeats: Sequence[float], tempo: float, start: float, end: float) -> list[Bar]:
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


def _position(bar: Bar, t: float) -> float:
    """Where ``t`` falls in ``bar``, in beats from its downbeat (fractional, may be slightly < 0)."""
    j = min(max(bisect.bisect_right(bar.beats, t) - 1, 0), len(bar.beats) - 2)
    a, b = bar.beats[j], bar.beats[j + 1]
    return j + (t - a) / (b - a)


def _cell(pos: float, division: int, cells: int) -> tuple[int, float]:
    slot = math.floor(pos * division + 0.5)
    return min(max(slot, 0), cells - 1), abs(pos * division - slot) / division


def _symbol(instrument: str, velocity: int) -> str:
    char = "x" if instrument in CYMBALS else "o"
    return char.upper() if velocity >= ACCENT else char


def _count_line(bar: Bar) -> str:
    syllables = "e&a" if bar.division == 4 else "&a"
    return "".join(f"{n % 10}{syllables}" for n in range(1, len(bar.beats)))


def render_tab(transcription: Any, bars: str | Sequence[int] | None = None, *, bars_per_line: int = BARS_PER_LINE) -> str:
    """The drum tab of ``transcription`` (a ``Transcription``), optionally only bars ``"A-B"``."""
    events = sorted(transcription.events, key=lambda e: e.time)
    if not events:
        return "(no drum hits)\n"
    start, end = events[0].time, max(events[-1].time, 0.0)
    grid = _grid(transcription.beats, transcription.downbeats, float(transcription.tempo or 0), start, end)
    # each hit belongs to the bar whose span (shifted back half a 16th) contains it
    starts = [bar.start - (bar.beats[1] - bar.beats[0]) / 8 for bar in grid]
    per_bar: list[list[Any]] = [[] for _ in grid]
    for event in events:
        i = bisect.bisect_right(starts, event.time) - 1
        if 0 <= i < len(grid):
            per_bar[i].append(event)
    for bar, hits in zip(grid, per_bar):
        beats = len(bar.beats) - 1
        err16 = sum(_cell(_position(bar, e.time), 4, beats * 4)[1] ** 2 for e in hits)
        err3 = sum(_cell(_position(bar, e.time), 3, beats * 3)[1] ** 2 for e in hits)
        bar.division = 3 if hits and err3 < err16 * TRIPLET_GAIN else 4
    chosen = parse_bars(bars) if bars is not None and not isinstance(bars, tuple) else bars
    if chosen:
        keep = [i for i, bar in enumerate(grid) if chosen[0] <= bar.number <= chosen[1]]
        if not keep:
            raise InputError(f"bars {chosen[0]}-{chosen[1]} are outside this transcription (bars {grid[0].number}-{grid[-1].number})")
        grid, per_bar = [grid[i] for i in keep], [per_bar[i] for i in keep]
    present = {e.instrument for e in events}
    rows = [name for name in ROW_ORDER if name in present] + sorted(present - set(ROW_ORDER))
    labels = {name: (INSTRUMENTS[name].label if name in INSTRUMENTS else name[:3].upper()) for name in rows}
    width = max(len(v) for v in labels.values()) + 2

    cells: dict[str, list[list[str]]] = {name: [] for name in rows}
    for bar, hits in zip(grid, per_bar):
        n = (len(bar.beats) - 1) * bar.division
        line = {name: ["-"] * n for name in rows}
        loudest: dict[tuple[str, int], int] = {}
        for e in hits:
            slot, _ = _cell(_position(bar, e.time), bar.division, n)
            if e.velocity >= loudest.get((e.instrument, slot), -1):
                loudest[(e.instrument, slot)] = e.velocity
                line[e.instrument][slot] = _symbol(e.instrument, e.velocity)
        for name in rows:
            cells[name].append(line[name])

    out: list[str] = []
    for first in range(0, len(grid), max(1, bars_per_line)):
        chunk = range(first, min(first + bars_per_line, len(grid)))
        numbers = "".join(f"{grid[i].number:<{len(_count_line(grid[i])) + 1}}" for i in chunk)
        out.append((" " * (width + 1) + numbers).rstrip())
        out.append(" " * width + "|" + "|".join(_count_line(grid[i]) for i in chunk) + "|")
        for name in rows:
            out.append(f"{labels[name]:<{width}}|" + "|".join("".join(cells[name][i]) for i in chunk) + "|")
        out.append("")
    legend = "x/o hit (cymbal/drum), X/O accent" + (", bars counted 1&a are 8th-note triplets" if any(b.division == 3 for b in grid) else "")
    out.append(legend)
    return "\n".join(out) + "\n"


def render_summary_and_tab(transcription: Any, bars: str | Sequence[int] | None = None, *, job_id: str | None = None) -> str:
    """What ``drumscribe show JOB`` prints: the job's summary, then its tab."""
    from drumscribe.views.summary import summary_lines

    return "\n".join([*summary_lines(transcription, job_id), "", render_tab(transcription, bars)])
