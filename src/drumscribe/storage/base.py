"""One storage interface, two backends (S3 and a local folder that mirrors the bucket).

Keys are bucket keys (``uploads/alice/...``) on both backends; every key is checked with
``drumscribe.keys.validate_key`` before it is used, so a hostile key can never escape the
bucket prefix or the local root.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Mapping, Union

Data = Union[bytes, bytearray, memoryview, str, Path, BinaryIO]
"""What ``put`` accepts: bytes, a local path (``str`` or ``Path``), or a readable binary stream."""

MIN_PRESIGN_SECONDS = 1
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 maximum
SHA256_META = "sha256"  # user metadata key holding the hex SHA-256 of the object's bytes


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    sha256: str | None = None  # hex digest when known (head, put, or stored metadata)
    content_type: str | None = None
    storage_class: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class Storage(abc.ABC):
    """Common operations. Implementations: ``S3Storage`` and ``LocalStorage``."""

    name: str  # "s3" or "local"
    bucket: str | None

    @abc.abstractmethod
    def uri(self, key: str = "") -> str:
        """Where a key lives, for display: ``s3://bucket/key`` or ``file:///…/key``."""

    @abc.abstractmethod
    def is_configured(self) -> bool:
        """True when the backend can be used (S3: bucket and credentials; local: always)."""

    @abc.abstractmethod
    def put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store ``data`` under ``key`` atomically (never half-written); records its SHA-256."""

    def put_if_unchanged(
        self,
        key: str,
        data: bytes,
        *,
        etag: str | None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """``put``, only if ``key`` is still the object read with ETag ``etag`` (``None``: only if
        there is none); ``ChangedError`` otherwise, and nothing is written.

        Here the ETag is compared, then the object written: one writer at a time must be ensured
        by the caller (edits lock the key on the local mirror). ``S3Storage`` makes it one
        conditional request (``If-Match``/``If-None-Match``), so two machines cannot both win."""
        from drumscribe.errors import ChangedError, NotFoundError

        try:
            current = self.head(key).etag
        except NotFoundError:
            current = None
        if current != etag:
            raise ChangedError(f"{self.uri(key)} changed since it was read; nothing was written")
        return self.put(key, data, content_type=content_type, metadata=metadata)

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The whole object in memory (for small objects like JSON and MIDI)."""

    @abc.abstractmethod
    def download(self, key: str, dest: str | Path) -> Path:
        """Write the object to ``dest`` (temp file + rename); returns the path written."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object; close it when done (it is a context manager)."""

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo:
        """Size, ETag, modification time, SHA-256 when stored; ``NotFoundError`` if absent."""

    def exists(self, key: str) -> bool:
        from drumscribe.errors import NotFoundError

        try:
            self.head(key)
            return True
        except NotFoundError:
            return False

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects under ``prefix``, lazily, in key order (paginated on S3)."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete one object; deleting a missing object is not an error."""

    @abc.abstractmethod
    def delete_many(self, keys: Iterable[str]) -> list[str]:
        """Delete many objects (batched); returns the keys deleted."""

    @abc.abstractmethod
    def presign(self, key: str, *, expires: int = 3600, method: str = "GET", content_type: str | None = None,
                filename: str | None = None) -> str:
        """A URL that grants temporary GET (or PUT) access; local backend returns a ``file://`` URI.

        ``expires`` must be between 1 second and 7 days (``ValueError``-free: raises ``InvalidKeyError``
        or ``ConfigError`` with one line). ``filename``: for a GET, the name a browser saves the
        download as (S3 answers with that ``Content-Disposition``); a ``file://`` URI has no say."""
