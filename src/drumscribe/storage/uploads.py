"""Uploading audio: size limit, content hash, key and content type, then one ``put``.

The size limit is enforced before a single byte is sent: files by ``stat``, streams by counting
while they are hashed into a spool. Hashing streams through fixed-size blocks, so a big file is
never read into memory whole.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Union

from drumscribe import keys
from drumscribe.config import Settings, load_settings
from drumscribe.errors import InputError
from drumscribe.storage._common import AUDIO_TYPES, as_path, chunks, guess_content_type, is_bytes, sha256_file  # noqa: F401
from drumscribe.storage.base import ObjectInfo, Storage

Upload = Union[bytes, bytearray, memoryview, str, os.PathLike, BinaryIO]

def _too_big(what: str, size: int | None, limit_mb: float) -> InputError:
    hint = "raise DRUMSCRIBE_MAX_UPLOAD_MB to allow bigger files"
    if size is None:  # a stream: we stopped reading at the limit
        return InputError(f"{what} is over the {limit_mb:g} MB upload limit", hint=hint)
    if f"{size / 1048576:.1f}" != f"{limit_mb:.1f}":
        return InputError(f"{what} is {size / 1048576:.1f} MB, over the {limit_mb:g} MB upload limit", hint=hint)
    # too close to the limit for one decimal to show the difference: give bytes
    limit = int(limit_mb * 1048576)
    return InputError(f"{what} is {size} bytes, over the {limit_mb:g} MB ({limit} bytes) upload limit", hint=hint)


def upload(
    path_or_bytes: Upload,
    *,
    storage: Storage | None = None,
    settings: Settings | None = None,
    user_id: str | None = None,
    filename: str | None = None,
    content_type: str | None = None,
) -> ObjectInfo:
    """Store audio under ``uploads/{user}/{timestamp}_{hash}_{filename}`` and return its info."""
    settings = settings or load_settings()
    limit = settings.max_upload_bytes
    user = keys.sanitize_user_id(user_id or settings.user)
    spool = None
    try:
        path = as_path(path_or_bytes)
        if is_bytes(path_or_bytes):
            data = bytes(path_or_bytes)  # type: ignore[arg-type]
            if len(data) > limit:
                raise _too_big("the data", len(data), settings.max_upload_mb)
            digest, size = hashlib.sha256(data).hexdigest(), len(data)
            payload: object = data
            name = filename or "audio"
        elif path is not None:
            size = _checked_size(path, settings)
            digest, size = sha256_file(path)
            if size > limit:  # it grew while we were reading it
                raise _too_big(str(path), size, settings.max_upload_mb)
            payload, name = path, filename or path.name
        else:
            spool, digest, size = _spool(path_or_bytes, settings)  # type: ignore[arg-type]
            payload = spool
            name = filename or Path(str(getattr(path_or_bytes, "name", "") or "audio")).name
        if size == 0:
            raise InputError(f"{filename or path or 'the data'} is empty: nothing to upload")
        key = keys.upload_key(user, name, digest)
        storage = storage or _default_storage(settings)
        return storage.put(key, payload, content_type=content_type or guess_content_type(name))  # type: ignore[arg-type]
    finally:
        if spool is not None:
            spool.close()


def _default_storage(settings: Settings) -> Storage:
    from drumscribe.storage import get_storage

    return get_storage(settings)


def _checked_size(path: Path, settings: Settings) -> int:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a file")
    if st.st_size > settings.max_upload_bytes:
        raise _too_big(str(path), st.st_size, settings.max_upload_mb)
    if not os.access(path, os.R_OK):
        raise InputError(f"cannot read {path}: permission denied")
    return st.st_size


def _spool(stream: BinaryIO, settings: Settings) -> tuple[BinaryIO, str, int]:
    """Copy a stream to a spool (memory, then disk), hashing and counting; stop past the limit."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    digest, size = hashlib.sha256(), 0
    try:
        for block in chunks(stream):
            size += len(block)
            if size > settings.max_upload_bytes:
                raise _too_big(str(getattr(stream, "name", "the stream")), None, settings.max_upload_mb)
            digest.update(block)
            spool.write(block)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, digest.hexdigest(), size  # type: ignore[return-value]
