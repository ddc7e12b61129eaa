"""A batch on local worker processes (``drumscribe transcribe --jobs N``): each loads the model once.

One worker runs in this process, with the caller's settings and storage; more are a pool of
spawned processes, each given the client's settings as they are and the index of done jobs once.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from typing import Any

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.jobs.tasks import BatchResult, TaskOptions, _failed, _numbered, run_task

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

