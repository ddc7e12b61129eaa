"""What the picture views (html, image) share: lanes top to bottom, their names and colours, and
the bars and beats of the detected grid over the whole recording."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drumscribe.views.grid import beat_grid
from drumscribe.views.tab import ROW_ORDER

NAMES = {
    "crash": "Crash", "ride": "Ride", "hihat_open": "Hi-hat open", "hihat_closed": "Hi-hat closed",
    "hihat_pedal": "Hi-hat pedal", "tom_high": "High tom", "tom_mid": "Mid tom", "tom_low": "Low tom",
    "snare": "Snare", "side_stick": "Side stick", "kick": "Kick",
}
# one hue per family (cymbals gold, hi-hats teal, toms violet, snare red, kick blue): readable on
# white and for the common red-green colour blindness (no pair differs by red/green alone)
COLOURS = {
    "crash": "#c08a00", "ride": "#9a7000", "hihat_open": "#00a3a3", "hihat_closed": "#007f8c",
    "hihat_pedal": "#4f9ea6", "tom_high": "#8e5cd9", "tom_mid": "#7442c8", "tom_low": "#5a2fa8",
    "snare": "#d1343f", "side_stick": "#e0707a", "kick": "#2a5db0",
}
OTHER_COLOUR = "#666666"


@dataclass(frozen=True)
class GridBar:
    number: int  # 1 at the first detected downbeat; 0 or less before it
    beats: tuple[float, ...]  # beat times from the downbeat; the bar ends where the next one starts

    @property
    def start(self) -> float:
        return self.beats[0]


def lanes(transcription: Any) -> list[str]:
    """The instruments present, top to bottom as on a staff (the tab's order)."""
    present = {e.instrument for e in transcription.events}
    return [name for name in ROW_ORDER if name in present] + sorted(present - set(ROW_ORDER))


def display_name(instrument: str) -> str:
    return NAMES.get(instrument, instrument.replace("_", " ").capitalize())


def colour(instrument: str) -> str:
    return COLOURS.get(instrument, OTHER_COLOUR)


def bars(transcription: Any, start: float = 0.0, end: float | None = None) -> list[GridBar]:
    """The bars that overlap [start, end] (default: the whole recording), on the detected beats."""
    t = transcription
    last_hit = max((e.time for e in t.events), default=0.0)
    end = max(t.duration or 0.0, last_hit) if end is None else end
    found = beat_grid(t.beats, t.downbeats, float(t.tempo or 0), start, end)
    return [GridBar(b.number, tuple(b.beats[:-1])) for b in found if b.start <= end]
