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

Idempotent: unless ``force``, an input that already has a complete job of the same content,
model and options (``jobs.identity``, the rule every job follows) is reported as skipped and not
transcribed again. The content hash comes from the object's ``sha256`` metadata (every object
drumscribe stores has it), else from the bytes the task downloads anyway, hashed once.

Faults: a task whose worker dies is re-run elsewhere by Dask (bounded). Every task writes under
a job id chosen by the client, so a retry overwrites what the killed attempt half-wrote and
completes it; an input that fails for good has its job prefix cleared (by the task, or by the
client when no attempt survived), so nothing half-written stays under ``processed/`` once the
batch ends. Bad input is a failed result, never an exception that stops the batch.

Rooms: this module is the client's entry point and report; ``jobs.tasks`` is what runs per input
on a worker (``run_task``, ``run_upload``, ``BatchResult``, ``TaskOptions``), ``jobs.pool`` the
local processes and ``jobs.cluster`` the Dask side (``connect``). Their names stay importable
from here.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from drumscribe import keys
from drumscribe._signals import deferred
from drumscribe.config import Settings, load_settings
from drumscribe.jobs.cluster import (  # noqa: F401  (the names callers and workers know batch by)
    DEFAULT_RETRIES, INSTALL_HINT, MAX_IN_FLIGHT_PER_WORKER, _import_distributed, _run_on_dask, _stage_local_file, connect,
)
from drumscribe.jobs.pool import _run_on_processes
from drumscribe.jobs.tasks import (  # noqa: F401  (the names callers and workers know batch by)
    DONE, FAILED, SHARED_SETTINGS, SKIPPED, BatchResult, TaskOptions, _clear_job, _failed, _worker_context, content_sha256,
    run_task, run_upload,
)


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
    a cluster object. ``force``: transcribe again inputs that already have a complete job of the
    same content, model and options (``jobs.identity``); without it they are skipped, and their
    result names that job (with ``documents``, its document: ``-o`` writes its files).
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
    get_model(model)  # a bad model fails once, here
    done = {} if force else complete_jobs(storage, user)  # by identity: content + model + options (jobs.identity)
    opts = TaskOptions(
        settings=tuple((name, getattr(settings, name)) for name in SHARED_SETTINGS), user=user, storage=storage.name,
        model=str(model) if isinstance(model, os.PathLike) else model, beats=beats, skip_done=not force, documents=documents,
        midi=midi_options or None,
    )
    items = iter_inputs(list(inputs), settings=settings)
    results: list[BatchResult] = []

    handed: set[int] = set()

    def collect(result: BatchResult) -> None:
        # a Ctrl-C waits until this result is handed on, whole; the pool collects what finished once
        # more after a Ctrl-C, so a result that was already handed on is not handed on again
        with deferred(signal.SIGINT):
            if result.index in handed:
                return
            handed.add(result.index)
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

