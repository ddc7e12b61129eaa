"""Decide what a sync does, per key, from one local scan, ONE ListObjectsV2 pass and the manifest.

Three states per key: the local file now, the remote object now, and the manifest entry (both
sides as they were at the last sync). "Changed" means:

* local: size, mtime, ctime or inode differ from the manifest AND the SHA-256 differs (a file
  that was only touched is re-hashed once and found unchanged);
* remote: the listed ETag or size differ from the manifest (ETags are only ever compared with
  ETags, never with a local MD5 — multipart ETags are not MD5s).

Rules (``src``/``dst`` are local/remote for push, remote/local for pull):

==========================  ===============================================================
only on src                 copy
on both, neither changed    skip
on both, only src changed   copy
on both, only dst changed   skip (the other direction would copy it)
on both, both changed       conflict, unless the contents are equal (then just recorded);
                            ``--prefer`` picks the winner
on both, never synced       equal sizes: HEAD that key for its ``sha256`` metadata (or, for
                            a single-part ETag without metadata, compare the local MD5);
                            equal -> recorded as in sync; different or unknown -> conflict
only on dst                 skip; with ``--delete``: delete it if it is unchanged since the
                            last sync, otherwise conflict (a never-synced or changed file is
                            never deleted unless ``--prefer`` names the source side)
==========================  ===============================================================

HEAD requests happen only for the "never synced / both changed, equal size" cases, so a no-op
sync is exactly one listing.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from drumscribe.errors import ConfigError, InvalidKeyError
from drumscribe.keys import MODELS, PROCESSED, UPLOADS, validate_key, validate_prefix
from drumscribe.storage.base import SHA256_META
from drumscribe.sync.manifest import Entry, LocalState, Manifest, RemoteState

SCOPES = (UPLOADS, PROCESSED, MODELS)  # models/: tuning profiles; temp/ is scratch and never synced
DIRECTIONS = ("push", "pull", "status")
SIDES = ("local", "remote")
TEMP_SUFFIX = ".drumscribe-tmp"  # storage.local's temp files: never objects

UPLOAD, DOWNLOAD, DELETE, SKIP, CONFLICT, ERROR = "upload", "download", "delete", "skip", "conflict", "error"
ACTIONS = (UPLOAD, DOWNLOAD, DELETE, SKIP, CONFLICT, ERROR)


@dataclass
class LocalFile:
    key: str
    path: Path
    st: os.stat_result
    sha256: str | None = None

    @property
    def size(self) -> int:
        return self.st.st_size

    def hash(self) -> str:
        if self.sha256 is None:
            self.sha256 = file_hexdigest(self.path)
        return self.sha256


@dataclass
class RemoteObject:
    key: str
    size: int
    etag: str
    storage_class: str | None = None
    sha256: str | None = None  # only after a HEAD (never in a listing)


@dataclass
class Item:
    """One line of the plan."""

    key: str
    action: str
    reason: str
    size: int = 0
    side: str | None = None  # for delete: which side loses the file
    local: LocalFile | None = None
    remote: RemoteObject | None = None
    record: Entry | None = None  # a skip that refreshes the manifest (touched file, equal first sync)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "action": self.action, "reason": self.reason, "size": self.size}
        if self.side:
            out["side"] = self.side
        return out


@dataclass
class Plan:
    direction: str
    prefix: str
    bucket: str
    items: list[Item] = field(default_factory=list)
    local_files: int = 0
    remote_objects: int = 0
    excluded: int = 0
    heads: int = 0  # HEAD requests made while planning
    stale: list[str] = field(default_factory=list)  # manifest keys gone from both sides

    def of(self, action: str) -> list[Item]:
        return [i for i in self.items if i.action == action]

    def counts(self) -> dict[str, int]:
        counts = {a: 0 for a in ACTIONS}
        for item in self.items:
            counts[item.action] += 1
        return counts

    def bytes_to_transfer(self) -> int:
        return sum(i.size for i in self.items if i.action in (UPLOAD, DOWNLOAD))

    @property
    def source_side(self) -> str:
        return "local" if self.direction == "push" else "remote"

    def source_count(self) -> int:
        return self.local_files if self.direction == "push" else self.remote_objects


def file_hexdigest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, streamed by the standard library (never the whole file in memory)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest()


# --- scope and filters ---------------------------------------------------------------------


def check_prefix(prefix: str) -> str:
    prefix = validate_prefix(prefix or "")
    if prefix and not any(s.startswith(prefix) or prefix.startswith(s + "/") or prefix == s for s in SCOPES):
        raise ConfigError(f"sync covers only {UPLOADS}/, {PROCESSED}/ and {MODELS}/, not {prefix!r}", hint="pass a prefix such as processed/alice/")
    return prefix


def in_scope(key: str, prefix: str) -> bool:
    return key.split("/", 1)[0] in SCOPES and "/" in key and key.startswith(prefix)


class Filter:
    """``--include``/``--exclude`` globs (fnmatch, ``*`` matches ``/`` too) against the key."""

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = ()):
        self.include = [p.lstrip("/") for p in include]
        self.exclude = [p.lstrip("/") for p in exclude]

    def __call__(self, key: str) -> bool:
        if self.include and not any(fnmatch.fnmatchcase(key, p) for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(key, p) for p in self.exclude)


# --- the two sides -------------------------------------------------------------------------


def scan_local(root: Path, prefix: str) -> Iterator[LocalFile | Item]:
    """Regular files under ``root/uploads``, ``root/processed`` and ``root/models``; symlinks reported, never followed."""
    for scope in SCOPES:
        if scope.startswith(prefix) or prefix.startswith(scope + "/") or prefix == scope:
            yield from _walk(root / scope, scope + "/", prefix)


def _walk(directory: Path, rel: str, prefix: str) -> Iterator[LocalFile | Item]:
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        yield Item(rel, ERROR, f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        key = rel + entry.name
        if entry.name.endswith(TEMP_SUFFIX) or (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue  # someone's half-written file (atomic writers use hidden temp names): never an object
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            yield Item(os.fsdecode(entry.path), ERROR, "file name is not valid UTF-8, so it cannot be an object key")
            continue
        try:
            if entry.is_symlink():
                if key.startswith(prefix) or prefix.startswith(key + "/"):
                    yield Item(key, SKIP, "symlink (not followed)")
                continue
            if entry.is_dir(follow_symlinks=False):
                if (key + "/").startswith(prefix) or prefix.startswith(key + "/"):
                    yield from _walk(Path(entry.path), key + "/", prefix)
                continue
            if not entry.is_file(follow_symlinks=False) or not key.startswith(prefix):
                continue
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            yield Item(key, ERROR, f"cannot read: {exc.strerror or exc}")
            continue
        try:
            validate_key(key)
        except InvalidKeyError as exc:
            yield Item(key, ERROR, str(exc))
            continue
        yield LocalFile(key, Path(entry.path), st)


def list_remote(client: Any, bucket: str, prefix: str) -> Iterator[RemoteObject | Item]:
    """One ListObjectsV2 pass (paginated). Keys outside uploads/, processed/ and models/ are ignored."""
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if prefix:
        kwargs["Prefix"] = prefix
    for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
        for obj in page.get("Contents", ()):
            key = obj["Key"]
            if not in_scope(key, prefix):
                continue
            if key.endswith("/") and obj.get("Size", 0) == 0:
                continue  # a "folder" marker made by a console: nothing to mirror
            try:
                validate_key(key)
            except InvalidKeyError as exc:
                # a hostile or odd key (../, //, control characters) never becomes a local path
                yield Item(key, ERROR, f"remote key skipped: {exc}")
                continue
            yield RemoteObject(key, int(obj.get("Size", 0)), obj.get("ETag", ""), obj.get("StorageClass"))


# --- planning ------------------------------------------------------------------------------


class _Decider:
    def __init__(self, direction: str, manifest: Manifest, prefer: str | None, delete: bool):
        self.direction = direction
        self.manifest = manifest
        self.prefer = prefer
        self.delete = delete

    def local_changed(self, lf: LocalFile, entry: Entry) -> tuple[bool, bool]:
        """(changed, needs_record): an unchanged stat is trusted; otherwise the content decides."""
        if entry.local.same_stat(lf.st):
            return False, False
        changed = lf.hash() != entry.local.sha256
        return changed, not changed

    @staticmethod
    def remote_changed(ro: RemoteObject, entry: Entry) -> bool:
        return ro.etag != entry.remote.etag or ro.size != entry.remote.size

    def copy(self, key: str, lf: LocalFile | None, ro: RemoteObject | None, reason: str) -> Item:
        if self.direction == "pull":
            assert ro is not None
            return Item(key, DOWNLOAD, reason, ro.size, local=lf, remote=ro)
        assert lf is not None
        return Item(key, UPLOAD, reason, lf.size, local=lf, remote=ro)

    def conflict(self, key: str, lf: LocalFile | None, ro: RemoteObject | None, reason: str, *, deleting: bool = False) -> Item:
        src = "local" if self.direction == "push" else "remote"
        if self.prefer is None or self.direction == "status":
            return Item(key, CONFLICT, reason + " (--prefer local|remote settles it)", (lf or ro).size, local=lf, remote=ro)  # type: ignore[union-attr]
        if self.prefer == src:
            if deleting:
                return Item(key, DELETE, f"{reason}; --prefer {src}", (lf or ro).size, side=_other(src), local=lf, remote=ro)  # type: ignore[union-attr]
            return self.copy(key, lf, ro, f"{reason}; --prefer {src}")
        other = "pull" if self.direction == "push" else "push"
        return Item(key, SKIP, f"{reason}; --prefer {self.prefer} keeps it ({other} to copy it over)", 0, local=lf, remote=ro)

    def decide(self, key: str, lf: LocalFile | None, ro: RemoteObject | None) -> Item:
        entry = self.manifest.get(key)
        if self.direction == "status":
            return self._status(key, lf, ro, entry)
        push = self.direction == "push"
        if lf and ro:
            return self._both(key, lf, ro, entry)
        if lf and not ro:
            if push:
                reason = "new locally" if entry is None else "missing remotely (deleted since last sync)"
                return self.copy(key, lf, None, reason)
            return self._only_dst(key, lf, None, entry)
        assert ro is not None
        if not push:
            reason = "new remotely" if entry is None else "missing locally (deleted since last sync)"
            return self.copy(key, None, ro, reason)
        return self._only_dst(key, None, ro, entry)

    def _only_dst(self, key: str, lf: LocalFile | None, ro: RemoteObject | None, entry: Entry | None) -> Item:
        push = self.direction == "push"
        where, other = ("remote", "pull") if push else ("local", "push")
        size = (lf or ro).size  # type: ignore[union-attr]
        if entry is None:
            if not self.delete:
                return Item(key, SKIP, f"only {where} ({other} to copy it)", 0, local=lf, remote=ro)
            return self.conflict(key, lf, ro, f"only {where} and never synced: --delete would lose it", deleting=True)
        if push:
            assert ro is not None
            dst_changed = self.remote_changed(ro, entry)
        else:
            assert lf is not None
            dst_changed, _ = self.local_changed(lf, entry)
        src_where = "locally" if push else "remotely"
        if not self.delete:
            return Item(key, SKIP, f"deleted {src_where} since last sync (--delete to delete it here too)", 0, local=lf, remote=ro)
        if dst_changed:
            return self.conflict(key, lf, ro, f"deleted {src_where} but changed {where.replace('remote', 'remotely').replace('local', 'locally')} since last sync", deleting=True)
        return Item(key, DELETE, f"deleted {src_where} since last sync", size, side=where, local=lf, remote=ro)

    def _status(self, key: str, lf: LocalFile | None, ro: RemoteObject | None, entry: Entry | None) -> Item:
        """Both directions at once: what push (upload) or pull (download) would do with this key."""
        if lf and not ro:
            why = "only local" if entry is None else "deleted remotely since last sync"
            return Item(key, UPLOAD, f"{why} (push sends it)", lf.size, local=lf)
        if ro and not lf:
            why = "only remote" if entry is None else "deleted locally since last sync"
            return Item(key, DOWNLOAD, f"{why} (pull fetches it)", ro.size, remote=ro)
        assert lf and ro
        self.direction, prefer, self.prefer = "push", self.prefer, None  # status reports conflicts as they are
        try:
            item = self._both(key, lf, ro, entry)
        finally:
            self.direction, self.prefer = "status", prefer
        if item.action == SKIP and item.reason.startswith("changed only remotely"):
            return Item(key, DOWNLOAD, "changed remotely (pull fetches it)", ro.size, local=lf, remote=ro)
        if item.action == UPLOAD:
            item.reason += " (push sends it)"
        return item

    def _both(self, key: str, lf: LocalFile, ro: RemoteObject, entry: Entry | None) -> Item:
        push = self.direction == "push"
        if entry is None:
            if self._same_content(lf, ro):
                return Item(key, SKIP, "identical on both sides (first sync)", 0, local=lf, remote=ro, record=self._entry(lf, ro))
            why = "different sizes" if lf.size != ro.size else "contents differ or cannot be compared"
            return self.conflict(key, lf, ro, f"on both sides, never synced, {why}")
        l_changed, l_record = self.local_changed(lf, entry)
        r_changed = self.remote_changed(ro, entry)
        refreshed = Entry(LocalState.from_stat(lf.st, lf.hash()), entry.remote) if l_record else None
        if not l_changed and not r_changed:
            return Item(key, SKIP, "unchanged", 0, local=lf, remote=ro, record=refreshed)
        if l_changed and r_changed:
            if self._same_content(lf, ro):
                return Item(key, SKIP, "same change on both sides", 0, local=lf, remote=ro, record=self._entry(lf, ro))
            return self.conflict(key, lf, ro, "changed on both sides since last sync")
        if l_changed:
            if push:
                return self.copy(key, lf, ro, "changed locally")
            return Item(key, SKIP, "changed only locally (push to send it)", 0, local=lf, remote=ro)
        if push:
            return Item(key, SKIP, "changed only remotely (pull to fetch it)", 0, local=lf, remote=ro, record=refreshed)
        return self.copy(key, lf, ro, "changed remotely")

    @staticmethod
    def _same_content(lf: LocalFile, ro: RemoteObject) -> bool:
        if lf.size != ro.size:
            return False
        if ro.sha256:
            return lf.hash() == ro.sha256
        etag = ro.etag.strip('"')
        # Only a single-part ETag can be an MD5, and even then (SSE-KMS) it may not be: a match
        # proves equality, a mismatch proves nothing and stays a conflict.
        if len(etag) == 32 and "-" not in etag and all(c in "0123456789abcdef" for c in etag):
            return file_hexdigest(lf.path, "md5") == etag
        return False

    @staticmethod
    def _entry(lf: LocalFile, ro: RemoteObject) -> Entry:
        sha = lf.hash()
        return Entry(LocalState.from_stat(lf.st, sha), RemoteState(ro.etag, ro.size, sha))


def _other(side: str) -> str:
    return "remote" if side == "local" else "local"


def needs_head(lf: LocalFile, ro: RemoteObject, entry: Entry | None) -> bool:
    """Keys whose remote SHA-256 (metadata, HEAD only) decides between "in sync" and "conflict"."""
    if lf.size != ro.size:
        return False
    if entry is None:
        return True
    if entry.local.same_stat(lf.st) or ro.etag == entry.remote.etag:
        return False  # at most one side changed: no comparison needed
    return lf.hash() != entry.local.sha256  # both changed


def _collect(found_items, keep: Filter, plan: Plan) -> dict:
    """Key -> entry for one side's scan; excluded keys are counted, problems (Items) go to the plan."""
    entries = {}
    for found in found_items:
        if not keep(found.key):
            plan.excluded += 1
        elif isinstance(found, Item):
            plan.items.append(found)
        else:
            entries[found.key] = found
    return entries


def build_plan(
    *,
    client: Any,
    bucket: str,
    root: Path,
    manifest: Manifest,
    direction: str,
    prefix: str = "",
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    prefer: str | None = None,
    delete: bool = False,
    concurrency: int = 10,
) -> Plan:
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be push, pull or status, not {direction!r}")
    if prefer not in (None, *SIDES):
        raise ConfigError(f"--prefer must be local or remote, not {prefer!r}")
    prefix = check_prefix(prefix)
    keep = Filter(include, exclude)
    plan = Plan(direction, prefix, bucket)
    local: dict[str, LocalFile] = _collect(scan_local(root, prefix), keep, plan)
    remote: dict[str, RemoteObject] = _collect(list_remote(client, bucket, prefix), keep, plan)
    plan.local_files, plan.remote_objects = len(local), len(remote)

    to_head = [ro for key, ro in remote.items() if key in local and needs_head(local[key], ro, manifest.get(key))]
    if to_head:
        plan.heads = len(to_head)
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            list(pool.map(lambda ro: _read_sha(client, bucket, ro), to_head))

    decider = _Decider(direction, manifest, prefer, delete)
    for key in sorted(local.keys() | remote.keys()):
        try:
            plan.items.append(decider.decide(key, local.get(key), remote.get(key)))
        except OSError as exc:  # vanished or unreadable while hashing
            plan.items.append(Item(key, ERROR, f"cannot read local file: {exc.strerror or exc}"))
    # forget entries whose key is gone from both sides; excluded or unreadable keys keep theirs
    listed = {i.key for i in plan.items}
    plan.stale = [k for k in manifest.keys() if in_scope(k, prefix) and keep(k) and k not in local and k not in remote and k not in listed]
    plan.items.sort(key=lambda i: i.key)
    return plan


def _read_sha(client: Any, bucket: str, ro: RemoteObject) -> None:
    try:
        head = client.head_object(Bucket=bucket, Key=ro.key)
    except Exception:  # noqa: BLE001 - unknown stays unknown: the key becomes a conflict, not an error
        return
    if head.get("ETag") == ro.etag:  # the same version the listing saw
        ro.sha256 = (head.get("Metadata") or {}).get(SHA256_META)
