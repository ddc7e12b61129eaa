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
    # a result changes only when it is edited: cached by the ETag of its edited.json (None: never edited)
    _summaries: dict[tuple[str, str, str | None], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def storage(self):
        return self.service.storage

    def transcription(self, user: str, job_id: str):
        """The job's revision every view shows: the edited one when there is one (``edits.Revision``)."""
        from drumscribe.jobs.edits import find_revision

        return find_revision(job_id, settings=self.settings, storage=self.storage, user=user)

    def edited_tag(self, user: str, job_id: str) -> str | None:
        try:
            from drumscribe.jobs.store import object_tag

            return object_tag(self.storage.head(keys.edited_key(user, job_id)))
        except NotFoundError:
            return None

    def summary(self, user: str, job_id: str, edited_tag: str | None | bool = False):
        """A finished job's status with its result summary; None if there is no such job.

        ``edited_tag``: the ETag of its edited.json as a listing gave it (None: not edited); by
        default it is asked for (one HEAD), so an edit saved elsewhere shows at once."""
        if edited_tag is False:
            edited_tag = self.edited_tag(user, job_id)
        with self._lock:
            cached = self._summaries.get((user, job_id, edited_tag))
        if cached is not None:
            return cached.model_copy(deep=True)
        try:
            found = self.transcription(user, job_id)
        except NotFoundError:
            return None
        except DrumscribeError as exc:  # a damaged transcription.json: shown, not fatal to the list
            from drumscribe.service.api import JobStatus

            return JobStatus(job_id=job_id, state="failed", error=f"cannot read its results: {exc}")
        t = found.transcription
        edited = None if found.edited is None else {"revision": found.edited.revision, "at": found.edited.at,
                                                    "summary": dict(found.edited.summary), "via": found.edited.via}
        return self._remember(user, job_id, edited_tag, t.source.name, t.created_at, t.duration, t.tempo, t.counts(),
                              edited=edited, revision=found.current)

    def finished(self, user: str, limit: int) -> list:
        """The newest ``limit`` finished jobs of ``user``; results not seen yet are read in parallel."""
        from concurrent.futures import ThreadPoolExecutor

        from drumscribe.jobs.store import list_jobs

        listed = list_jobs(self.settings, self.storage, user, limit=limit, details=False)
        if not listed:
            return []
        with ThreadPoolExecutor(max_workers=min(8, len(listed))) as pool:
            found = list(pool.map(lambda job: self.summary(user, job.job_id, job.edited_tag), listed))
        return [s for s in found if s is not None]

    def _remember(self, user: str, job_id: str, tag, name, created_at, duration, tempo, counts, *, edited, revision):
        from drumscribe.service.api import JobStatus

        status = JobStatus(job_id=job_id, state=DONE, filename=name, finished_at=created_at,
                           result={"duration": duration, "tempo": tempo, "counts": counts, "edited": edited, "revision": revision})
        with self._lock:
            self._summaries[(user, job_id, tag)] = status
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
                upload = self.transcription(user, job_id).model.source.key
            except DrumscribeError:
                upload = None
        if upload and not self._upload_used_elsewhere(user, job_id, upload):
            try:
                doomed.append(check_upload_key(user, upload))  # only ever the user's own upload
            except DrumscribeError:
                pass
        if doomed:
            self.storage.delete_many(doomed)
        self.forget_summary(user, job_id)
        return bool(record or doomed)

    def forget_summary(self, user: str, job_id: str) -> None:
        with self._lock:
            for cached in [k for k in self._summaries if k[:2] == (user, job_id)]:
                del self._summaries[cached]
