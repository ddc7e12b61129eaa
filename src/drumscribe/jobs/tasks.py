"""One input of a batch, as a worker runs it: the task, its options and its result.

Worker side of ``jobs.batch``: ``run_task`` (one input of ``transcribe_many``) and ``run_upload``
(one job of ``drumscribe serve --cluster``) run on a Dask worker or a local pool process; each
process builds its settings and storage once (``_worker_context``) and times its S3 requests.
What they take (``TaskOptions``) and give back (``BatchResult``) is small and picklable.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from drumscribe import keys
from drumscribe.config import Settings, load_settings
from drumscribe.errors import ConfigError, DrumscribeError, StorageError

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
# what a worker takes from the client; credentials are deliberately not in this list
SHARED_SETTINGS = ("bucket", "region", "endpoint_url", "user", "max_upload_mb")


@dataclass
class BatchResult:
    index: int  # position among the expanded inputs
    input: str
    status: str  # "done", "skipped" or "failed"
    job: dict[str, Any] = field(default_factory=dict)  # JobResult.to_dict() (done) or the existing job (skipped)
    error: str | None = None
    exit_code: int = 0
    audio_seconds: float = 0.0  # of the input
    work_seconds: float = 0.0  # transcription proper (decode, features, network, beats...)
    s3_seconds: float = 0.0  # S3 requests of the results bucket (on a worker of a cluster)
    task_seconds: float = 0.0  # the whole task on its worker: hashing, S3 reads and writes included
    worker: str | None = None
    started_at: float = 0.0  # the task's start and end on its worker (epoch seconds): gaps between tasks
    finished_at: float = 0.0  # on one worker are the scheduling overhead
    document: str | None = None  # the transcription JSON, when asked for (``documents=True``)

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("document")
        return data



@dataclass(frozen=True)
class TaskOptions:
    """What one task needs besides its input; small, picklable, no secrets."""

    settings: tuple[tuple[str, Any], ...]  # SHARED_SETTINGS of the client
    user: str
    storage: str = "s3"  # the client's results storage, "s3" or "local": workers must use the same
    model: Any = None  # a model file path, a loaded model, or None for the packaged one
    beats: bool = True
    skip_done: bool = True
    documents: bool = False
    job_id: str | None = None  # chosen by the client, one per input
    midi: Any = None  # Transcription.to_midi keywords for output.mid (align, tracks, note_map)


# -- worker side -----------------------------------------------------------------------------
_context: dict[Any, tuple[Settings, Any]] = {}  # per worker process: settings and storage, built once


def _worker_context(opts: TaskOptions) -> tuple[Settings, Any]:
    key = (opts.settings, opts.storage)
    if key not in _context:
        from drumscribe.jobs.run import s3_storage_for
        from drumscribe.storage import get_storage

        settings = load_settings(overrides={k: v for k, v in opts.settings if v is not None})
        if opts.storage == "s3":  # never fall back to a worker's local disk: no credentials is an error
            storage = s3_storage_for(settings.bucket, settings)
        else:
            storage = get_storage(settings, prefer_local=True, announce=False)
        _context[key] = settings, _timed(storage)
    return _context[key]


_TIMED_METHODS = ("head", "exists", "get", "download", "put", "list", "delete_many")
_io = threading.local()  # seconds this thread spent in S3 calls, for the task's s3_seconds


def _timed(storage: Any) -> Any:
    """Count the time ``storage``'s requests take (the storage object jobs.run also gets from its
    per-process cache when it reads from the same bucket); listing is counted as it is consumed."""
    def wrap(method):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                result = method(*args, **kwargs)
                return list(result) if method.__name__ == "list" else result
            finally:
                _io.seconds = getattr(_io, "seconds", 0.0) + time.perf_counter() - t0
        return timed

    for name in _TIMED_METHODS:
        if hasattr(storage, name):
            setattr(storage, name, wrap(getattr(storage, name)))
    return storage


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def content_sha256(item: str, settings: Settings) -> str | None:
    """The sha256 of an input: a local file is hashed; an S3 object's metadata is used when it has
    one, else the object is read once (a stream that cannot seek: hashed as it comes)."""
    import hashlib

    from drumscribe.jobs.run import is_s3_uri, parse_s3_uri, s3_storage_for
    from drumscribe.storage._common import chunks, sha256_file

    if not is_s3_uri(item):
        try:
            return sha256_file(Path(item))[0]
        except (OSError, DrumscribeError):
            return None  # missing or unreadable: the job itself reports it in one line
    bucket, key = parse_s3_uri(item)
    source = s3_storage_for(bucket, settings)
    from drumscribe.storage.uploads import SOURCE_SHA256_META

    info = source.head(key)
    # a WAV drumscribe stored as FLAC: its job records the WAV's hash, kept in the metadata
    digest = info.metadata.get(SOURCE_SHA256_META) or info.sha256
    if digest:
        return digest
    sha = hashlib.sha256()
    with source.open(key) as stream:  # an object drumscribe did not store: read it once
        for block in chunks(stream):
            sha.update(block)
    return sha.hexdigest()


def run_task(item: str, opts: TaskOptions, done: dict | None = None, index: int = 0,
             context: tuple[Settings, Any] | None = None) -> BatchResult:
    """One input on a worker. Bad input -> a failed result; transient storage errors raise (retried).

    ``done``: the client's index of complete jobs (``jobs.store.complete_jobs``; None: there were
    none). Unless ``opts.skip_done`` is off (``--force``), an input that one of them answers (same
    content, model and options, ``jobs.identity``) is skipped: its result names that job.
    ``context``: (settings, storage) to use; default: built from ``opts`` once per worker process.
    """
    from drumscribe.jobs.run import run_job
    from drumscribe.storage import LocalStorage
    from drumscribe.transcription.pipeline import get_model

    start, started_at = time.perf_counter(), time.time()
    _io.seconds = 0.0
    try:
        settings, storage = context or _worker_context(opts)
    except DrumscribeError as exc:  # e.g. this worker has no credentials: retrying elsewhere may not help either
        return _failed(index, item, ConfigError(f"on worker {_worker_name()}: {exc}"), start)
    try:
        # a retry after a dead worker writes under the same job id: whatever the killed attempt
        # wrote (output.mid without its transcription.json) is overwritten, then completed
        job_id = opts.job_id or keys.new_job_id()
        timings: dict[str, float] = {}
        result, job = run_job(item, storage=storage, settings=settings, user_id=opts.user, model=get_model(opts.model),
                              beats=opts.beats, job_id=job_id, timings=timings, midi_options=opts.midi,
                              force=not opts.skip_done, done=(done if done is not None else {}) if opts.skip_done else None,
                              document=opts.documents)
    except StorageError as exc:
        if isinstance(storage, LocalStorage) or not _transient(exc):
            return _given_up(storage, opts, index, item, exc, start)
        raise  # S3 hiccup: let Dask retry the task
    except DrumscribeError as exc:
        return _given_up(storage, opts, index, item, exc, start)
    if job.existing:
        return BatchResult(index, item, SKIPPED, job=job.to_dict(), audio_seconds=job.duration or 0.0,
                           s3_seconds=_io.seconds, task_seconds=time.perf_counter() - start, worker=_worker_name(),
                           started_at=started_at, finished_at=time.time(), document=_document(result, opts))
    return BatchResult(index, item, DONE, job=job.to_dict(), audio_seconds=result.duration, work_seconds=sum(timings.values()),
                       s3_seconds=_io.seconds, task_seconds=time.perf_counter() - start, worker=_worker_name(), started_at=started_at,
                       finished_at=time.time(), document=_document(result, opts))


def _document(result: Any, opts: TaskOptions) -> str | None:
    return result.to_json() if opts.documents and result is not None else None


def run_upload(filename: str, upload_key: str, opts: TaskOptions) -> DrumscribeError | dict[str, Any]:
    """A job of ``drumscribe serve --cluster`` on a worker: transcribe the stored upload
    ``upload_key`` (``uploads/...``) under the job id the service chose (``opts.job_id``).

    The job's ``JobResult.to_dict()`` when done (``existing``: an earlier job with the same
    content, model and options answered). The error that ended it is returned, not raised: Dask
    would re-run a task that raises, and bad audio stays bad; a transient storage error raises,
    so Dask retries it. ``filename`` names the source in error messages, as in the service's own
    thread pool.
    """
    from drumscribe.jobs.run import run_job
    from drumscribe.storage import LocalStorage
    from drumscribe.transcription.pipeline import get_model

    try:
        settings, storage = _worker_context(opts)
    except DrumscribeError as exc:  # e.g. this worker has no credentials
        return ConfigError(f"on worker {_worker_name()}: {exc}")
    try:
        _, job = run_job(filename, storage=storage, settings=settings, user_id=opts.user, model=get_model(opts.model),
                         beats=opts.beats, job_id=opts.job_id, stored_upload=upload_key, midi_options=opts.midi,
                         force=not opts.skip_done, document=False)
    except StorageError as exc:
        if isinstance(storage, LocalStorage) or not _transient(exc):
            return exc
        raise  # S3 hiccup: let Dask retry the task
    except DrumscribeError as exc:
        return exc
    return job.to_dict()


def _given_up(storage: Any, opts: TaskOptions, index: int, item: str, exc: DrumscribeError, start: float) -> BatchResult:
    """This input failed for good: also clear what an earlier, killed attempt of its job id left."""
    if opts.job_id:
        _clear_job(storage, opts.user, opts.job_id)
    return _failed(index, item, exc, start)


def _transient(exc: StorageError) -> bool:
    from drumscribe.errors import AccessDeniedError, ArchivedObjectError, CredentialsError, NotFoundError

    # an archived original stays archived for hours: retrying it on another worker cannot help
    return not isinstance(exc, (NotFoundError, AccessDeniedError, CredentialsError, ArchivedObjectError))


def _failed(index: int, item: str, exc: BaseException, start: float | None = None) -> BatchResult:
    if isinstance(exc, DrumscribeError):
        message, code = str(exc), exc.exit_code
    else:  # a bug or a dead worker: still one line
        message, code = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}", 70
    seconds = time.perf_counter() - start if start is not None else 0.0
    return BatchResult(index, item, FAILED, error=message, exit_code=code, task_seconds=seconds)


def _numbered(items: Iterator[tuple[str, str | None]], collect, on_submit) -> Iterator[tuple[int, str]]:
    """(index, input) of the usable inputs; the unusable ones become failed results right away."""
    for index, (item, error) in enumerate(items):
        if on_submit is not None:
            on_submit(index + 1)
        if error is None:
            yield index, item
        else:
            collect(BatchResult(index, item, FAILED, error=error, exit_code=2))



def _clear_job(storage: Any, user: str, job_id: str) -> None:
    from drumscribe.jobs.run import _cleanup

    _cleanup(storage, user, job_id)
