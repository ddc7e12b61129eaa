"""A transcription as a drum tab for the terminal: one line per instrument, bars and beats from the
detected grid.

::

         1               2
        |1e&a2e&a3e&a4e&a|1e&a2e&a3e&a4e&a|
    HH  |x-x-x-x-x-x-x-x-|x-x-x-x-x-x-x-x-|
    SD  |----o-------o---|----o-------o---|
    BD  |o-------o-------|o-------o-o-----|

Each bar is laid on the detected beats (not a fixed tempo, so a drifting band still lines up)
and quantised (``views.grid``, shared with the notation) to 16ths, or to 8th-note triplets (``1&a`` counting) when those fit its hits
clearly better. Symbols follow the usual ASCII drum-tab convention: ``x`` a cymbal or hi-hat
hit, ``o`` a drum hit, upper case (``X``/``O``) an accent (velocity >= ``ACCENT``).
"""

from __future__ import annotations

from typing import Any, Sequence

from drumscribe.errors import InputError
from drumscribe.transcription.instruments import INSTRUMENTS
from drumscribe.views.grid import Bar, quantize

ACCENT = 100  # MIDI velocity from which a hit is drawn as an accent
BARS_PER_LINE = 4
# top to bottom as on a staff: cymbals, hi-hat, toms high to low, snare, kick, hi-hat foot
ROW_ORDER = ("crash", "ride", "hihat_open", "hihat_closed", "tom_high", "tom_mid", "tom_low", "snare", "side_stick", "kick", "hihat_pedal")
CYMBALS = {"crash", "ride", "hihat_open", "hihat_closed", "hihat_pedal"}


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


def _symbol(instrument: str, velocity: int) -> str:
    char = "x" if instrument in CYMBALS else "o"
    return char.upper() if velocity >= ACCENT else char


def _count_line(bar: Bar) -> str:
    syllables = "e&a" if bar.division == 4 else "&a"
    return "".join(f"{n % 10}{syllables}" for n in range(1, len(bar.beats)))


def render_tab(transcription: Any, bars: str | Sequence[int] | None = None, *, bars_per_line: int = BARS_PER_LINE) -> str:
    """The drum tab of ``transcription`` (a ``Transcription``), optionally only bars ``"A-B"``."""
    events = transcription.events
    if not events:
        return "(no drum hits)\n"
    grid = quantize(transcription)
    chosen = parse_bars(bars) if bars is not None and not isinstance(bars, tuple) else bars
    if chosen:
        keep = [i for i, bar in enumerate(grid) if chosen[0] <= bar.number <= chosen[1]]
        if not keep:
            raise InputError(f"bars {chosen[0]}-{chosen[1]} are outside this transcription (bars {grid[0].number}-{grid[-1].number})")
        grid = [grid[i] for i in keep]
    present = {e.instrument for e in events}
    rows = [name for name in ROW_ORDER if name in present] + sorted(present - set(ROW_ORDER))
    labels = {name: (INSTRUMENTS[name].label if name in INSTRUMENTS else name[:3].upper()) for name in rows}
    width = max(len(v) for v in labels.values()) + 2

    cells: dict[str, list[list[str]]] = {name: [] for name in rows}
    for bar in grid:
        line = {name: ["-"] * bar.cells for name in rows}
        loudest: dict[tuple[str, int], int] = {}
        for slot, e in bar.hits:
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
