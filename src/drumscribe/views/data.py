"""The machine-readable views: the versioned JSON document and the Standard MIDI File."""

from __future__ import annotations

from typing import Any


def render_json(transcription: Any) -> str:
    """``transcription.json`` as stored (schema in docs/transcription.md)."""
    return transcription.to_json() + "\n"


def render_midi(transcription: Any) -> bytes:
    """The Standard MIDI File (the CLI prefers the job's stored ``output.mid`` when there is one)."""
    return transcription.to_midi()
