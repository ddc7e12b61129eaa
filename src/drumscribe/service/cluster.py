"""``drumscribe serve --cluster``: each job the service starts runs as one task on a Dask cluster.

``ClusterJobs`` has the signature of ``jobs.run.transcribe_and_store`` as the ``JobRunner`` calls
it, so the runner, its states and its one-line errors stay the same: the runner's thread submits
one task (``batch.run_upload``) and waits for it. Workers read the upload from S3 and write the
results to S3 themselves; no audio goes through the app. A worker that dies mid-task, or an S3
hiccup, re-runs the task (bounded by ``retries``) under the same job id, which overwrites what
the killed attempt half-wrote.

Workers cannot see this machine's disk, so the local mirror (no bucket) is refused, except with
``"local"`` (a ``LocalCluster`` of worker processes on this machine) or a ``LocalCluster`` object.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from typing import Any

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.errors import ConfigError, DrumscribeError, TranscriptionError
from drumscribe.jobs import batch
from drumscribe.storage.base import Storage


def _same_machine(cluster: Any) -> bool:
    """Whether the workers will share this machine's disk, known before connecting."""
    if cluster == "local":
        return True
    distributed = batch._import_distributed()
    return isinstance(cluster, distributed.LocalCluster)


class ClusterJobs:
    """Runs the service's jobs on ``cluster`` (an address, ``"local"``, a ``distributed.Client``
    or a cluster object, as ``transcribe_many`` takes); ``workers`` sizes a ``"local"`` cluster."""

    def __init__(self, cluster: Any, storage: Storage, settings: Settings, *, workers: int = 1, model: Any = None,
                 retries: int = batch.DEFAULT_RETRIES):
        batch._import_distributed()  # the missing extra: the same one line as `transcribe --cluster`
        local_disk = storage.name != "s3"
        if local_disk and not _same_machine(cluster):
            raise ConfigError("workers of a remote Dask cluster cannot read or write this machine's local storage",
                              hint="configure an S3 bucket (`drumscribe setup`), or use --cluster local")
        shared = [(name, getattr(settings, name)) for name in batch.SHARED_SETTINGS]
        if local_disk:  # workers on this machine: the same mirror folder as the app
            shared.append(("home", settings.home))
        self.storage, self.retries = storage, retries
        self._opts = batch.TaskOptions(settings=tuple(shared), user=settings.user, storage=storage.name,
                                       model=str(model) if isinstance(model, os.PathLike) else model)
        self.client, self._owned, _ = batch.connect(cluster, workers, retries)
        self._closing = threading.Event()
        self._waiting: set[Any] = set()  # futures of running jobs, cancelled at shut-down
        self._lock = threading.Lock()
        from drumscribe.jobs._dask_plugin import Preload

        self.client.register_plugin(Preload(self._opts))  # model and storage client loaded once per worker
        self.address = self.client.scheduler.address

    def __call__(self, source: str, *, user_id: str, job_id: str, stored_upload: str, force: bool = False,
                 **_ignored: Any) -> tuple[None, Any]:
        """Transcribe ``stored_upload`` on a worker; raise what ended it, as ``transcribe_and_store`` would.

        Returns (None, the ``JobResult``): ``existing`` when an earlier job answered."""
        from drumscribe.jobs.run import JobResult

        opts = replace(self._opts, user=keys.sanitize_user_id(user_id), job_id=job_id, skip_done=not force)
        future = self.client.submit(batch.run_upload, source, stored_upload, opts, retries=self.retries, pure=False)
        with self._lock:
            self._waiting.add(future)
        try:
            outcome = future.result()
        except BaseException as exc:  # retries spent, the task died with every worker it ran on, or shut-down
            batch._clear_job(self.storage, opts.user, job_id)  # nothing half-written stays
            if self._closing.is_set():
                raise DrumscribeError("the server stopped before this job finished; retry it") from None
            if type(exc).__name__ == "KilledWorker":
                raise TranscriptionError(f"{source}: every worker that ran it died (the input may crash the "
                                         "transcriber, or the workers run out of memory)") from None
            raise
        finally:
            with self._lock:
                self._waiting.discard(future)
            future.release()
        if isinstance(outcome, BaseException):
            batch._clear_job(self.storage, opts.user, job_id)  # also what an earlier, killed attempt left
            raise outcome
        return None, JobResult(**outcome)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            waiting = list(self._waiting)
        if waiting:  # a client we do not own stays open: its tasks for us must stop anyway
            try:
                self.client.cancel(waiting)
            except Exception:
                pass
        for thing in self._owned:
            try:
                thing.close()
            except Exception:  # closing at shut-down: nothing left to tell anyone
                pass
