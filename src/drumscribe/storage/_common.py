"""Helpers both backends share, so they validate and hash exactly the same way."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import re
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping

from drumscribe.errors import ConfigError, InputError, InvalidKeyError, StorageError
from drumscribe.storage.base import MAX_PRESIGN_SECONDS, MIN_PRESIGN_SECONDS, SHA256_META, Data

CHUNK = 1024 * 1024

# mimetypes' tables vary by platform (and miss some of these): audio types we rely on, fixed.
AUDIO_TYPES = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".wave": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/opus",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
    ".aifc": "audio/aiff",
    ".m4a": "audio/mp4",
    ".mid": "audio/midi",
    ".midi": "audio/midi",
}


def guess_content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return AUDIO_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


_META_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def check_expiry(expires: object) -> int:
    """Presigned URLs live 1 second to 7 days (the SigV4 maximum); anything else is one line."""
    if isinstance(expires, bool) or not isinstance(expires, int):
        try:
            expires = int(str(expires))
        except ValueError:
            raise ConfigError(f"expiry must be a whole number of seconds, got {expires!r}") from None
    if not MIN_PRESIGN_SECONDS <= expires <= MAX_PRESIGN_SECONDS:
        raise ConfigError(
            f"expiry must be between {MIN_PRESIGN_SECONDS} second and 7 days ({MAX_PRESIGN_SECONDS} s), got {expires}"
        )
    return expires


def check_method(method: str) -> str:
    upper = str(method).upper()
    if upper not in ("GET", "PUT"):
        raise ConfigError(f"presigned URLs are GET or PUT, not {method!r}")
    return upper


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata must survive S3 unchanged: lower-case ASCII names, printable ASCII values.

    S3 sends metadata as HTTP headers, so it lower-cases names and mangles non-ASCII values;
    refusing them here keeps both backends returning exactly what was stored.
    """
    clean: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if not _META_NAME.match(str(name)):
            raise InvalidKeyError(f"metadata name {name!r} must be lower-case letters, digits, '-' or '_'")
        if name == SHA256_META:
            continue  # always computed from the bytes, never taken from the caller
        text = str(value)
        if not text.isascii() or not text.isprintable():
            raise InvalidKeyError(f"metadata value for {name!r} must be printable ASCII")
        clean[str(name)] = text
    return clean


def is_bytes(data: Data) -> bool:
    return isinstance(data, (bytes, bytearray, memoryview))


def as_path(data: Data) -> Path | None:
    return Path(data) if isinstance(data, (str, os.PathLike)) else None


def open_input(path: Path) -> BinaryIO:
    """Open a local file for reading, with one-line errors for the usual mistakes."""
    try:
        if path.is_dir():
            raise InputError(f"{path} is a directory, not a file")
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except PermissionError:
        raise InputError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while True:
        try:
            block = stream.read(size)
        except OSError as exc:
            raise InputError(f"cannot read input: {exc.strerror or exc}") from None
        if not block:
            return
        yield block


def sha256_file(path: Path) -> tuple[str, int]:
    """Hex SHA-256 and size of a file, streamed (never the whole file in memory)."""
    digest, size = hashlib.sha256(), 0
    with open_input(path) as fh:
        for block in chunks(fh):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def rewindable(stream: BinaryIO) -> BinaryIO:
    """Streams we must read twice (hash, then send) are spooled: memory up to 16 MB, then disk."""
    import tempfile

    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    for block in chunks(stream):
        spool.write(block)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def sha256_stream(stream: BinaryIO) -> tuple[str, int]:
    """Hash a seekable stream from its current position, then rewind it to that position."""
    start = stream.tell()
    digest, size = hashlib.sha256(), 0
    for block in chunks(stream):
        digest.update(block)
        size += len(block)
    stream.seek(start)
    return digest.hexdigest(), size


def seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable()) and isinstance(stream.tell(), int)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False


def download_target(key: str, dest: str | os.PathLike) -> Path:
    """Where ``download(key, dest)`` writes: ``dest``, or ``dest/<key's file name>`` when ``dest``
    is a folder or ends with a slash (``downloads/`` means a folder even before it exists)."""
    text = os.fspath(dest)
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        path = path / key.rsplit("/", 1)[-1]
    return path


# --- atomic files ---------------------------------------------------------------------------

TMP_SUFFIX = ".drumscribe-tmp"  # temp files are ".<name>.<random>.drumscribe-tmp" next to the target


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()  # what open() would have given; mkstemp's 0600 is too strict


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


class atomic_file:
    """``with atomic_file(dest) as fh: fh.write(...)``: the file appears complete or not at all.

    Writes a temp file in the destination folder (same file system, so the rename is atomic),
    fsyncs it, then ``os.replace``s it over ``dest``. Any exception (including Ctrl-C) removes
    the temp file and leaves an existing ``dest`` untouched.
    """

    def __init__(self, dest: Path):
        self.dest = Path(dest)
        self.tmp: Path | None = None
        self.fh: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        import tempfile

        try:
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.dest.name[:40]}.", suffix=TMP_SUFFIX, dir=self.dest.parent)
        except OSError as exc:
            raise write_error(self.dest, exc) from None
        self.tmp = Path(tmp)
        self.fh = os.fdopen(fd, "wb")
        return self.fh

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self.fh is not None and self.tmp is not None
        try:
            if exc_type is None:
                try:
                    self.fh.flush()
                    os.fsync(self.fh.fileno())
                    self.fh.close()
                    os.chmod(self.tmp, _FILE_MODE)
                    os.replace(self.tmp, self.dest)
                except OSError as err:
                    raise write_error(self.dest, err) from None
                _fsync_dir(self.dest.parent)
        finally:
            if not self.fh.closed:
                self.fh.close()
            if self.tmp.exists():  # only when something failed: a successful replace moved it
                try:
                    self.tmp.unlink()
                except OSError:
                    pass
        if exc_type is not None and issubclass(exc_type, OSError):
            raise write_error(self.dest, exc) from None  # e.g. disk full while writing: one line


def _fsync_dir(directory: Path) -> None:
    # makes the rename itself durable; not possible on every platform, so best effort
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_error(path: Path, exc: OSError) -> StorageError:
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return StorageError(f"cannot write {path}: a folder with that name exists")
    return StorageError(f"cannot write {path}: {exc.strerror or exc}")



class DeleteError(StorageError):
    """Some keys of a ``delete_many`` failed. ``deleted`` and ``errors`` ({key: reason}) say which."""

    def __init__(self, deleted: list[str], errors: dict[str, str]):
        self.deleted = deleted
        self.errors = errors
        shown = ", ".join(f"{k} ({v})" for k, v in list(errors.items())[:3])
        more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
        super().__init__(f"could not delete {len(errors)} of {len(errors) + len(deleted)} objects: {shown}{more}")
