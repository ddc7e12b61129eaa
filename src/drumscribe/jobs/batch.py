"""Many jobs at once: on local worker processes, or one task per input on a Dask cluster.

``transcribe_many(inputs)`` runs ``jobs.run.transcribe_and_store`` for every input and returns
one ``BatchResult`` per input (done, skipped or failed) in a ``BatchReport``.

- Without ``cluster``: a pool of local processes (``jobs``, default all cores), each loading the
  model once; this is what ``drumscribe transcribe --jobs N`` runs.
- With ``cluster`` (a scheduler address such as ``tcp://scheduler:8786``, ``"local"`` for a
  ``LocalCluster`` on this machine, a ``distributed.Client`` or a cluster object): one Dask task
  per input. Workers read the audio from S3 and write the results to S3 themselves; the client
  only lists, submits and collects small results. Workers build their settings from their own
  environment (credentials included) plus the client's non-secret ones (bucket, region,
  endpoint, user); each worker process keeps its storage client and model for all its tasks.

Idempotent: unless ``force``, an input whose content (sha256) already has a complete job of
the same model is reported as skipped and not transcribed again. The content hash comes from
the object's ``sha256`` metadata (every object drumscribe stores has it), else from reading it.

Faults: a task whose worker dies is re-run elsewhere by Dask (bounded). Every task writes under
a job id chosen by the client, so a retry overwrites what the killed attempt half-wrote and
completes it; an input that fails for good has its job prefix cleared (by the task, or by the
client when no attempt survived), so nothing half-written stays under ``processed/`` once the
batch ends. Bad input is a failed result, never an exception that stops the batch.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Iterable, Iterator

from drumscribe import keys
from drumscribe.config import Settings, load_settings
from drumscribe.errors import ConfigError, DrumscribeError, StorageError, TranscriptionError

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
DEFAULT_RETRIES = 2
MAX_IN_FLIGHT_PER_WORKER = 50  # bounds client and scheduler memory while a huge prefix is listed
INSTALL_HINT = 'pip install "drumscribe[cluster]"'
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


@dataclass
class BatchReport:
    results: list[BatchResult]
    wall_seconds: float
    workers: int
    cluster: str | None = None  # scheduler address, None for local processes

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[BatchResult]:
        return [r for r in self.results if r.status == FAILED]

    @property
    def audio_seconds(self) -> float:
        """Audio transcribed by this run (skipped inputs are not counted)."""
        return sum(r.audio_seconds for r in self.results if r.status == DONE)

    @property
    def audio_hours_per_hour(self) -> float:
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "inputs": len(self.results), "done": self.count(DONE), "skipped": self.count(SKIPPED),
            "failed": self.count(FAILED), "audio_seconds": round(self.audio_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3), "audio_hours_per_hour": round(self.audio_hours_per_hour, 2),
            "workers": self.workers, "cluster": self.cluster,
        }

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary(), "results": [r.to_dict() for r in self.results]}


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
    """The sha256 of an input: a local file is hashed; an S3 object's metadata is used when it has one."""
    from drumscribe.jobs.run import is_s3_uri, parse_s3_uri, s3_storage_for
    from drumscribe.storage._common import sha256_file, sha256_stream

    if not is_s3_uri(item):
        try:
            return sha256_file(Path(item))[0]
        except OSError:
            return None  # missing or unreadable: the job itself reports it in one line
    bucket, key = parse_s3_uri(item)
    source = s3_storage_for(bucket, settings)
    from drumscribe.storage.uploads import SOURCE_SHA256_META

    info = source.head(key)
    # a WAV drumscribe stored as FLAC: its job records the WAV's hash, kept in the metadata
    digest = info.metadata.get(SOURCE_SHA256_META) or info.sha256
    if digest:
        return digest
    with source.open(key) as stream:  # an object drumscribe did not store: read it once, on the worker
        return sha256_stream(stream)[0]


def run_task(item: str, opts: TaskOptions, done: dict | None = None, index: int = 0,
             context: tuple[Settings, Any] | None = None) -> BatchResult:
    """One input on a worker. Bad input -> a failed result; transient storage errors raise (retried).

    ``context``: (settings, storage) to use; default: built from ``opts`` once per worker process.
    """
    from drumscribe.jobs.run import transcribe_and_store
    from drumscribe.storage import LocalStorage
    from drumscribe.transcription.pipeline import get_model

    start, started_at = time.perf_counter(), time.time()
    _io.seconds = 0.0
    try:
        settings, storage = context or _worker_context(opts)
    except DrumscribeError as exc:  # e.g. this worker has no credentials: retrying elsewhere may not help either
        return _failed(index, item, ConfigError(f"on worker {_worker_name()}: {exc}"), start)
    try:
        if opts.skip_done and done:
            existing = done.get(content_sha256(item, settings))
            if existing is not None:
                return BatchResult(index, item, SKIPPED, job=_job_of(storage, existing), audio_seconds=existing.duration,
                                   task_seconds=time.perf_counter() - start, worker=_worker_name(),
                                   started_at=started_at, finished_at=time.time())
        # a retry after a dead worker writes under the same job id: whatever the killed attempt
        # wrote (output.mid without its transcription.json) is overwritten, then completed
        job_id = opts.job_id or keys.new_job_id()
        timings: dict[str, float] = {}
        result, job = transcribe_and_store(item, storage=storage, settings=settings, user_id=opts.user, model=get_model(opts.model),
                                           beats=opts.beats, job_id=job_id, timings=timings, midi_options=opts.midi)
    except StorageError as exc:
        if isinstance(storage, LocalStorage) or not _transient(exc):
            return _given_up(storage, opts, index, item, exc, start)
        raise  # S3 hiccup: let Dask retry the task
    except DrumscribeError as exc:
        return _given_up(storage, opts, index, item, exc, start)
    return BatchResult(index, item, DONE, job=job.to_dict(), audio_seconds=result.duration, work_seconds=sum(timings.values()),
                       s3_seconds=_io.seconds, task_seconds=time.perf_counter() - start, worker=_worker_name(), started_at=started_at,
                       finished_at=time.time(), document=result.to_json() if opts.documents else None)


def run_upload(filename: str, upload_key: str, opts: TaskOptions) -> DrumscribeError | None:
    """A job of ``drumscribe serve --cluster`` on a worker: transcribe the stored upload
    ``upload_key`` (``uploads/...``) under the job id the service chose (``opts.job_id``).

    None when done. The error that ended it is returned, not raised: Dask would re-run a task
    that raises, and bad audio stays bad; a transient storage error raises, so Dask retries it.
    ``filename`` names the source in error messages, as in the service's own thread pool.
    """
    from drumscribe.jobs.run import transcribe_and_store
    from drumscribe.storage import LocalStorage
    from drumscribe.transcription.pipeline import get_model

    try:
        settings, storage = _worker_context(opts)
    except DrumscribeError as exc:  # e.g. this worker has no credentials
        return ConfigError(f"on worker {_worker_name()}: {exc}")
    try:
        transcribe_and_store(filename, storage=storage, settings=settings, user_id=opts.user, model=get_model(opts.model),
                             beats=opts.beats, job_id=opts.job_id, stored_upload=upload_key, midi_options=opts.midi)
    except StorageError as exc:
        if isinstance(storage, LocalStorage) or not _transient(exc):
            return exc
        raise  # S3 hiccup: let Dask retry the task
    except DrumscribeError as exc:
        return exc
    return None


def _given_up(storage: Any, opts: TaskOptions, index: int, item: str, exc: DrumscribeError, start: float) -> BatchResult:
    """This input failed for good: also clear what an earlier, killed attempt of its job id left."""
    if opts.job_id:
        _clear_job(storage, opts.user, opts.job_id)
    return _failed(index, item, exc, start)


def _transient(exc: StorageError) -> bool:
    from drumscribe.errors import AccessDeniedError, ArchivedObjectError, CredentialsError, NotFoundError

    # an archived original stays archived for hours: retrying it on another worker cannot help
    return not isinstance(exc, (NotFoundError, AccessDeniedError, CredentialsError, ArchivedObjectError))


def _job_of(storage: Any, job: Any) -> dict[str, Any]:
    json_key = keys.transcription_key(job.user_id, job.job_id)
    midi_key = keys.midi_key(job.user_id, job.job_id)
    return {"job_id": job.job_id, "user_id": job.user_id, "sha256": job.sha256, "midi_key": midi_key,
            "transcription_key": json_key, "midi_uri": storage.uri(midi_key), "transcription_uri": storage.uri(json_key)}


def _failed(index: int, item: str, exc: BaseException, start: float | None = None) -> BatchResult:
    if isinstance(exc, DrumscribeError):
        message, code = str(exc), exc.exit_code
    else:  # a bug or a dead worker: still one line
        message, code = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}", 70
    seconds = time.perf_counter() - start if start is not None else 0.0
    return BatchResult(index, item, FAILED, error=message, exit_code=code, task_seconds=seconds)


# local process pool: this machine's processes get the client's settings as they are, and the
# index of done jobs once per process, not once per task
_pool: dict[str, Any] = {}


def _init_process(done: dict | None, settings: Settings, storage_kind: str) -> None:
    # N processes x N BLAS threads would oversubscribe the cores; numpy is not imported yet
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    from drumscribe.storage import get_storage

    _pool.update(done=done, context=(settings, get_storage(settings, prefer_local=storage_kind == "local", announce=False)))


def _run_in_process(item: str, opts: TaskOptions, index: int) -> BatchResult:
    try:
        return run_task(item, opts, _pool["done"], index, _pool["context"])
    except Exception as exc:  # no retries here: every error is this input's result
        return _failed(index, item, exc)


# -- client side -----------------------------------------------------------------------------
def transcribe_many(
    inputs: Iterable[str],
    *,
    cluster: Any = None,
    jobs: int | None = None,
    force: bool = False,
    retries: int = DEFAULT_RETRIES,
    settings: Settings | None = None,
    user_id: str | None = None,
    model: Any = None,
    beats: bool = True,
    documents: bool = False,
    prefer_local: bool = False,
    on_result: Callable[[BatchResult], None] | None = None,
    on_submit: Callable[[int], None] | None = None,
    midi_options: dict[str, Any] | None = None,
) -> BatchReport:
    """Transcribe and store every input; one ``BatchResult`` per concrete input, in input order.

    ``inputs``: files, folders, ``s3://bucket/key`` or ``s3://bucket/prefix/`` (listed lazily).
    ``cluster``: None (local processes, ``jobs`` of them), ``"local"`` (a ``LocalCluster`` of
    ``jobs`` single-threaded worker processes), a scheduler address, a ``distributed.Client`` or
    a cluster object. ``force``: transcribe inputs that already have a complete job again.
    ``retries``: how often Dask re-runs a task after a transient error or a dead worker.
    ``on_result`` is called on the client as each input finishes; ``on_submit`` with the number
    of inputs known so far. ``midi_options``: ``Transcription.to_midi`` keywords for each
    ``output.mid``. Ctrl-C (KeyboardInterrupt) cancels the submitted tasks and propagates.
    """
    from drumscribe.jobs.run import iter_inputs
    from drumscribe.jobs.store import complete_jobs
    from drumscribe.storage import get_storage
    from drumscribe.transcription.pipeline import get_model

    settings = settings or load_settings()
    user = keys.sanitize_user_id(user_id or settings.user)
    storage = get_storage(settings, prefer_local=prefer_local, announce=False)
    loaded = get_model(model)  # a bad model fails once, here
    done = {} if force else complete_jobs(storage, user, loaded.name, loaded.version)
    opts = TaskOptions(
        settings=tuple((name, getattr(settings, name)) for name in SHARED_SETTINGS), user=user, storage=storage.name,
        model=str(model) if isinstance(model, os.PathLike) else model, beats=beats, skip_done=not force, documents=documents,
        midi=midi_options or None,
    )
    items = iter_inputs(list(inputs), settings=settings)
    results: list[BatchResult] = []

    def collect(result: BatchResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)

    start = time.perf_counter()
    if cluster is None:
        workers = _run_on_processes(items, opts, done, jobs, (settings, storage), collect, on_submit)
        address = None
    else:
        workers, address = _run_on_dask(items, opts, done, cluster, jobs, retries, storage, settings, collect, on_submit)
    results.sort(key=lambda r: r.index)
    return BatchReport(results, time.perf_counter() - start, workers, address)


def _numbered(items: Iterator[tuple[str, str | None]], collect, on_submit) -> Iterator[tuple[int, str]]:
    """(index, input) of the usable inputs; the unusable ones become failed results right away."""
    for index, (item, error) in enumerate(items):
        if on_submit is not None:
            on_submit(index + 1)
        if error is None:
            yield index, item
        else:
            collect(BatchResult(index, item, FAILED, error=error, exit_code=2))


def _run_on_processes(items, opts: TaskOptions, done: dict, jobs: int | None, context, collect, on_submit) -> int:
    todo = list(_numbered(items, collect, on_submit))
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    if workers == 1:  # in this process, with the caller's settings and storage
        for index, item in todo:
            try:
                collect(run_task(item, replace(opts, job_id=keys.new_job_id()), done, index, context))
            except Exception as exc:  # no retries in this process: every error is this input's result
                collect(_failed(index, item, exc))
        return workers
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")  # no fork of a process with threads
    initargs = (done, context[0], opts.storage)
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_init_process, initargs=initargs) as pool:
        pending = {pool.submit(_run_in_process, item, replace(opts, job_id=keys.new_job_id()), index) for index, item in todo}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    collect(future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return workers


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError("running on a Dask cluster needs Dask distributed, which is not installed",
                          hint=f'{INSTALL_HINT} installs it') from None
    return distributed


def connect(cluster: Any, jobs: int | None = None, retries: int = DEFAULT_RETRIES):
    """(client, what to close afterwards, True if the workers share this machine's disk)."""
    distributed = _import_distributed()
    if isinstance(cluster, distributed.Client):
        return cluster, [], False
    if cluster == "local":
        import dask

        n = max(1, jobs or os.cpu_count() or 1)
        # a worker that dies mid-task counts against this; Dask re-runs the task until then
        with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
            local = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = distributed.Client(local)
        return client, [client, local], True
    if isinstance(cluster, str):
        try:
            client = distributed.Client(cluster, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {cluster} ({type(exc).__name__}: {exc})",
                              hint="start one with `dask scheduler`, or check --cluster / DASK_SCHEDULER_ADDRESS") from None
        return client, [client], False
    client = distributed.Client(cluster)  # a cluster object: LocalCluster, KubeCluster, ...
    return client, [client], isinstance(cluster, distributed.LocalCluster)


def _run_on_dask(items, opts: TaskOptions, done: dict, cluster: Any, jobs, retries: int, storage, settings, collect, on_submit):
    from drumscribe.storage import LocalStorage

    client, owned, same_machine = connect(cluster, jobs, retries)
    distributed = _import_distributed()
    try:
        if isinstance(storage, LocalStorage) and not same_machine:
            raise ConfigError("workers of a remote Dask cluster cannot write to this machine's local storage",
                              hint="configure an S3 bucket (`drumscribe setup`), or use --cluster local")
        from drumscribe.jobs._dask_plugin import Preload

        client.register_plugin(Preload(opts))  # model and storage client loaded once per worker, as it joins
        workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        # sent once to each worker, not with every task; in a list: a dict would be scattered key by key
        shared = client.scatter([done], broadcast=True)[0] if done else None
        in_flight: dict[Any, tuple[int, str, str]] = {}
        queue = distributed.as_completed()

        def settle(future) -> None:
            index, item, job_id = in_flight.pop(future)  # item: what the user named
            try:
                result = future.result()
            except BaseException as exc:  # retries spent, or the task died with every worker it ran on
                if isinstance(exc, KeyboardInterrupt):
                    raise
                if type(exc).__name__ == "KilledWorker":
                    exc = TranscriptionError(f"{item}: every worker that ran it died (the input may crash the "
                                             "transcriber, or the workers run out of memory)")
                result = _failed(index, item, exc)
                _clear_job(storage, opts.user, job_id)
            future.release()
            collect(replace(result, input=item))

        try:
            for index, item in _numbered(items, collect, on_submit):
                source = _stage_local_file(item, index, storage, settings, opts, done, same_machine, collect)
                if source is None:
                    continue
                job_id = keys.new_job_id()
                future = client.submit(run_task, source, replace(opts, job_id=job_id), shared, index,
                                       key=f"drumscribe-{job_id}", retries=retries, pure=False)
                in_flight[future] = (index, item, job_id)
                queue.add(future)
                for ready in queue.next_batch(block=False) if queue.has_ready() else ():
                    settle(ready)
                while len(in_flight) >= MAX_IN_FLIGHT_PER_WORKER * workers:
                    settle(next(queue))
            for future in queue:
                settle(future)
            workers = max(workers, len(client.scheduler_info(n_workers=-1).get("workers", {})))  # some joined late
        except BaseException:
            client.cancel(list(in_flight))  # Ctrl-C or an error: nothing more runs for this batch
            raise
        return workers, client.scheduler.address
    finally:
        for thing in owned:
            thing.close()


def _stage_local_file(item: str, index: int, storage, settings, opts: TaskOptions, done: dict, same_machine: bool, collect):
    """A local file for remote workers: skipped if done, else uploaded once; its s3:// URI is the task's input."""
    from drumscribe.jobs.run import is_s3_uri
    from drumscribe.storage import LocalStorage

    if is_s3_uri(item) or same_machine or isinstance(storage, LocalStorage):
        return item
    try:
        if opts.skip_done and done:
            existing = done.get(content_sha256(item, settings))
            if existing is not None:
                collect(BatchResult(index, item, SKIPPED, job=_job_of(storage, existing), audio_seconds=existing.duration))
                return None
        import tempfile

        from drumscribe.jobs import originals
        from drumscribe.transcription import audio

        audio.probe(item, name=item)  # not audio: nothing uploaded
        # stored as a one-job run stores it: once per content, a PCM WAV as its lossless FLAC
        with tempfile.TemporaryDirectory(prefix="drumscribe-") as tmp:
            original = originals.prepare(Path(item), filename=Path(item).name, storage=storage, settings=settings,
                                         user_id=opts.user, workdir=Path(tmp), name=item)
            stored = original.existing or originals.store(original, storage=storage, settings=settings, user_id=opts.user)
        return storage.uri(stored.key)
    except DrumscribeError as exc:
        collect(_failed(index, item, exc))
        return None


def _clear_job(storage: Any, user: str, job_id: str) -> None:
    from drumscribe.jobs.run import _cleanup

    _cleanup(storage, user, job_id)
