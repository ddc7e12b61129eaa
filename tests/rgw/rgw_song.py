"""A short synthesized song for the RGW tests (two bars of a rock beat at 120 BPM, a 5 s WAV)."""

from __future__ import annotations

import functools
import io

import soundfile as sf
from synth import SR, groove, render  # tests/transcription is on the path


@functools.cache
def song_bytes() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, render(groove(2, bpm=120.0, start=0.5), 5.0, SR), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()
