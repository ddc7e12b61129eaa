"""The drum grid as a picture (PNG or SVG) for a README, an issue or a chat: the same lanes, colours,
bars and beats as the HTML page, each hit a dot sized and shaded by its velocity.

Wrapped like a drum chart: rows of four bars, each with its lane names, one time scale for all
rows, 13 in wide (1300 px at 100 dpi) whatever the length, so dots and text stay a readable size
(11 pt lane names, 14 pt title, dots 5.6-12 pt across); a long song is a taller picture.

Drawn with matplotlib (the optional ``view`` extra: ``pip install 'drumscribe[view]'``) on a bare
``Figure`` with the Agg canvas, so no GUI backend or global pyplot state is touched.
"""

from __future__ import annotations

import io
import math
from typing import Any, Sequence

from drumscribe.errors import DrumscribeError, InputError
from drumscribe.views.lanes import bars as grid_bars
from drumscribe.views.lanes import colour, display_name, lanes
from drumscribe.views.summary import source_name
from drumscribe.views.tab import parse_bars

FORMATS = ("png", "svg")
ROW_BARS = 4  # bars per row, as a drum chart has them per line
ROW_SECONDS = 8.0  # without detected bars: seconds per row
WIDTH_INCHES = 13.0  # 1300 px at 100 dpi: a screen's width, a README's column when scaled
LEFT_INCHES, RIGHT_INCHES = 1.45, 0.25  # lane names on the left of every row
LANE_INCHES = 0.36
ROW_GAP_INCHES = 0.62  # bar numbers above, seconds below each row
TITLE_INCHES = 0.55
FONT, SMALL_FONT, TITLE_FONT = 11, 9.5, 14  # points: readable at 100 % on a screen


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise DrumscribeError("png and svg need matplotlib: pip install 'drumscribe[view]'") from None
    return Figure, FigureCanvasAgg


def dot_area(velocity: int) -> float:
    """A hit's dot, in points squared: 5.6 pt across at velocity 1 up to 12 pt at 127."""
    return 25 + 120 * (velocity / 127) ** 2


def _span(t: Any, bars: str | Sequence[int] | None) -> tuple[list[Any], float, float]:
    """The bars drawn (all, or ``bars="A-B"``), and the seconds they cover."""
    grid = grid_bars(t)
    start, end = 0.0, max(float(t.duration or 0.0), max((e.time for e in t.events), default=0.0) + 0.25)
    chosen = parse_bars(bars) if isinstance(bars, str) else bars
    if not chosen:
        return grid, start, end
    picked = [b for b in grid if chosen[0] <= b.number <= chosen[1]]
    if not picked:
        raise InputError(f"bars {chosen[0]}-{chosen[1]} are outside this transcription (bars {grid[0].number}-{grid[-1].number})")
    after = [b.start for b in grid if b.number == picked[-1].number + 1]
    last = picked[-1]
    end = after[0] if after else last.beats[-1] + (last.beats[-1] - last.beats[0]) / max(1, len(last.beats) - 1)
    return picked, max(0.0, picked[0].start), end


def rows(grid: Sequence[Any], start: float, end: float) -> list[tuple[float, float]]:
    """The (start, end) seconds of each row: ``ROW_BARS`` bars of the grid at a time (a pickup
    before bar 1 rides with the first row), or ``ROW_SECONDS`` without detected bars."""
    starts = [b.start for b in grid if start - 1e-6 <= b.start < end and b.number >= 1][::ROW_BARS]
    if not starts:
        count = max(1, math.ceil((end - start) / ROW_SECONDS - 1e-9))
        starts = [start + i * ROW_SECONDS for i in range(count)]
    starts[0] = min(starts[0], start)
    return list(zip(starts, starts[1:] + [end]))


def render_image(transcription: Any, format: str = "png", *, bars: str | Sequence[int] | None = None, dpi: int = 100) -> bytes:
    """The drum grid of ``transcription`` as PNG or SVG bytes, wrapped into rows of ``ROW_BARS``
    bars like a drum chart; ``bars="5-8"`` draws only those bars."""
    if format not in FORMATS:
        raise InputError(f"image format must be one of {', '.join(FORMATS)}, got {format!r}")
    Figure, FigureCanvasAgg = _matplotlib()
    t = transcription
    grid, start, end = _span(t, bars)
    names = lanes(t) or ["kick"]
    row = {name: len(names) - 1 - i for i, name in enumerate(names)}  # first lane on top
    spans = rows(grid, start, end)
    # a hit a little before a bar line belongs to that bar (played early), as in the tab
    early = 60.0 / float(t.tempo or 120.0) / 8

    row_inches = LANE_INCHES * len(names)
    height = TITLE_INCHES + len(spans) * (row_inches + ROW_GAP_INCHES) + 0.15
    fig = Figure(figsize=(WIDTH_INCHES, height), dpi=dpi)
    FigureCanvasAgg(fig)
    plot_inches = WIDTH_INCHES - LEFT_INCHES - RIGHT_INCHES
    seconds_per_inch = max(b - a for a, b in spans) / plot_inches  # one time scale for every row
    drawn = 0
    for index, (a, b) in enumerate(spans):
        top = TITLE_INCHES + index * (row_inches + ROW_GAP_INCHES) + 0.3  # room for the bar numbers
        ax = fig.add_axes((LEFT_INCHES / WIDTH_INCHES, 1 - (top + row_inches) / height,
                           (b - a) / seconds_per_inch / WIDTH_INCHES, row_inches / height))
        drawn += _draw_row(ax, t, grid, names, row, a, b, early, last=index == len(spans) - 1)
    tempo = f"{t.tempo:.0f} BPM" if t.tempo is not None else "no steady pulse"
    title = f"{source_name(t)}   {tempo}   {drawn} hits"
    fig.text(0.1 / WIDTH_INCHES, 1 - 0.12 / height, title, fontsize=TITLE_FONT, va="top", ha="left", parse_math=False)
    buffer = io.BytesIO()
    from matplotlib import rc_context

    # same input, same bytes: no date, and element ids from a fixed salt instead of a random one
    metadata = {"Date": None} if format == "svg" else {}
    with rc_context({"svg.hashsalt": "drumscribe"}):
        fig.savefig(buffer, format=format, dpi=dpi, metadata=metadata, facecolor="white")
    return buffer.getvalue()


def _draw_row(ax: Any, t: Any, grid: Sequence[Any], names: list[str], row: dict[str, int], start: float, end: float,
              early: float, *, last: bool) -> int:
    """One row of the grid: bar and beat lines, bar numbers, lanes, the hits; how many hits."""
    for bar in grid:
        for i, beat in enumerate(bar.beats):
            if start - 1e-6 <= beat <= end:
                ax.axvline(beat, color="#9aa3b2" if i == 0 else "#e3e6ec", lw=1.2 if i == 0 else 0.8, zorder=0)
        if start - 1e-6 <= bar.start < end:
            ax.text(bar.start, len(names) - 0.45, f" {bar.number}", fontsize=SMALL_FONT, color="#4b5563", va="bottom", ha="left")
    for i in range(len(names)):
        if i % 2:
            ax.axhspan(i - 0.5, i + 0.5, color="#f6f7fa", zorder=-1, lw=0)
    shown = [e for e in t.events if start - early <= e.time < end - early and e.instrument in row]
    if shown:
        from matplotlib.colors import to_rgba

        # velocity as size and opacity, as on the page
        ax.scatter(
            [e.time for e in shown], [row[e.instrument] for e in shown],
            s=[dot_area(e.velocity) for e in shown],
            c=[to_rgba(colour(e.instrument), 0.35 + 0.65 * e.velocity / 127) for e in shown],
            edgecolors="#00000050", linewidths=0.7, zorder=2,
        )
    ax.set_xlim(start - early, end - early)
    ax.set_ylim(-0.5, len(names) - 0.5)
    ax.set_yticks(range(len(names)), [display_name(n) for n in reversed(names)], fontsize=FONT)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=SMALL_FONT, colors="#4b5563")
    if last:
        ax.set_xlabel("seconds", fontsize=SMALL_FONT, color="#4b5563")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    return len(shown)


def render_png(transcription: Any, *, bars: str | Sequence[int] | None = None, dpi: int = 100) -> bytes:
    return render_image(transcription, "png", bars=bars, dpi=dpi)


def render_svg(transcription: Any, *, bars: str | Sequence[int] | None = None) -> bytes:
    return render_image(transcription, "svg", bars=bars)
