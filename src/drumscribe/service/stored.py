"""The upload limit in the service: what is *stored* must fit it, as with the CLI.

``drumscribe transcribe`` stores a WAV (or AIFF) of integer PCM as a lossless FLAC of itself
(``jobs.originals``), and the limit (``DRUMSCRIBE_MAX_UPLOAD_MB``) applies to that FLAC: a 53 MB
WAV is stored as an 18.7 MB FLAC and transcribed. The page sends the file as it is, straight to
the bucket, so it gets the same room:

- ``upload_bound``: the most bytes the presigned POST accepts (the hard bound S3, or the app
  without S3, enforces on the bytes sent): the limit, or for a WAV/AIFF name
  ``FLAC_ALLOWANCE`` times it (recorded drums compress to 45-65 % as FLAC);
- ``fit_upload``: before the job runs, an upload over the limit is replaced by its lossless FLAC
  when that fits (the same ``audio.write_lossless_flac`` and upload key as the CLI: hash and
  ``source-sha256`` of the WAV), else the job fails with the CLI's message and the upload is
  deleted. Either way nothing over the limit stays stored. Uploads within the limit are kept as
  sent.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.errors import DrumscribeError
from drumscribe.jobs.run import FLAC_ALLOWANCE  # the room the CLI gives an s3:// WAV, for the same reason
from drumscribe.storage.base import Storage


def flac_candidate(filename: str) -> bool:
    """Whether a file of this name may be stored as a lossless FLAC (WAV, AIFF...)."""
    from drumscribe.transcription.audio import FLAC_SOURCE_EXTENSIONS

    return Path(filename).suffix.lower() in FLAC_SOURCE_EXTENSIONS


def upload_bound(settings: Settings, filename: str) -> int:
    """The most bytes an upload of ``filename`` may send (see the module docstring)."""
    return settings.max_upload_bytes * (FLAC_ALLOWANCE if flac_candidate(filename) else 1)


def fit_upload(storage: Storage, settings: Settings, user_id: str, key: str, filename: str) -> str:
    """The upload to transcribe: ``key`` when it fits the limit, else its lossless FLAC (stored in
    its place; ``key`` is deleted). Over the limit even as FLAC, or not convertible: the CLI's
    one-line ``InputError``, and ``key`` is deleted."""
    from drumscribe.jobs.originals import FLAC, Original, store
    from drumscribe.storage._common import sha256_file
    from drumscribe.storage.uploads import _too_big
    from drumscribe.transcription import audio

    info = storage.head(key)
    if info.size <= settings.max_upload_bytes:
        return key
    try:
        with tempfile.TemporaryDirectory(prefix="drumscribe-") as tmp:
            local = Path(tmp) / keys.sanitize_filename(filename)
            storage.download(key, local)
            flac = Path(tmp) / f"original.{FLAC}"
            if not flac_candidate(filename) or not audio.write_lossless_flac(local, flac):
                raise _too_big(filename, info.size, settings.max_upload_mb)
            size = flac.stat().st_size
            if size > settings.max_upload_bytes:
                raise _too_big(f"{filename} (as a lossless FLAC)", size, settings.max_upload_mb)
            sha256, _ = sha256_file(local)
            stored = store(Original(sha256, filename, payload=flac, stored_as=FLAC), storage=storage, settings=settings,
                           user_id=user_id)
    except DrumscribeError:
        _delete_quietly(storage, key)  # nothing over the limit stays stored
        raise
    _delete_quietly(storage, key)
    return stored.key


def _delete_quietly(storage: Storage, key: str) -> None:
    try:
        storage.delete(key)
    except DrumscribeError:
        pass  # the job's outcome matters more; the user can delete the upload from the page
