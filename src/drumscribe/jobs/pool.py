"""A batch on local worker processes (``drumscribe transcribe --jobs N``): each loads the model once.

One worker runs in this process, with the caller's settings and storage; more are a pool of
spawned processes, each given the client's settings as they are and the index of done jobs once.

Ctrl-C: the worker processes ignore SIGINT, so the terminal's Ctrl-C reaches only this process,
which decides: inputs not started are cancelled (only as many are handed out as there are
workers), each worker is sent SIGTERM, which interrupts its job like Ctrl-C (the job deletes
what it wrote; ``jobs.run``), every job that finished meanwhile is still collected and
reported, and the command returns only once every worker has exited (one still there 10 s after
the pool told it to go is killed), then KeyboardInterrupt propagates. No waiting for queued work:
the exit is prompt. A job holds SIGTERM back while it records the upload it stores and while it
cleans up (``jobs.run``), so a stopped job never leaves an upload or a temporary file behind.
"""

from __future__ import annotations

import os
import signal
import time
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
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (see the module docstring)
    from drumscribe._allocator import keep_freed_memory

    keep_freed_memory()  # a process of ours that only transcribes
    import atexit

    atexit.register(_exit_without_teardown)
    from drumscribe.storage import get_storage

    _pool.update(done=done, context=(settings, get_storage(settings, prefer_local=storage_kind == "local", announce=False)))


def _exit_without_teardown() -> None:
    """A pool worker has nothing left to finish when it exits: each job wrote (and fsynced) its files
    before returning, and multiprocessing has flushed its queues before the interpreter's exit
    handlers run. Its teardown, which frees every module and object one by one (numpy, madmom,
    boto3), costs CPU for nothing, and seconds on a busy machine while the parent waits to exit."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


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
    queue = iter(todo)
    theirs = {p.pid for p in multiprocessing.active_children()}  # the caller's own processes (library use): never ours to stop
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_init_process, initargs=initargs) as pool:
        running: dict = {}  # future -> (index, input, job id): the client picks each job's id

        def hand_out() -> None:  # one input per free worker: nothing waits in the pool's queue
            for index, item in queue:
                job_id = keys.new_job_id()
                running[pool.submit(_run_in_process, item, replace(opts, job_id=job_id), index)] = (index, item, job_id)
                if len(running) >= workers:
                    return

        try:
            hand_out()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    collect(future.result())  # before it leaves `running`: a Ctrl-C meanwhile collects it again
                    running.pop(future)
                hand_out()
        except KeyboardInterrupt:
            _interrupt(pool, running, collect, context[1], opts, theirs)
            raise
    return workers


def _interrupt(pool: ProcessPoolExecutor, running: dict, collect, storage: Any, opts: TaskOptions, theirs: set[int],
               grace: float = 30.0) -> None:
    """Ctrl-C: stop the workers' jobs (SIGTERM: each job cleans up after itself) and collect what finished.

    A job can complete in storage a moment before its worker is stopped and never hand its result
    back: its job id says where to look, so it is found there and reported like the others, once
    every worker is gone (a job's cleanup is over then, so what storage shows is final)."""
    for future in running:
        future.cancel()  # one not started yet
    processes = _workers(pool, theirs)
    for process in processes:
        try:
            os.kill(process.pid, signal.SIGTERM)
        except (OSError, AttributeError):
            pass  # already gone
    finished, _ = wait(running, timeout=grace)  # cleanup takes a moment; a hung storage call is not waited for forever
    pool.shutdown(wait=False, cancel_futures=True)  # the pool's thread tells each worker to exit
    _wait_gone(processes, 10.0)
    for future, (index, item, job_id) in running.items():
        result = None
        if future in finished and not future.cancelled() and future.exception() is None:
            result = future.result()
        if result is None or not result.ok:
            result = _completed_in_storage(storage, opts, index, item, job_id) or result
        if result is not None and result.ok:
            collect(result)  # finished before the signal reached it: it is kept, so it is reported


def _workers(pool: ProcessPoolExecutor, theirs: set[int]) -> list[Any]:
    """Every worker process of the pool: the ones it registered, and any this process started since
    the pool was made that it had not registered yet (a Ctrl-C can land inside ``submit``, between
    the start and the registration); ``theirs``, the caller's own children, are left alone. The
    pool has no public handle on them."""
    import multiprocessing

    found = {p.pid: p for p in getattr(pool, "_processes", {}).values()}
    found.update((p.pid, p) for p in multiprocessing.active_children() if p.pid not in theirs)
    return list(found.values())


def _wait_gone(processes: list[Any], grace: float) -> None:
    """Return only when every worker has exited, killing what is left after ``grace`` seconds.

    A worker whose job SIGTERM interrupted survives it (the job cleans up and the pool's worker loop
    waits for more) until the pool's exit message reaches it; the CLI then ends without the
    interpreter's teardown, which would have waited for that. Left running, such a worker would
    outlive the command, holding memory and the terminal's pipes (a `| tee` would never end)."""
    from multiprocessing.connection import wait as wait_any

    pending = {p.sentinel: p for p in processes if p.is_alive()}
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        for sentinel in wait_any(list(pending), timeout=max(0.0, deadline - time.monotonic())):
            pending.pop(sentinel, None)
    for process in pending.values():
        try:
            os.kill(process.pid, signal.SIGKILL)  # hung past the grace period: nothing is left behind running
        except OSError:
            pass


def _completed_in_storage(storage: Any, opts: TaskOptions, index: int, item: str, job_id: str) -> BatchResult | None:
    from drumscribe.errors import DrumscribeError
    from drumscribe.jobs.run import completed_job
    from drumscribe.jobs.tasks import DONE

    try:
        found = completed_job(storage, opts.user, job_id, item, opts.documents)
    except DrumscribeError:
        return None
    if found is None:
        return None
    result, job = found
    return BatchResult(index, item, DONE, job=job.to_dict(), audio_seconds=job.duration or 0.0,
                       document=result.to_json() if result is not None else None)
