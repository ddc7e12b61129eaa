"""What both sides looked like at the last sync, per key: the baseline of the three-way decision.

Stored as JSON in ``<local_root>/.drumscribe/sync/manifest-<id>.json`` (``<id>`` names the
endpoint and bucket, so a local folder synced against two servers keeps two baselines). The
``.drumscribe`` folder is never scanned or synced. Each entry::

    "processed/alice/job/transcription.json": {
        "local":  {"size": 812, "mtime_ns": ..., "ctime_ns": ..., "ino": ..., "sha256": "..."},
        "remote": {"etag": "\\"9e1f...\\"", "size": 812, "sha256": "..."}
    }

The local stat (size, mtime, ctime, inode) lets an unchanged file skip re-hashing. ctime is in
it because ``touch -d``/``os.utime`` can restore an edited file's mtime but nothing can restore
its ctime: a same-size edit with the old mtime still gets re-hashed and caught.

Writes are batched (every ``FLUSH_EVERY`` changes or ``FLUSH_SECONDS``) and atomic (temp file,
fsync, rename), so killing a sync loses at most the last batch of bookkeeping, never the file.
A lost batch costs nothing but a HEAD per affected key on the next run (see ``plan``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

META_DIR = ".drumscribe"  # shared with storage.local: drumscribe's own files, never objects
SYNC_DIR = "sync"
VERSION = 1
FLUSH_EVERY = 1000
FLUSH_SECONDS = 2.0


@dataclass(frozen=True)
class LocalState:
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    sha256: str

    def same_stat(self, st: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.ctime_ns, self.ino) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    @classmethod
    def from_stat(cls, st: os.stat_result, sha256: str) -> "LocalState":
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, sha256)


@dataclass(frozen=True)
class RemoteState:
    etag: str
    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class Entry:
    local: LocalState
    remote: RemoteState


def sync_dir(local_root: Path) -> Path:
    return Path(local_root) / META_DIR / SYNC_DIR


def manifest_path(local_root: Path, bucket: str, endpoint_url: str | None) -> Path:
    ident = hashlib.sha256(f"{endpoint_url or 'aws'}\n{bucket}".encode()).hexdigest()[:12]
    return sync_dir(local_root) / f"manifest-{ident}.json"


class Manifest:
    """Thread-safe map of key -> ``Entry`` with batched atomic saves."""

    def __init__(self, path: Path, bucket: str, endpoint_url: str | None = None):
        self.path = Path(path)
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self._entries: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self._dirty = 0
        self._last_flush = time.monotonic()

    @classmethod
    def load(cls, local_root: Path, bucket: str, endpoint_url: str | None = None) -> "Manifest":
        manifest = cls(manifest_path(local_root, bucket, endpoint_url), bucket, endpoint_url)
        try:
            data = json.loads(manifest.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return manifest
        except (OSError, ValueError):
            # A damaged baseline only costs extra checks (keys look "never synced"), never data.
            return manifest
        if data.get("version") != VERSION or data.get("bucket") != bucket:
            return manifest
        for key, raw in (data.get("entries") or {}).items():
            try:
                manifest._entries[key] = Entry(LocalState(**raw["local"]), RemoteState(**raw["remote"]))
            except (KeyError, TypeError):
                continue
        return manifest

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        return self._entries.get(key)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def record(self, key: str, local: LocalState, remote: RemoteState) -> None:
        with self._lock:
            self._entries[key] = Entry(local, remote)
            self._dirty += 1
        self.maybe_flush()

    def forget(self, key: str) -> None:
        with self._lock:
            if self._entries.pop(key, None) is not None:
                self._dirty += 1
        self.maybe_flush()

    def maybe_flush(self) -> None:
        if self._dirty >= FLUSH_EVERY or (self._dirty and time.monotonic() - self._last_flush >= FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if not self._dirty and self.path.exists():
                return
            payload = {
                "version": VERSION,
                "bucket": self.bucket,
                "endpoint_url": self.endpoint_url,
                "entries": {k: _entry_json(e) for k, e in sorted(self._entries.items())},
            }
            self._dirty = 0
            self._last_flush = time.monotonic()
            _atomic_write(self.path, json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {"local": asdict(entry.local), "remote": asdict(entry.remote)}


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
