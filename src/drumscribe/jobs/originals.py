"""A job's original audio: reused when the user already stored the same content, else prepared for storing.

* Deduplicated by content: the same user storing the same bytes again (same SHA-256) reuses the
  upload already there (``storage.uploads.find_upload``: one listing of ``uploads/{user}/``).
* A WAV (or AIFF) of integer PCM is stored as a lossless FLAC of itself (``{name}.wav.flac``):
  the same samples, bit for bit, at about half the size, so a song-length take fits the upload
  limit. The key's hash and the ``source-sha256`` metadata are those of the WAV the user gave.
* The upload limit (``DRUMSCRIBE_MAX_UPLOAD_MB``) applies to what is stored, and is checked here,
  before the (long) transcription starts.

Nothing is stored by ``prepare``; ``store`` sends the prepared file (the caller deletes it again
if the job then fails, see ``jobs.run``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from drumscribe.config import Settings
from drumscribe.storage._common import sha256_file
from drumscribe.storage.base import ObjectInfo, Storage
from drumscribe.storage.uploads import SOURCE_FORMAT_META, _too_big, find_upload, upload
from drumscribe.transcription import audio

FLAC = "flac"


@dataclass(frozen=True)
class Original:
    sha256: str  # of the file the user gave
    filename: str  # the name the user gave
    existing: ObjectInfo | None = None  # an upload with the same content: reused, nothing stored
    payload: Path | None = None  # what ``store`` sends when nothing is reused
    stored_as: str | None = None  # "flac": the stored object is a lossless FLAC of the (WAV) original

    @property
    def stored_name(self) -> str:
        return f"{self.filename}.{FLAC}" if self.stored_as == FLAC else self.filename


def _stored_as(info: ObjectInfo, sha256: str) -> str | None:
    """An existing upload whose bytes are not the original's is a re-encoding (FLAC) of it."""
    return None if info.sha256 == sha256 else FLAC


def prepare(
    local: Path,
    *,
    filename: str,
    storage: Storage,
    settings: Settings,
    user_id: str,
    workdir: Path,
    index: Mapping[str, Iterable[ObjectInfo]] | None = None,
    check_size: bool = True,
    name: str | None = None,
) -> Original:
    """Find this file among the user's uploads, or make the file to store (a FLAC for a PCM WAV) and check its size.

    ``name``: the input as the user named it, for the error message (default: ``local``).
    """
    sha256, _ = sha256_file(local)
    flac = workdir / f"original.{FLAC}"
    # made even when an upload may be reused: its hash recognises a FLAC that lost its metadata in a sync
    # (libFLAC encodes the same samples to the same bytes; another version at worst means one more copy)
    stored_as = FLAC if audio.write_lossless_flac(local, flac) else None
    payload = flac if stored_as else local
    existing = find_upload(sha256, storage=storage, user_id=user_id, index=index,
                           stored_sha256=sha256_file(flac)[0] if stored_as else None)
    if existing is not None:
        return Original(sha256, filename, existing=existing, stored_as=_stored_as(existing, sha256))
    size = payload.stat().st_size
    if check_size and size > settings.max_upload_bytes:  # the limit is on what is stored, checked before transcribing
        shown = name or str(local)
        raise _too_big(f"{shown} (as a lossless FLAC)" if stored_as else shown, size, settings.max_upload_mb)
    return Original(sha256, filename, payload=payload, stored_as=stored_as)


def find_original(
    local: str | os.PathLike,
    *,
    storage: Storage,
    user_id: str,
    settings: Settings | None = None,
    index: Mapping[str, Iterable[ObjectInfo]] | None = None,
) -> ObjectInfo | None:
    """The upload already holding this local file (as given, or as the FLAC a WAV is stored as), or None.

    What a batch calls to know, before any work, whether an input's original is already stored;
    pass ``index`` (``storage.uploads.upload_index``) to list ``uploads/{user}/`` once for all inputs.
    """
    from drumscribe.config import load_settings

    local = Path(local)
    with tempfile.TemporaryDirectory(prefix="drumscribe-") as tmp:
        original = prepare(local, filename=local.name, storage=storage, settings=settings or load_settings(),
                           user_id=user_id, workdir=Path(tmp), index=index, check_size=False)
    return original.existing


def store(original: Original, *, storage: Storage, settings: Settings, user_id: str) -> ObjectInfo:
    """Store the prepared payload (once ``prepare`` found no existing upload)."""
    assert original.payload is not None
    if original.stored_as == FLAC:
        suffix = Path(original.filename).suffix.lstrip(".").lower() or "wav"
        return upload(
            original.payload, storage=storage, settings=settings, user_id=user_id, filename=original.stored_name,
            content_type="audio/flac", source_sha256=original.sha256, metadata={SOURCE_FORMAT_META: suffix},
        )
    return upload(original.payload, storage=storage, settings=settings, user_id=user_id, filename=original.filename)
