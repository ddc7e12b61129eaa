"""Background jobs of the service: a bounded pool of worker threads and a small state record per job.

A job's life: ``queued`` -> ``running`` -> ``done`` or ``failed``. While it is not done, its
record lives in storage at ``temp/{job_id}/job.json`` (written whole in one ``put``, which is
atomic on both backends), so a restarted server knows about it; a record found ``queued`` or
``running`` at start-up belonged to a server that stopped, and becomes ``interrupted``. Failed and
interrupted jobs can be retried under the same id. A finished job is its results under
``processed/{user}/{job}/`` (``transcription.json`` written last), and its record is deleted: the
results are the record. (On S3 the lifecycle rule expires ``temp/`` after a day, so a failed
job's record goes after a day too; its upload stays.)

A job whose upload has the content of an earlier complete job, transcribed by the same model
with the same options, is not transcribed again unless it was started with ``force``
(``jobs.identity``, the rule of every job): it is done at once, and its record stays, naming the
job that answered (``answered_by``), whose results it shows.

Threads, not processes: the model is loaded once and shared, the numeric work releases the GIL,
and job states stay in one process's memory.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.errors import DrumscribeError, InputError, NotFoundError
from drumscribe.storage.base import Storage

QUEUED, RUNNING, DONE, FAILED, INTERRUPTED = "queued", "running", "done", "failed", "interrupted"
ACTIVE = (QUEUED, RUNNING)
RETRYABLE = (FAILED, INTERRUPTED)
RECORD_NAME = "job.json"


MAX_WAITING = 100  # jobs queued or running at once; more are refused rather than piling up unseen


class Conflict(DrumscribeError):
    """The job is not in a state that allows this (HTTP 409)."""


class Busy(DrumscribeError):
    """Too many jobs are waiting (HTTP 503): try again later."""


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class JobRecord:
    job_id: str
    user_id: str
    upload_key: str
    filename: str
    state: str = QUEUED
    error: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    force: bool = False  # transcribe even if an earlier job has the same content, model and options
    answered_by: str | None = None  # done without transcribing: this earlier job has the results

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_key(job_id: str) -> str:
    return keys.temp_key(job_id, RECORD_NAME)


def filename_of(upload_key: str) -> str:
    from drumscribe.jobs.run import _original_name

    return _original_name(upload_key)


class JobRunner:
    def __init__(self, storage: Storage, settings: Settings, *, workers: int = 1, model: Any = None,
                 transcribe: Callable[..., Any] | None = None, max_waiting: int = MAX_WAITING):
        from drumscribe.jobs.run import transcribe_and_store

        self.storage, self.settings, self.model = storage, settings, model
        self._transcribe = transcribe or transcribe_and_store
        self._pool = ThreadPoolExecutor(max_workers=max(1, int(workers)), thread_name_prefix="drumscribe-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, JobRecord] = {}
        self.max_waiting = max_waiting

    # --- start-up and shut-down ----------------------------------------------------------

    def recover(self) -> list[JobRecord]:
        """Load the records a previous server left; mark the unfinished ones ``interrupted``."""
        found = []
        for info in self.storage.list(f"{keys.TEMP}/"):
            parts = info.key.split("/")
            if len(parts) != 3 or parts[2] != RECORD_NAME:
                continue
            try:
                record = JobRecord(**json.loads(self.storage.get(info.key)))
                keys.validate_job_id(record.job_id)
            except (DrumscribeError, ValueError, TypeError):
                continue  # not ours, or damaged: leave it to the temp/ lifecycle
            if record.state in ACTIVE:
                record.state, record.error = INTERRUPTED, "the server stopped before this job finished; retry it"
                record.finished_at = now()
                self._save(record)
            with self._lock:
                self._jobs[record.job_id] = record
            found.append(record)
        return found

    def shutdown(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # --- jobs ----------------------------------------------------------------------------

    def submit(self, user_id: str, upload_key: str, *, force: bool = False) -> JobRecord:
        record = JobRecord(job_id=keys.new_job_id(), user_id=user_id, upload_key=upload_key,
                           filename=filename_of(upload_key), created_at=now(), force=bool(force))
        self._enqueue(record)
        return record

    def retry(self, user_id: str, job_id: str) -> JobRecord:
        record = self.get(user_id, job_id)
        if record is None or record.state not in RETRYABLE:
            raise Conflict(f"job {job_id} is {record.state if record else DONE}; only failed or interrupted jobs can be retried")
        record = JobRecord(job_id=record.job_id, user_id=record.user_id, upload_key=record.upload_key,
                           filename=record.filename, created_at=record.created_at, force=record.force)
        self._enqueue(record)
        return record

    def get(self, user_id: str, job_id: str) -> JobRecord | None:
        """The record of one of ``user_id``'s unfinished jobs (None: no record, maybe done)."""
        with self._lock:
            record = self._jobs.get(job_id)
        return record if record is not None and record.user_id == user_id else None

    def records(self, user_id: str) -> list[JobRecord]:
        with self._lock:
            return [r for r in self._jobs.values() if r.user_id == user_id]

    def forget(self, user_id: str, job_id: str) -> JobRecord | None:
        """Drop the record of a job that is not running; returns it (``Conflict`` if active)."""
        record = self.get(user_id, job_id)
        if record is None:
            return None
        if record.state in ACTIVE:
            raise Conflict(f"job {job_id} is {record.state}; wait for it to finish before deleting it")
        self.storage.delete(record_key(job_id))
        with self._lock:
            self._jobs.pop(job_id, None)
        return record

    # --- inside ---------------------------------------------------------------------------

    def _enqueue(self, record: JobRecord) -> None:
        with self._lock:
            waiting = sum(r.state in ACTIVE for r in self._jobs.values())
            if waiting >= self.max_waiting:
                raise Busy(f"{waiting} jobs are already waiting; try again when some have finished")
            self._jobs[record.job_id] = record
        self._save(record)
        self._pool.submit(self._run, record)

    def _save(self, record: JobRecord) -> None:
        self.storage.put(record_key(record.job_id), json.dumps(record.as_dict()).encode("utf-8"),
                         content_type="application/json")

    def _run(self, record: JobRecord) -> None:
        from drumscribe.service.stored import fit_upload

        self._set(record, state=RUNNING, started_at=now())
        try:  # the source is named by its file name only: that is what an error message should show
            fitted = fit_upload(self.storage, self.settings, record.user_id, record.upload_key, record.filename)
            if fitted != record.upload_key:  # stored as a lossless FLAC to fit the limit: a retry reads that
                self._set(record, upload_key=fitted)
            outcome = self._transcribe(record.filename, storage=self.storage, settings=self.settings,
                                       user_id=record.user_id, model=self.model, job_id=record.job_id,
                                       stored_upload=record.upload_key, force=record.force)
        except NotFoundError:
            self._fail(record, f"the upload {record.filename} is gone from storage")
        except DrumscribeError as exc:
            self._fail(record, str(exc))
        except Exception as exc:  # a bug still ends the job with one line instead of a silent thread death
            self._fail(record, f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}")
        else:
            job = outcome[1] if isinstance(outcome, tuple) else outcome
            if getattr(job, "existing", False) and job.job_id != record.job_id:
                # answered by an earlier job: the record stays, so this job id still leads to the results
                self._set(record, state=DONE, answered_by=job.job_id, finished_at=now())
                return
            # the results are the record of a finished job: its state record is no longer needed
            with self._lock:
                self._jobs.pop(record.job_id, None)
                record.state, record.finished_at = DONE, now()
            try:
                self.storage.delete(record_key(record.job_id))
            except DrumscribeError:
                pass  # a stale record of a done job is ignored (results win) and expires with temp/

    def _fail(self, record: JobRecord, error: str) -> None:
        self._set(record, state=FAILED, error=error, finished_at=now())

    def _set(self, record: JobRecord, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)
        try:
            self._save(record)
        except DrumscribeError:
            pass  # the in-memory state is still right; only a restart would lose it


def check_upload_key(user_id: str, key: str) -> str:
    """``key`` if it is one of ``user_id``'s uploads, else ``InvalidKeyError``/``InputError``."""
    keys.validate_key(key)
    prefix = f"{keys.UPLOADS}/{keys.sanitize_user_id(user_id)}/"
    if not key.startswith(prefix) or "/" in key[len(prefix):]:
        from drumscribe.errors import InvalidKeyError

        raise InvalidKeyError(f"upload key must be directly under {prefix}")
    from drumscribe.transcription.audio import is_audio_name

    if not is_audio_name(key):
        raise InputError(f"{key.rsplit('/', 1)[-1]} does not name an audio file")
    return key
