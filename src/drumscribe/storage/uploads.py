"""Uploading audio: size limit, content hash, key and content type, then one ``put``.

The size limit is enforced before a single byte is sent: files by ``stat``, streams by counting
while they are hashed into a spool. Hashing streams through fixed-size blocks, so a big file is
never read into memory whole.

Finding an upload by content (``find_upload``): the key carries the first 12 hex digits of the
SHA-256 of the file the user gave (``uploads/{user}/{timestamp}_{hash}_{name}``), so one listing
of ``uploads/{user}/`` (one request per 1,000 uploads of that user, never the whole bucket) finds
the candidates, and a HEAD of each (normally none or one) confirms the full SHA-256. No index
object is kept: nothing can go stale when an upload is deleted, and a batch lists once and passes
the result (``upload_index``) to every lookup. Past ~100,000 uploads per user an index key would
be the next step.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Mapping, Union

from drumscribe import keys
from drumscribe.config import Settings, load_settings
from drumscribe.errors import InputError
from drumscribe.storage._common import AUDIO_TYPES, as_path, chunks, guess_content_type, is_bytes, sha256_file  # noqa: F401
from drumscribe.storage.base import ObjectInfo, Storage

Upload = Union[bytes, bytearray, memoryview, str, os.PathLike, BinaryIO]
SOURCE_SHA256_META = "source-sha256"  # on a lossless re-encoding (FLAC of a WAV): the SHA-256 of the file the user gave
SOURCE_FORMAT_META = "source-format"  # ... and that file's format ("wav")

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
    metadata: Mapping[str, str] | None = None,
    source_sha256: str | None = None,
    force: bool = False,
) -> ObjectInfo:
    """Store audio under ``uploads/{user}/{timestamp}_{hash}_{filename}`` and return its info.

    Content the user already stored (the same SHA-256, or a lossless FLAC of it: ``find_upload``)
    is not stored again unless ``force``: the upload already holding it is returned.
    ``source_sha256``: what is stored is a lossless re-encoding of another file (a FLAC of a WAV);
    the key's hash and the ``source-sha256`` metadata then name that file, so ``find_upload``
    finds it by the content the user has.
    """
    return store_upload(path_or_bytes, storage=storage, settings=settings, user_id=user_id, filename=filename,
                        content_type=content_type, metadata=metadata, source_sha256=source_sha256, force=force)[0]


def store_upload(
    path_or_bytes: Upload,
    *,
    storage: Storage | None = None,
    settings: Settings | None = None,
    user_id: str | None = None,
    filename: str | None = None,
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
    source_sha256: str | None = None,
    force: bool = False,
) -> tuple[ObjectInfo, bool]:
    """``upload``, and whether the content was already stored (True: that upload, nothing was sent)."""
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
        meta = dict(metadata or {})
        if source_sha256:
            meta[SOURCE_SHA256_META] = source_sha256
        storage = storage or _default_storage(settings)
        if not force:
            found = find_upload(source_sha256 or digest, storage=storage, user_id=user, stored_sha256=digest)
            if found is not None:
                return found, True
        key = keys.upload_key(user, name, source_sha256 or digest)
        return storage.put(key, payload, content_type=content_type or guess_content_type(name), metadata=meta or None), False  # type: ignore[arg-type]
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


def upload_index(storage: Storage, user_id: str) -> dict[str, list[ObjectInfo]]:
    """The uploads of one user by the 12-digit hash their keys carry (one listing of ``uploads/{user}/``)."""
    index: dict[str, list[ObjectInfo]] = {}
    for info in storage.list(f"{keys.UPLOADS}/{keys.sanitize_user_id(user_id)}/"):
        parsed = keys.parse_upload_key(info.key)
        if parsed:
            index.setdefault(parsed[2], []).append(info)
    return index


def same_content(info: ObjectInfo, sha256: str, stored_sha256: str | None = None) -> bool:
    """Is this stored upload the file whose SHA-256 is ``sha256`` (the same bytes, or a lossless FLAC of them)?

    ``stored_sha256``: the SHA-256 of the FLAC this file would be stored as. A copy that went
    through ``sync`` keeps only its content hash (not the ``source-sha256`` metadata), so that
    is how it is still recognised.
    """
    return (info.sha256 == sha256 or info.metadata.get(SOURCE_SHA256_META) == sha256
            or (stored_sha256 is not None and info.sha256 == stored_sha256))


def find_upload(
    sha256: str,
    *,
    storage: Storage,
    user_id: str,
    index: Mapping[str, Iterable[ObjectInfo]] | None = None,
    stored_sha256: str | None = None,
) -> ObjectInfo | None:
    """The newest upload of ``user_id`` holding the file with this SHA-256, or None.

    Pass ``index`` (from ``upload_index``) when looking up many files: one listing for all.
    Candidates share the key's 12-digit hash; each is confirmed by a HEAD (its stored SHA-256, or
    the ``source-sha256`` of a FLAC of a WAV, or ``stored_sha256``: see ``same_content``). A candidate that cannot be confirmed is not reused:
    the worst case is one more copy, never the wrong original.
    """
    from drumscribe.errors import NotFoundError

    index = upload_index(storage, user_id) if index is None else index
    for listed in sorted(index.get(sha256[: keys.HASH_CHARS], ()), key=lambda i: i.key, reverse=True):
        try:
            info = storage.head(listed.key)
        except NotFoundError:  # deleted since the listing
            continue
        if same_content(info, sha256, stored_sha256):
            return info
    return None
