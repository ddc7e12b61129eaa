"""The local backend: a folder that mirrors the bucket key for key.

The object ``a/b.json`` is the file ``<root>/a/b.json``, so ``drumscribe sync`` can push the
folder as it is. What S3 keeps per object (SHA-256, ETag, content type, user metadata) lives in
a sidecar JSON under ``<root>/.drumscribe/meta/``, named by a hash of the key so that no key can
collide with another key's sidecar. That folder is never listed as objects. A sidecar is trusted
only while the file's size and mtime still match what it recorded; a file changed or dropped in
by hand simply has no sidecar until ``head`` computes one.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

from drumscribe.errors import InvalidKeyError, NotFoundError, StorageError
from drumscribe.keys import validate_key, validate_prefix
from drumscribe.storage._common import (
    DeleteError,
    guess_content_type,
    TMP_SUFFIX,
    as_path,
    atomic_file,
    check_expiry,
    check_metadata,
    download_target,
    check_method,
    chunks,
    is_bytes,
    is_temp_name,
    open_input,
)
from drumscribe.storage.base import SHA256_META, Data, ObjectInfo, Storage

META_DIR = ".drumscribe"  # reserved top-level folder: our sidecars, never an object


class LocalStorage(Storage):
    name = "local"

    def __init__(self, root: str | Path, bucket: str | None = None):
        self.root = Path(root).expanduser().absolute()
        self.bucket = bucket

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    # --- paths -------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file for ``key``, refusing anything that could land outside the root."""
        validate_key(key)
        parts = key.split("/")
        if parts[0] == META_DIR:
            raise InvalidKeyError(f"object keys may not start with {META_DIR}/ (reserved for drumscribe's metadata)")
        if parts[-1].endswith(TMP_SUFFIX):
            raise InvalidKeyError(f"object keys may not end with {TMP_SUFFIX} (reserved for temp files)")
        path = self.root.joinpath(*parts)
        # validate_key already rules out '..'; resolving also catches symlinks that point outside
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InvalidKeyError(f"object key {key!r} resolves outside the local storage root (a symlink?)")
        return path

    def _sidecar(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self.root / META_DIR / "meta" / digest[:2] / f"{digest}.json"

    def uri(self, key: str = "") -> str:
        return (self._path(key) if key else self.root).as_uri()

    def is_configured(self) -> bool:
        return True

    # --- writing -----------------------------------------------------------------------------

    def put(self, key: str, data: Data, *, content_type: str | None = None, metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        path = self._path(key)
        meta = check_metadata(metadata)
        sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
        with atomic_file(path) as fh:
            for block in _blocks(data):
                sha.update(block)
                md5.update(block)
                size += len(block)
                fh.write(block)
        st = path.stat()
        record = {
            "key": key,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            SHA256_META: sha.hexdigest(),
            "etag": md5.hexdigest(),  # what S3 reports for a single-part upload
            "content_type": content_type or guess_content_type(path.name),
            "metadata": meta,
        }
        self._write_sidecar(key, record)
        return self._info(key, st, record)

    def _write_sidecar(self, key: str, record: dict[str, Any]) -> None:
        try:
            with atomic_file(self._sidecar(key)) as fh:
                fh.write(json.dumps(record).encode("utf-8"))
        except StorageError:
            pass  # only a cache: head() recomputes it, so a read-only meta dir is not fatal

    def _read_sidecar(self, key: str, st: os.stat_result) -> dict[str, Any] | None:
        try:
            record = json.loads(self._sidecar(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if record.get("key") != key or record.get("size") != st.st_size or record.get("mtime_ns") != st.st_mtime_ns:
            return None  # the file changed behind our back; its hashes are unknown
        return record

    # --- reading -----------------------------------------------------------------------------

    def _stat(self, key: str) -> tuple[Path, os.stat_result]:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"not found: {key}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not path.is_file():
            raise NotFoundError(f"not found: {key} (it is a folder)")
        return path, st

    def head(self, key: str) -> ObjectInfo:
        path, st = self._stat(key)
        record = self._read_sidecar(key, st)
        if record is None:
            # a file we did not write: hash it once and cache the result
            sha, md5 = hashlib.sha256(), hashlib.md5()
            with self.open(key) as fh:
                for block in chunks(fh):
                    sha.update(block)
                    md5.update(block)
            record = {
                "key": key,
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                SHA256_META: sha.hexdigest(),
                "etag": md5.hexdigest(),
                "content_type": guess_content_type(path.name),
                "metadata": {},
            }
            self._write_sidecar(key, record)
        return self._info(key, st, record)

    def open(self, key: str) -> BinaryIO:
        path, _ = self._stat(key)
        try:
            return open(path, "rb")
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from None

    def get(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def download(self, key: str, dest: str | Path) -> Path:
        dest = download_target(key, dest)
        with self.open(key) as src, atomic_file(dest) as fh:
            for block in chunks(src):
                fh.write(block)
        return dest

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        prefix = validate_prefix(prefix)
        if prefix.split("/")[0] == META_DIR:
            return
        # start at the deepest folder the prefix names instead of walking the whole tree
        folder = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        start = self.root.joinpath(*folder.split("/")[:-1]) if folder else self.root
        root = self.root.resolve()
        if not start.resolve().is_relative_to(root):
            return
        yield from self._walk(start, folder, prefix, root)

    def _walk(self, directory: Path, rel: str, prefix: str, root: Path) -> Iterator[ObjectInfo]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StorageError(f"cannot list {directory}: {exc.strerror or exc}") from None
        items = []
        for entry in entries:
            if (not rel and entry.name == META_DIR) or is_temp_name(entry.name):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)  # never descend through a symlink
                key = rel + entry.name + ("/" if is_dir else "")
                items.append((key.encode("utf-8"), key, entry, is_dir))
            except (OSError, UnicodeEncodeError):
                continue  # vanished, or a name that is not UTF-8: not addressable as a key
        # sorting "dir/" with its trailing slash makes a depth-first walk come out in S3 key order
        items.sort(key=lambda item: item[0])
        for _, key, entry, is_dir in items:
            if is_dir:
                if key.startswith(prefix) or prefix.startswith(key):
                    yield from self._walk(Path(entry.path), key, prefix, root)
                continue
            if not key.startswith(prefix):
                continue
            try:
                validate_key(key)
                if not entry.is_file():
                    continue
                if entry.is_symlink() and not Path(entry.path).resolve().is_relative_to(root):
                    continue
                st = entry.stat()
            except (InvalidKeyError, OSError):
                continue
            yield self._info(key, st, self._read_sidecar(key, st))

    def _info(self, key: str, st: os.stat_result, record: Mapping[str, Any] | None) -> ObjectInfo:
        record = record or {}
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=record.get("etag"),
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=timezone.utc),
            sha256=record.get(SHA256_META),
            content_type=record.get("content_type"),
            metadata=dict(record.get("metadata") or {}),
        )

    # --- deleting ----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            if path.is_file() or path.is_symlink():
                path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot delete {path}: {exc.strerror or exc}") from None
        self._sidecar(key).unlink(missing_ok=True)
        self._prune(path.parent)

    def _prune(self, folder: Path) -> None:
        # S3 has no folders: once its last object is gone, the prefix disappears too
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    def delete_many(self, keys: Iterable[str]) -> list[str]:
        keys = [validate_key(k) for k in keys]
        deleted, errors = [], {}
        for key in keys:
            try:
                self.delete(key)
                deleted.append(key)
            except (StorageError, InvalidKeyError) as exc:
                errors[key] = str(exc)
        if errors:
            raise DeleteError(deleted, errors)
        return deleted

    def presign(self, key: str, *, expires: int = 3600, method: str = "GET", content_type: str | None = None,
                filename: str | None = None) -> str:
        check_expiry(expires)
        check_method(method)
        return self._path(key).as_uri()  # a local file needs no signature; the checks keep parity with S3


def _blocks(data: Data) -> Iterator[bytes]:
    if is_bytes(data):
        yield bytes(data)
        return
    path = as_path(data)
    if path is not None:
        with open_input(path) as fh:
            yield from chunks(fh)
        return
    yield from chunks(data)  # type: ignore[arg-type]
