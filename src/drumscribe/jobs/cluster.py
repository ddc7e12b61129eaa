"""A batch on a Dask cluster: one task per input, submitted as inputs are listed, results collected.

``connect`` turns what the user named (``"local"``, a scheduler address, a ``distributed.Client``
or a cluster object) into a client; ``_run_on_dask`` submits ``tasks.run_task`` per input with
bounded work in flight, and clears the job of an input whose every attempt died. A local file for
workers on other machines is stored first (``_stage_local_file``), once per content.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from drumscribe import keys
from drumscribe.errors import ConfigError, DrumscribeError, TranscriptionError
from drumscribe.jobs.tasks import SKIPPED, BatchResult, TaskOptions, _clear_job, _failed, _numbered, run_task

DEFAULT_RETRIES = 2
MAX_IN_FLIGHT_PER_WORKER = 50  # bounds client and scheduler memory while a huge prefix is listed
INSTALL_HINT = 'pip install "drumscribe[cluster]"'


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
        except BaseException as exc:
            unfinished = [f for f in in_flight if f.status != "finished"]
            client.cancel(unfinished)  # Ctrl-C or an error: nothing more runs for this batch
            if isinstance(exc, KeyboardInterrupt):  # what finished meanwhile is kept: report it
                for future in [f for f in in_flight if f.status == "finished"]:
                    settle(future)
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
        import tempfile

        from drumscribe.jobs import originals
        from drumscribe.jobs.identity import job_options
        from drumscribe.jobs.profiles import for_user
        from drumscribe.jobs.run import _answer, _Earlier
        from drumscribe.storage._common import sha256_file
        from drumscribe.transcription import audio
        from drumscribe.transcription.pipeline import get_model

        audio.probe(item, name=item)  # not audio: nothing uploaded
        sha256 = sha256_file(Path(item))[0]
        if opts.skip_done:  # the same rule as a job's own (jobs.identity), before anything is uploaded
            model = get_model(for_user(opts.model, storage, opts.user))  # with the user's tuned profile, as the job will run
            earlier = _Earlier(storage, opts.user, model, job_options(opts.beats, opts.midi), False, done or {})
            found = earlier(sha256)
            answer = _answer(storage, opts.user, found, item, opts.documents) if found is not None else None
            if answer is not None:
                result, job = answer
                collect(BatchResult(index, item, SKIPPED, job=job.to_dict(), audio_seconds=job.duration or 0.0,
                                    document=result.to_json() if result is not None else None))
                return None
        # stored as a one-job run stores it: once per content, a PCM WAV as its lossless FLAC
        with tempfile.TemporaryDirectory(prefix="drumscribe-") as tmp:
            original = originals.prepare(Path(item), filename=Path(item).name, storage=storage, settings=settings,
                                         user_id=opts.user, workdir=Path(tmp), name=item, sha256=sha256)
            stored = original.existing or originals.store(original, storage=storage, settings=settings, user_id=opts.user)
        return storage.uri(stored.key)
    except DrumscribeError as exc:
        collect(_failed(index, item, exc))
        return None

