"""Everything one running service holds: settings, who may call, storage and the job runner.

The job queries the routes need live here (not in the routes) so they can be read and tested
without HTTP; each takes the caller's user and only builds keys under that user's prefixes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.errors import DrumscribeError, NotFoundError
from drumscribe.service.auth import Auth
from drumscribe.service.runner import DONE, JobRunner, check_upload_key
from drumscribe.service.s3service import S3Service


@dataclass
class Context:
    settings: Settings
    auth: Auth
    service: S3Service
    runner: JobRunner
    workers: int = 1
    cluster: str | None = None  # the Dask scheduler's address when jobs run there (``serve --cluster``)
    _summaries: dict[tuple[str, str], Any] = field(default_factory=dict)  # results never change: cache them
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def storage(self):
        return self.service.storage

    def transcription(self, user: str, job_id: str):
        from drumscribe.jobs.store import load_job

        return load_job(job_id, settings=self.settings, storage=self.storage, user=user)

    def summary(self, user: str, job_id: str):
        """A finished job's status with its result summary; None if there is no such job."""
        with self._lock:
            cached = self._summaries.get((user, job_id))
        if cached is not None:
            return cached.model_copy(deep=True)
        try:
            t = self.transcription(user, job_id)
        except NotFoundError:
            return None
        except DrumscribeError as exc:  # a damaged transcription.json: shown, not fatal to the list
            from drumscribe.service.api import JobStatus

            return JobStatus(job_id=job_id, state="failed", error=f"cannot read its results: {exc}")
        return self._remember(user, job_id, t.source.name, t.created_at, t.duration, t.tempo, t.counts())

    def finished(self, user: str, limit: int) -> list:
        """The newest ``limit`` finished jobs of ``user``; results not seen yet are read in parallel."""
        from concurrent.futures import ThreadPoolExecutor

        from drumscribe.jobs.store import list_jobs

        ids = [job.job_id for job in list_jobs(self.settings, self.storage, user, limit=limit, details=False)]
        if not ids:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(ids))) as pool:
            found = list(pool.map(lambda job_id: self.summary(user, job_id), ids))
        return [s for s in found if s is not None]

    def _remember(self, user: str, job_id: str, name, created_at, duration, tempo, counts):
        from drumscribe.service.api import JobStatus

        status = JobStatus(job_id=job_id, state=DONE, filename=name, finished_at=created_at,
                           result={"duration": duration, "tempo": tempo, "counts": counts})
        with self._lock:
            self._summaries[(user, job_id)] = status
        return status.model_copy(deep=True)

    def _upload_used_elsewhere(self, user: str, job_id: str, upload: str) -> bool:
        """Originals are stored once per content, so one upload may serve several jobs (the
        service's and the CLI's): it goes only with the last job that uses it. Reads each of the
        user's stored jobs once; a job that cannot be read counts as using it (keep, never lose)."""
        from drumscribe.transcription.result import Transcription

        if any(r.upload_key == upload and r.job_id != job_id for r in self.runner.records(user)):
            return True
        mine = keys.job_prefix(user, job_id)
        for info in self.storage.list(f"{keys.PROCESSED}/{keys.sanitize_user_id(user)}/"):
            if not info.key.endswith("/" + keys.TRANSCRIPTION_JSON) or info.key.startswith(mine):
                continue
            try:
                if Transcription.from_json(self.storage.get(info.key)).source.key == upload:
                    return True
            except DrumscribeError:
                return True
        return False

    def delete_job(self, user: str, job_id: str) -> bool:
        """Delete a job's results, record and upload; False if ``user`` has no such job."""
        record = self.runner.forget(user, job_id)  # Conflict while it runs
        upload = record.upload_key if record else None
        doomed = [o.key for o in self.storage.list(keys.job_prefix(user, job_id))]
        if doomed and upload is None:
            try:
                upload = self.transcription(user, job_id).source.key
            except DrumscribeError:
                upload = None
        if upload and not self._upload_used_elsewhere(user, job_id, upload):
            try:
                doomed.append(check_upload_key(user, upload))  # only ever the user's own upload
            except DrumscribeError:
                pass
        if doomed:
            self.storage.delete_many(doomed)
        with self._lock:
            self._summaries.pop((user, job_id), None)
        return bool(record or doomed)
