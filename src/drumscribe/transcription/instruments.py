"""The drum instruments drumscribe knows: names, General MIDI notes, evaluation classes.

A model's output classes are instrument names from this table (a model may merge several into
one output, e.g. a single "tom" output played as ``tom_mid``). ``EVAL_CLASS`` maps each
instrument to the five classes used in drum-transcription evaluation (KD, SD, HH, TT, CY) or
OT for instruments the benchmarks count as "other" (side stick).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    name: str
    note: int  # General MIDI percussion key (channel 10)
    eval_class: str  # KD SD HH TT CY OT
    label: str  # short label for tabs and tables


INSTRUMENTS: dict[str, Instrument] = {
    i.name: i
    for i in [
        Instrument("kick", 36, "KD", "BD"),
        Instrument("side_stick", 37, "OT", "SS"),
        Instrument("snare", 38, "SD", "SD"),
        Instrument("hihat_closed", 42, "HH", "HH"),
        Instrument("hihat_pedal", 44, "HH", "HP"),
        Instrument("hihat_open", 46, "HH", "HO"),
        # a kit's high rack tom, second rack tom and floor tom: GM Hi-Mid, Low and High Floor Tom
        Instrument("tom_low", 43, "TT", "LT"),
        Instrument("tom_mid", 45, "TT", "MT"),
        Instrument("tom_high", 48, "TT", "HT"),
        Instrument("crash", 49, "CY", "CR"),
        Instrument("ride", 51, "CY", "RD"),
    ]
}

BY_NOTE: dict[int, Instrument] = {i.note: i for i in INSTRUMENTS.values()}
EVAL_CLASSES = ("KD", "SD", "HH", "TT", "CY")


def instrument(name: str) -> Instrument:
    try:
        return INSTRUMENTS[name]
    except KeyError:
        raise ValueError(f"unknown instrument {name!r}; known: {', '.join(INSTRUMENTS)}") from None
