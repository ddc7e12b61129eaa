"""Finished transcription jobs, from whichever storage is active (S3 or the local mirror).

A job is ``processed/{user}/{job_id}/transcription.json`` (+ ``output.mid``). Job ids start
with a UTC timestamp (``keys.new_job_id``), so sorting ids newest-first needs no extra reads;
only the jobs that will be shown are downloaded, in parallel.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from drumscribe.config import Settings, load_settings
from drumscribe.errors import DrumscribeError, NotFoundError
from drumscribe.keys import PROCESSED, TRANSCRIPTION_JSON, midi_key, parse_processed_key, sanitize_user_id, transcription_key, validate_job_id

ALL_USERS = "*"


@dataclass
class JobSummary:
    job_id: str
    user_id: str
    key: str  # the transcription.json key
    size: int = 0
    source: str | None = None  # the original file name
    created_at: str | None = None
    duration: float | None = None  # seconds
    tempo: float | None = None  # BPM
    counts: dict[str, int] = field(default_factory=dict)  # hits per instrument
    error: str | None = None  # set when the JSON could not be read

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _storage(settings: Settings | None, storage: Any, prefer_local: bool = False):
    if storage is not None:
        return storage, settings or load_settings()
    from drumscribe.storage import get_storage

    settings = settings or load_settings()
    return get_storage(settings, prefer_local=prefer_local), settings


def list_jobs(
    settings: Settings | None = None,
    storage: Any = None,
    user: str | None = None,
    limit: int | None = None,
    *,
    details: bool = True,
    prefer_local: bool = False,
) -> list[JobSummary]:
    """Jobs of ``user`` (default: the configured user; ``"*"``: everyone), newest first.

    ``details=False`` skips reading each transcription (ids and sizes only: one listing).
    """
    storage, settings = _storage(settings, storage, prefer_local)
    user = user or settings.user
    prefix = f"{PROCESSED}/" if user == ALL_USERS else f"{PROCESSED}/{sanitize_user_id(user)}/"
    jobs = []
    for info in storage.list(prefix):
        parsed = parse_processed_key(info.key)
        if parsed and parsed[2] == TRANSCRIPTION_JSON:
            jobs.append(JobSummary(job_id=parsed[1], user_id=parsed[0], key=info.key, size=info.size))
    jobs.sort(key=lambda j: (j.job_id, j.user_id), reverse=True)
    if limit is not None:
        jobs = jobs[: max(0, int(limit))]
    if details and jobs:
        with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
            list(pool.map(lambda job: _fill(storage, job), jobs))
    return jobs


def _fill(storage: Any, job: JobSummary) -> None:
    from drumscribe.transcription.result import Transcription

    try:
        t = Transcription.from_json(storage.get(job.key))
    except DrumscribeError as exc:
        job.error = str(exc)
        return
    job.source = t.source.name or (t.source.key.rsplit("/", 1)[-1] if t.source.key else None)
    job.created_at = t.created_at
    job.duration = t.duration
    job.tempo = t.tempo
    job.counts = t.counts()


def load_job(job_id: str, settings: Settings | None = None, storage: Any = None, user: str | None = None, *, prefer_local: bool = False):
    """The ``Transcription`` of one job; one-line ``NotFoundError`` if there is no such job."""
    from drumscribe.transcription.result import Transcription

    storage, settings = _storage(settings, storage, prefer_local)
    user = user or settings.user
    validate_job_id(job_id)
    key = transcription_key(user, job_id)
    try:
        data = storage.get(key)
    except NotFoundError:
        raise NotFoundError(f"no job {job_id!r} for user {user!r} in {storage.uri()}",
                            hint="`drumscribe jobs` lists them; --user picks another user") from None
    return Transcription.from_json(data)


def job_files(job_id: str, settings: Settings | None = None, storage: Any = None, user: str | None = None,
              *, prefer_local: bool = False) -> dict[str, str]:
    """``{"json": key, "midi": key}`` of a job that exists (NotFoundError otherwise)."""
    storage, settings = _storage(settings, storage, prefer_local)
    user = user or settings.user
    validate_job_id(job_id)
    files = {"json": transcription_key(user, job_id), "midi": midi_key(user, job_id)}
    if not storage.exists(files["json"]):
        raise NotFoundError(f"no job {job_id!r} for user {user!r} in {storage.uri()}",
                            hint="`drumscribe jobs` lists them; --user picks another user")
    return files


@dataclass(frozen=True)
class CompleteJob:
    """A finished job, as the batch's "already done?" index keeps it."""

    job_id: str
    user_id: str
    sha256: str  # of the original
    duration: float  # seconds of audio


def complete_jobs(storage: Any, user: str, model_name: str, model_version: str) -> dict[str, CompleteJob]:
    """Complete jobs of ``user`` made by this model version, by the sha256 of their original.

    A job is complete when its transcription.json exists (``jobs.run`` writes it last), so one
    listing finds them; each JSON is then read (in parallel) for the source hash and the model.
    With several jobs for one content, the newest wins. Unreadable documents are ignored: a job
    that cannot be read back does not count as done.
    """
    prefix = f"{PROCESSED}/{sanitize_user_id(user)}/"
    found = []
    for info in storage.list(prefix):
        parsed = parse_processed_key(info.key)
        if parsed and parsed[2] == TRANSCRIPTION_JSON:
            found.append((parsed[1], info.key))
    found.sort()  # job ids sort by time: the newest is added last and wins

    def read(job: tuple[str, str]):
        from drumscribe.transcription.result import Transcription

        try:
            return job[0], Transcription.from_json(storage.get(job[1]))
        except DrumscribeError:
            return job[0], None

    index: dict[str, CompleteJob] = {}
    if found:
        with ThreadPoolExecutor(max_workers=min(32, len(found))) as pool:
            for job_id, t in pool.map(read, found):
                if t is not None and t.source.sha256 and (t.model.name, t.model.version) == (model_name, model_version):
                    index[t.source.sha256] = CompleteJob(job_id, user, t.source.sha256, t.duration)
    return index
