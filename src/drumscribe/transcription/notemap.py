"""Note maps: which MIDI note each instrument is written as, for the sampler that will play the file.

A note map is a JSON file (the packaged ones are in ``notemaps/``; copy one and edit it)::

    {
      "name": "my-kit",                      optional
      "layout": "which sampler and version",  optional
      "comment": "text, or a list of lines",  optional
      "notes": {"kick": 36, "snare": 38, ...}
    }

``notes`` maps instrument names (see ``instruments.py``) to notes 0-127; instruments left out
keep their General MIDI note. Anything else is refused with a one-line error naming the problem.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from drumscribe.errors import InputError
from drumscribe.transcription.instruments import INSTRUMENTS

NOTEMAP_DIR = Path(__file__).with_name("notemaps")
DEFAULT_NOTE_MAP = "general-midi"
KEYS = ("name", "layout", "comment", "notes")


@dataclass(frozen=True)
class NoteMap:
    name: str
    notes: Mapping[str, int] = field(default_factory=dict)  # instrument -> note; missing: General MIDI
    layout: str = ""

    def note(self, instrument: str, default: int) -> int:
        if instrument in self.notes:
            return self.notes[instrument]
        return INSTRUMENTS[instrument].note if instrument in INSTRUMENTS else default


def builtin_note_maps() -> list[str]:
    return sorted(p.stem for p in NOTEMAP_DIR.glob("*.json"))


def parse_note_map(doc: Any, source: str) -> NoteMap:
    """A ``NoteMap`` from a decoded JSON document; ``source`` names it in errors."""
    def bad(problem: str) -> InputError:
        return InputError(f"note map {source}: {problem}")

    if not isinstance(doc, Mapping):
        raise bad(f"expected a JSON object with a \"notes\" object, got {type(doc).__name__}")
    unknown = [k for k in doc if k not in KEYS]
    if unknown:
        raise bad(f"unknown key {unknown[0]!r} (allowed: {', '.join(KEYS)})")
    for key in ("name", "layout"):
        if key in doc and not isinstance(doc[key], str):
            raise bad(f"{key!r} must be a string")
    comment = doc.get("comment", "")
    if not (isinstance(comment, str) or (isinstance(comment, list) and all(isinstance(c, str) for c in comment))):
        raise bad("'comment' must be a string or a list of strings")
    notes = doc.get("notes")
    if not isinstance(notes, Mapping):
        raise bad("missing the \"notes\" object (instrument name -> MIDI note)")
    for instrument, note in notes.items():
        if instrument not in INSTRUMENTS:
            raise bad(f"unknown instrument {instrument!r} (known: {', '.join(INSTRUMENTS)})")
        if isinstance(note, bool) or not isinstance(note, int) or not 0 <= note <= 127:
            raise bad(f"note for {instrument!r} must be an integer 0-127, got {note!r}")
    return NoteMap(name=doc.get("name") or source, notes=dict(notes), layout=doc.get("layout", ""))


def load_note_map(spec: str | os.PathLike | Mapping | NoteMap | None = None) -> NoteMap:
    """A packaged map by name (``general-midi``, ``superior-drummer-3``...), a JSON file, or a dict."""
    if spec is None:
        spec = DEFAULT_NOTE_MAP
    if isinstance(spec, NoteMap):
        return spec
    if isinstance(spec, Mapping):
        return parse_note_map(spec, "(dict)")
    text = os.fspath(spec)
    path = Path(text)
    if text in builtin_note_maps() and not path.exists():
        path = NOTEMAP_DIR / f"{text}.json"
    elif not path.exists():
        raise InputError(f"unknown note map {text!r}: not a file, and not one of {', '.join(builtin_note_maps())}")
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"note map {text}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise InputError(f"note map {text}: not valid JSON ({getattr(exc, 'msg', exc)} at line {getattr(exc, 'lineno', '?')})") from None
    return parse_note_map(doc, text)
