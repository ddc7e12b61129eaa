"""The original audio made small enough to live inside a page (``--embed-audio``).

Browsers play MP3, Ogg (Vorbis, Opus) and FLAC as they are: those are embedded unchanged when they
fit. Anything else (WAV, AIFF... ten times larger for the same sound) or anything too large is
decoded and re-encoded as Ogg Vorbis, which Chromium and Firefox play (Safari from 17).
A page is read whole into memory and its data: URI is a third larger than the audio, so past
``MAX_EMBED_BYTES`` we refuse and say how to link the file instead.
"""

from __future__ import annotations

import io
from pathlib import PurePosixPath

from drumscribe.errors import InputError

MAX_EMBED_BYTES = 20 * 1024 * 1024  # ~27 MB of base64: Chromium opens it in about a second
PLAYABLE = {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".flac": "audio/flac"}
VORBIS_COMPRESSION = 0.5  # soundfile's 0 (best quality) .. 1 (smallest): ~110 kb/s for stereo 44.1 kHz


def embeddable_audio(data: bytes, name: str = "") -> tuple[bytes, str]:
    """``(bytes, MIME type)`` of ``data`` (an audio file called ``name``) fit for a data: URI."""
    mime = PLAYABLE.get(PurePosixPath(name).suffix.lower())
    if mime and len(data) <= MAX_EMBED_BYTES:
        return data, mime
    encoded = _to_vorbis(data, name)
    if len(encoded) > MAX_EMBED_BYTES:
        raise InputError(
            f"{name or 'the original'} is too long to embed ({len(encoded) / 1e6:.0f} MB as Ogg Vorbis, "
            f"limit {MAX_EMBED_BYTES // 2**20} MiB); leave out --embed-audio and the page links the file instead"
        )
    return encoded, "audio/ogg"


def _to_vorbis(data: bytes, name: str) -> bytes:
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError or TypeError for non-audio
        raise InputError(f"cannot embed {name or 'the original'}: not audio soundfile can read ({exc})") from None
    samples = samples[:, :2]  # a page plays stereo at most
    peak = float(abs(samples).max(initial=0.0))
    if peak > 1.0:  # float files may exceed full scale; Vorbis would clip them
        samples = samples / peak
    out = io.BytesIO()
    with sf.SoundFile(out, "w", samplerate=rate, channels=samples.shape[1], format="OGG", subtype="VORBIS",
                      compression_level=VORBIS_COMPRESSION) as fh:
        fh.write(samples)
    return out.getvalue()
