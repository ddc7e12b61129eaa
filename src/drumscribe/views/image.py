"""The drum grid as a picture (PNG or SVG) for a README, an issue or a chat: the same lanes, colours,
bars and beats as the HTML page, each hit a dot sized and shaded by its velocity.

Drawn with matplotlib (the optional ``view`` extra: ``pip install 'drumscribe[view]'``) on a bare
``Figure`` with the Agg canvas, so no GUI backend or global pyplot state is touched.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

from drumscribe.errors import DrumscribeError, InputError
from drumscribe.views.lanes import bars as grid_bars
from drumscribe.views.lanes import colour, display_name, lanes
from drumscribe.views.summary import source_name
from drumscribe.views.tab import parse_bars

FORMATS = ("png", "svg")
INCHES_PER_SECOND = 1.2  # 2.4 in per bar at 120 BPM: 16th notes stay apart
MAX_WIDTH_INCHES = 40.0  # longer recordings are squeezed (use bars= to pick a few)
LANE_INCHES = 0.42


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise DrumscribeError("png and svg need matplotlib: pip install 'drumscribe[view]'") from None
    return Figure, FigureCanvasAgg


def render_image(transcription: Any, format: str = "png", *, bars: str | Sequence[int] | None = None, dpi: int = 100) -> bytes:
    """The drum grid of ``transcription`` as PNG or SVG bytes; ``bars="5-8"`` draws only those bars."""
    if format not in FORMATS:
        raise InputError(f"image format must be one of {', '.join(FORMATS)}, got {format!r}")
    Figure, FigureCanvasAgg = _matplotlib()
    t = transcription
    grid = grid_bars(t)
    start, end = 0.0, max(float(t.duration or 0.0), max((e.time for e in t.events), default=0.0) + 0.25)
    chosen = parse_bars(bars) if isinstance(bars, str) else bars
    if chosen:
        picked = [b for b in grid if chosen[0] <= b.number <= chosen[1]]
        if not picked:
            raise InputError(f"bars {chosen[0]}-{chosen[1]} are outside this transcription (bars {grid[0].number}-{grid[-1].number})")
        after = [b.start for b in grid if b.number == picked[-1].number + 1]
        start = max(0.0, picked[0].start)
        end = after[0] if after else picked[-1].beats[-1] + (picked[-1].beats[-1] - picked[-1].beats[0]) / max(1, len(picked[-1].beats) - 1)
    names = lanes(t) or ["kick"]
    row = {name: len(names) - 1 - i for i, name in enumerate(names)}  # first lane on top

    width = min(MAX_WIDTH_INCHES, max(6.0, 1.6 + (end - start) * INCHES_PER_SECOND))
    fig = Figure(figsize=(width, 0.9 + LANE_INCHES * len(names)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((1.3 / width, 0.42 / fig.get_figheight(), 1 - 1.45 / width, 1 - 0.85 / fig.get_figheight()))
    for bar in grid:
        for i, beat in enumerate(bar.beats):
            if start - 1e-6 <= beat <= end:
                ax.axvline(beat, color="#9aa3b2" if i == 0 else "#e3e6ec", lw=1.0 if i == 0 else 0.7, zorder=0)
        if start - 1e-6 <= bar.start < end:
            ax.text(bar.start, len(names) - 0.45, f" {bar.number}", fontsize=8, color="#4b5563", va="bottom", ha="left")
    for i in range(len(names)):
        if i % 2:
            ax.axhspan(i - 0.5, i + 0.5, color="#f6f7fa", zorder=-1, lw=0)
    # a hit a little before a bar line belongs to that bar (played early), as in the tab
    early = 60.0 / float(t.tempo or 120.0) / 8
    shown = [e for e in t.events if start - early <= e.time < end - early and e.instrument in row]
    if shown:
        from matplotlib.colors import to_rgba

        # velocity as size and opacity, as on the page
        ax.scatter(
            [e.time for e in shown], [row[e.instrument] for e in shown],
            s=[18 + 110 * (e.velocity / 127) ** 2 for e in shown],
            c=[to_rgba(colour(e.instrument), 0.35 + 0.65 * e.velocity / 127) for e in shown],
            edgecolors="#00000040", linewidths=0.6, zorder=2,
        )
    ax.set_xlim(start - early, end - early)
    ax.set_ylim(-0.5, len(names) - 0.5)
    ax.set_yticks(range(len(names)), [display_name(n) for n in reversed(names)], fontsize=9)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("seconds", fontsize=8, color="#4b5563")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    tempo = f"{t.tempo:.0f} BPM" if t.tempo is not None else "no steady pulse"
    title = f"{source_name(t)}   {tempo}   {sum(1 for _ in shown)} hits"
    fig.text(0.01, 1 - 0.12 / fig.get_figheight(), title, fontsize=10, va="top", ha="left", parse_math=False)
    buffer = io.BytesIO()
    from matplotlib import rc_context

    # same input, same bytes: no date, and element ids from a fixed salt instead of a random one
    metadata = {"Date": None} if format == "svg" else {}
    with rc_context({"svg.hashsalt": "drumscribe"}):
        fig.savefig(buffer, format=format, dpi=dpi, metadata=metadata, facecolor="white")
    return buffer.getvalue()


def render_png(transcription: Any, *, bars: str | Sequence[int] | None = None, dpi: int = 100) -> bytes:
    return render_image(transcription, "png", bars=bars, dpi=dpi)


def render_svg(transcription: Any, *, bars: str | Sequence[int] | None = None) -> bytes:
    return render_image(transcription, "svg", bars=bars)
