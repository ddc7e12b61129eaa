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
from typing import Any, Iterable, Mapping

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
    sha256: str | None = None,
    stop: Any = None,
) -> Original:
    """Find this file among the user's uploads, or make the file to store (a FLAC for a PCM WAV) and check its size.

    ``name``: the input as the user named it, for the error message (default: ``local``).
    ``sha256``: the file's SHA-256 when the caller has it (a job reads its input's bytes once).
    ``stop``: a ``threading.Event`` that ends the FLAC encoding early (the job was interrupted).
    """
    sha256 = sha256 or sha256_file(local)[0]
    flac = workdir / f"original.{FLAC}"
    # made even when an upload may be reused: its hash recognises a FLAC that lost its metadata in a sync
    # (libFLAC encodes the same samples to the same bytes; another version at worst means one more copy)
    stored_as = FLAC if audio.write_lossless_flac(local, flac, stop=stop) else None
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


# FLAC frames its samples verbatim when prediction does not pay, so it is never much bigger than
# the PCM it encodes: a few bytes of frame header per block of 4096 samples, plus its metadata
FLAC_GROWTH, FLAC_METADATA = 1.01, 64 * 1024


def surely_fits(local: Path, settings: Settings) -> bool:
    """Whatever ``prepare`` makes of ``local`` (the file itself, or a FLAC of it) is within the upload limit."""
    try:
        return local.stat().st_size * FLAC_GROWTH + FLAC_METADATA <= settings.max_upload_bytes
    except OSError:
        return False


class Preparing:
    """``prepare`` on a thread while the caller transcribes: the FLAC is encoded during the network's work.

    libsndfile releases the GIL while it encodes, so on a machine with a spare core the original
    costs no wall time (the CPU time is the same). Only an input that surely fits the upload
    limit (``surely_fits``) is prepared alongside; a bigger one is prepared first, so a file that
    cannot be stored is refused before it is transcribed. ``check`` (the pipeline's progress
    callback) raises the preparation's error as soon as it is known. ``original``: already known
    (an upload used as is): nothing to prepare.
    """

    def __init__(self, original: Original | None, local: Path, **prepare_args):
        import threading

        self._original, self._local, self._args = original, local, prepare_args
        self._pool = self._future = None
        self._stop = threading.Event()

    def __enter__(self) -> "Preparing":
        if self._original is None and not surely_fits(self._local, self._args["settings"]):
            self._original = prepare(self._local, **self._args)  # may not fit: know it before transcribing
        elif self._original is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drumscribe-original")
            self._future = self._pool.submit(prepare, self._local, stop=self._stop, **self._args)
        return self

    def check(self, *_progress: float) -> None:
        if self._future is not None and self._future.done():
            self._future.result()

    def result(self) -> Original:
        return self._original if self._future is None else self._future.result()

    def __exit__(self, exc_type, *_exc) -> None:
        if exc_type is not None:
            self._stop.set()  # the job failed or was interrupted: its original is not needed, stop encoding it
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # the encoder writes into the job's temp folder: let it stop first


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
            content_type="audio/flac", source_sha256=original.sha256, metadata={SOURCE_FORMAT_META: suffix}, force=True,
        )  # force: ``prepare`` looked for the content already
    return upload(original.payload, storage=storage, settings=settings, user_id=user_id, filename=original.filename, force=True)
