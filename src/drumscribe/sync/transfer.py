"""Carry out a plan: bounded parallel transfers, each one atomic and recorded as it finishes.

Uploads
    Small files (below ``MULTIPART_THRESHOLD``) are read once, hashed and sent with one
    PutObject; larger ones are hashed, then sent as a multipart upload with parts in parallel —
    completed only if the file's size, mtime and ctime did not change meanwhile (so the SHA-256
    in the metadata is the SHA-256 of what was sent), aborted on any error, so S3 never shows a
    partial object.
    Every upload is conditional: ``If-None-Match: *`` for a new key, ``If-Match: <listed ETag>``
    for a replacement, so an object that changed after the listing is never overwritten.

Downloads
    Written to ``<root>/.drumscribe/sync/tmp`` and renamed into place only when complete, so
    a killed sync leaves no partial file in the mirror. Objects below ``RANGED_DOWNLOAD_THRESHOLD``:
    one streamed GetObject with ``If-Match``, hashed on the way in and checked against the
    object's ``sha256`` metadata. Larger ones: s3transfer's parallel ranged download, given the
    listed size and ETag up front so it skips its own HEAD (its GETs then carry ``If-Match``).

Each finished file updates the manifest (batched atomic writes), so a re-run after a crash or
Ctrl-C does not transfer finished files again. Per-file failures are collected, never fatal.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import os
import threading
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from s3transfer.subscribers import BaseSubscriber

from drumscribe import aws
from drumscribe.errors import DrumscribeError
from drumscribe.storage.base import SHA256_META
from drumscribe.sync.manifest import LocalState, Manifest, RemoteState, sync_dir
from drumscribe.sync.plan import DELETE, DOWNLOAD, UPLOAD, Item, Plan, file_hexdigest

MB = 1024 * 1024
MULTIPART_THRESHOLD = 8 * MB
MULTIPART_CHUNKSIZE = 8 * MB
# Below this a download is one streamed GET, hashed as it arrives and checked against the
# object's sha256 metadata; above it, s3transfer's parallel ranged GETs pay for their overhead.
RANGED_DOWNLOAD_THRESHOLD = 64 * MB
DELETE_BATCH = 1000
SSE = "AES256"  # same as S3Storage.put, so synced objects look like any other drumscribe object

Progress = Callable[[str, Item, int], None]
"""``progress(event, item, nbytes)``; events: ``start``, ``bytes`` (nbytes more sent), ``done``, ``error``."""


@dataclass
class Outcome:
    done: list[Item] = field(default_factory=list)
    errors: list[tuple[Item, str]] = field(default_factory=list)
    bytes: int = 0
    interrupted: bool = False


class SyncError(DrumscribeError):
    """One file failed; the message is the one line shown in the final error list."""


class Executor:
    def __init__(self, *, client: Any, bucket: str, root: Path, manifest: Manifest, concurrency: int = 10, progress: Progress | None = None):
        self.client = client
        self.bucket = bucket
        self.root = Path(root)
        self.manifest = manifest
        self.concurrency = max(1, int(concurrency))
        self.progress = progress or (lambda event, item, n: None)
        self.tmp_dir = sync_dir(self.root) / "tmp"
        self._tm = None
        self._parts: ThreadPoolExecutor | None = None
        self._tm_lock = threading.Lock()  # lazy pools: created by whichever worker needs one first

    # --- driver ----------------------------------------------------------------------------

    def run(self, plan: Plan) -> Outcome:
        outcome = Outcome()
        for item in plan.items:
            if item.record is not None:
                self.manifest.record(item.key, item.record.local, item.record.remote)
        for key in plan.stale:
            self.manifest.forget(key)
        # largest first: big files start early and small ones fill the gaps at the end, instead
        # of one 30 MB upload running alone after everything else has finished
        transfers = sorted((i for i in plan.items if i.action in (UPLOAD, DOWNLOAD)), key=lambda i: -i.size)
        deletes = [i for i in plan.items if i.action == DELETE]
        try:
            self._transfer_all(transfers, outcome)
            if deletes and not outcome.interrupted:
                self._delete_all(deletes, outcome)
        finally:
            self.manifest.flush()
            if self._tm is not None:
                self._tm.shutdown()
            if self._parts is not None:
                self._parts.shutdown(wait=True, cancel_futures=True)
        return outcome

    def _transfer_all(self, items: list[Item], outcome: Outcome) -> None:
        if not items:
            return
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="drumscribe-sync")
        pending: dict[Future, Item] = {}
        queue = iter(items)
        try:
            # feed the pool lazily: a bounded number in flight keeps Ctrl-C responsive
            for item in queue:
                pending[pool.submit(self._one, item)] = item
                if len(pending) >= self.concurrency * 2:
                    self._collect(pending, outcome, block=True)
            while pending:
                self._collect(pending, outcome, block=True)
        except KeyboardInterrupt:
            outcome.interrupted = True
            for future in pending:
                future.cancel()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self, pending: dict[Future, Item], outcome: Outcome, *, block: bool) -> None:
        done, _ = wait(list(pending), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            item = pending.pop(future)
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - every failure becomes one line for this file
                message = _one_line(exc, self.bucket, item.key)
                outcome.errors.append((item, message))
                self.progress("error", item, 0)
            else:
                outcome.done.append(item)
                outcome.bytes += item.size
                self.progress("done", item, 0)

    def _one(self, item: Item) -> None:
        self.progress("start", item, 0)
        if item.action == UPLOAD:
            self.upload(item)
        else:
            self.download(item)

    # --- uploads ---------------------------------------------------------------------------

    def _put_args(self, item: Item, sha: str) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": item.key,
            "ServerSideEncryption": SSE,
            "ContentType": mimetypes.guess_type(item.key)[0] or "application/octet-stream",
            "Metadata": {SHA256_META: sha},
        }
        return args

    def _condition(self, item: Item) -> dict[str, str]:
        # replace exactly the version we planned against, or create only if still absent. The ETag
        # goes bare: AWS and moto match it quoted or not, Ceph RGW only bare (a quoted one is 412)
        return {"IfMatch": item.remote.etag.strip('"')} if item.remote else {"IfNoneMatch": "*"}

    def upload(self, item: Item) -> None:
        assert item.local is not None
        fd = os.open(item.local.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_size < MULTIPART_THRESHOLD:
                data = fh.read()
                digest = hashlib.sha256(data)
                sha = digest.hexdigest()
                # S3 checks the body against this SHA-256 (the one in the metadata), end to end,
                # and botocore then skips computing its default CRC32 over the same bytes
                response = self.client.put_object(
                    Body=data, ChecksumSHA256=base64.b64encode(digest.digest()).decode(), **self._put_args(item, sha), **self._condition(item)
                )
                self.progress("bytes", item, len(data))
                etag, size = response["ETag"], len(data)
            else:
                etag, size, sha = self._multipart(item, fh)
        self.manifest.record(item.key, LocalState.from_stat(st, sha), RemoteState(etag, size, sha))

    def _multipart(self, item: Item, fh: Any) -> tuple[str, int, str]:
        st = os.fstat(fh.fileno())
        first = hashlib.sha256()
        for block in iter(lambda: fh.read(MB), b""):
            first.update(block)
        sha = first.hexdigest()
        upload_id = self.client.create_multipart_upload(**self._put_args(item, sha))["UploadId"]
        fd, size, chunk = fh.fileno(), st.st_size, MULTIPART_CHUNKSIZE

        def send(number: int) -> dict[str, Any]:
            offset = (number - 1) * chunk
            block = os.pread(fd, min(chunk, size - offset), offset)
            part = self.client.upload_part(Bucket=self.bucket, Key=item.key, UploadId=upload_id, PartNumber=number, Body=block)
            self.progress("bytes", item, len(block))
            return {"PartNumber": number, "ETag": part["ETag"]}

        # parts go out in parallel (one big file alone would otherwise crawl), on their own pool
        # so that file workers waiting for parts can never starve it
        futures = [self._part_pool().submit(send, n) for n in range(1, max(1, -(-size // chunk)) + 1)]
        try:
            parts = [f.result() for f in futures]
            now = os.fstat(fd)
            if (now.st_size, now.st_mtime_ns, now.st_ctime_ns) != (st.st_size, st.st_mtime_ns, st.st_ctime_ns):
                raise SyncError(f"{item.key} changed while it was being uploaded; not sent (run sync again)")
            done = self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=item.key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **self._condition(item)
            )
        except BaseException:
            for f in futures:
                f.cancel()
            wait(futures)  # a part still in flight after the abort would linger as a billed orphan
            # also on Ctrl-C: an incomplete upload is invisible but still billed, so abort it
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=item.key, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - best effort; the original error matters more
                pass
            raise
        return done["ETag"], size, sha

    def _part_pool(self) -> ThreadPoolExecutor:
        with self._tm_lock:
            if self._parts is None:
                self._parts = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="drumscribe-part")
            return self._parts

    # --- downloads -------------------------------------------------------------------------

    def local_path(self, key: str) -> Path:
        """``root/key``, refusing to write through a symlink or over a folder."""
        path = self.root
        parts = key.split("/")
        for part in parts[:-1]:
            path = path / part
            if path.is_symlink():
                raise SyncError(f"local folder {path} is a symlink; not followed")
            if path.exists() and not path.is_dir():
                raise SyncError(f"cannot create folder {path}: a file with that name exists")
        path = path / parts[-1]
        if path.is_dir() and not path.is_symlink():
            raise SyncError(f"cannot write {path}: a folder with that name exists")
        return path

    def download(self, item: Item) -> None:
        assert item.remote is not None
        dest = self.local_path(item.key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_dir / f"{uuid.uuid4().hex}.part"
        try:
            if item.remote.size < RANGED_DOWNLOAD_THRESHOLD:
                sha, declared = self._get_small(item, tmp)
                if declared and declared != sha:
                    raise SyncError(f"{item.key}: downloaded bytes do not match the object's stored SHA-256; not saved")
            else:
                self._get_large(item, tmp)
                sha = file_hexdigest(tmp)
            self._check_unchanged_locally(item, dest)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        st = os.lstat(dest)
        self.manifest.record(item.key, LocalState.from_stat(st, sha), RemoteState(item.remote.etag, item.remote.size, sha))

    def _get_small(self, item: Item, tmp: Path) -> tuple[str, str | None]:
        response = self.client.get_object(Bucket=self.bucket, Key=item.key, IfMatch=item.remote.etag)
        digest = hashlib.sha256()
        body = response["Body"]
        with open(tmp, "wb") as fh:
            for block in iter(lambda: body.read(MB), b""):
                digest.update(block)
                fh.write(block)
                self.progress("bytes", item, len(block))
        return digest.hexdigest(), (response.get("Metadata") or {}).get(SHA256_META)

    def _transfer_manager(self):
        with self._tm_lock:
            if self._tm is None:
                from s3transfer.manager import TransferConfig, TransferManager

                config = TransferConfig(
                    multipart_threshold=RANGED_DOWNLOAD_THRESHOLD,
                    multipart_chunksize=MULTIPART_CHUNKSIZE,
                    max_request_concurrency=self.concurrency,
                )
                self._tm = TransferManager(self.client, config)
            return self._tm

    def _get_large(self, item: Item, tmp: Path) -> None:
        subscriber = _KnownObject(item.remote.size, item.remote.etag, lambda n: self.progress("bytes", item, n))
        future = self._transfer_manager().download(self.bucket, item.key, str(tmp), subscribers=[subscriber])
        future.result()

    def _check_unchanged_locally(self, item: Item, dest: Path) -> None:
        # the plan was made against what the local file looked like then; never clobber an edit
        try:
            st = os.lstat(dest)
        except FileNotFoundError:
            if item.local is not None:
                return  # deleted meanwhile: writing it back loses nothing
            return
        if item.local is None:
            raise SyncError(f"{dest} appeared while syncing; left alone (run sync again)")
        before = item.local.st
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (before.st_size, before.st_mtime_ns, before.st_ino):
            raise SyncError(f"{dest} changed while syncing; left alone (run sync again)")

    # --- deletes ---------------------------------------------------------------------------

    def _delete_all(self, items: list[Item], outcome: Outcome) -> None:
        remote = [i for i in items if i.side == "remote"]
        for item in (i for i in items if i.side == "local"):
            try:
                self._delete_local(item)
            except Exception as exc:  # noqa: BLE001
                outcome.errors.append((item, _one_line(exc, self.bucket, item.key)))
                self.progress("error", item, 0)
            else:
                outcome.done.append(item)
                self.progress("done", item, 0)
        for start in range(0, len(remote), DELETE_BATCH):
            batch = remote[start : start + DELETE_BATCH]
            try:
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": i.key} for i in batch], "Quiet": True}
                )
                failed = {e["Key"]: f"{e.get('Code')}: {e.get('Message')}" for e in response.get("Errors", ())}
            except Exception as exc:  # noqa: BLE001
                failed = {i.key: _one_line(exc, self.bucket, i.key) for i in batch}
            for item in batch:
                if item.key in failed:
                    outcome.errors.append((item, f"cannot delete s3://{self.bucket}/{item.key}: {failed[item.key]}"))
                    self.progress("error", item, 0)
                else:
                    self.manifest.forget(item.key)
                    outcome.done.append(item)
                    self.progress("done", item, 0)

    def _delete_local(self, item: Item) -> None:
        from drumscribe.storage.local import LocalStorage

        assert item.local is not None
        st = os.lstat(item.local.path)
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (item.local.st.st_size, item.local.st.st_mtime_ns, item.local.st.st_ino):
            raise SyncError(f"{item.local.path} changed while syncing; not deleted")
        LocalStorage(self.root).delete(item.key)  # also drops its metadata sidecar and empty folders
        self.manifest.forget(item.key)


class _KnownObject(BaseSubscriber):
    """s3transfer subscriber that hands over the listed size and ETag, so no HEAD is made."""

    def __init__(self, size: int, etag: str, on_bytes: Callable[[int], None]):
        self.size, self.etag, self.on_bytes = size, etag, on_bytes

    def on_queued(self, future, **kwargs):
        future.meta.provide_transfer_size(self.size)
        future.meta.provide_object_etag(self.etag)  # ranged GETs then carry If-Match

    def on_progress(self, future, bytes_transferred, **kwargs):
        self.on_bytes(bytes_transferred)


def _one_line(exc: BaseException, bucket: str, key: str) -> str:
    if isinstance(exc, DrumscribeError):
        return str(exc)
    if aws.error_code(exc) in ("PreconditionFailed", "412"):
        return f"{key} changed remotely while syncing; left alone (run sync again)"
    if isinstance(exc, OSError):
        return f"{key}: {exc.strerror or exc}"
    import botocore.exceptions as bexc

    if isinstance(exc, (bexc.BotoCoreError, bexc.ClientError)):
        return str(aws.translate(exc, bucket=bucket, key=key, action="sync"))
    return f"{key}: {type(exc).__name__}: {exc}"
