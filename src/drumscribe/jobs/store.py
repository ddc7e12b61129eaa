"""Finished transcription jobs, from whichever storage is active (S3 or the local mirror).

A job is ``processed/{user}/{job_id}/transcription.json`` (+ ``output.mid``). Job ids start
with a UTC timestamp (``keys.new_job_id``), so sorting ids newest-first needs no extra reads;
only the jobs that will be shown are downloaded, in parallel.

Work made before a bucket was configured stays in the offline mirror (``$DRUMSCRIBE_HOME/local``)
until ``drumscribe sync push --from-local`` sends it. Until then, and whenever no storage is
passed explicitly, ``list_jobs`` lists those jobs too (``location="offline"``; a job in both
places is listed once, from the active storage) and ``find_job``/``load_job`` fall back to them.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from drumscribe.config import Settings, load_settings
from drumscribe.errors import DrumscribeError, NotFoundError
from drumscribe.keys import EDITED_JSON, PROCESSED, TRANSCRIPTION_JSON, midi_key, parse_processed_key, sanitize_user_id, transcription_key, validate_job_id

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
    location: str = ""  # "s3" or "local" (the active storage), or "offline" (only in the offline mirror, not pushed yet)
    edited: bool = False  # the job has an edited revision (``jobs/edits.py``): counts are the edited ones
    edited_tag: str | None = None  # the ETag of its edited.json, as listed (a new one with every save)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


OFFLINE = "offline"


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
    from drumscribe.storage import offline_storage

    explicit = storage is not None
    storage, settings = _storage(settings, storage, prefer_local)
    user = user or settings.user
    prefix = f"{PROCESSED}/" if user == ALL_USERS else f"{PROCESSED}/{sanitize_user_id(user)}/"
    places = [(storage, storage.name)]
    offline = None if explicit else offline_storage(settings, storage)
    if offline is not None:
        places.append((offline, OFFLINE))
    found: dict[tuple[str, str], tuple[JobSummary, Any]] = {}
    for place, location in places:
        edited: dict[tuple[str, str], str] = {}
        for info in place.list(prefix):
            parsed = parse_processed_key(info.key)
            if parsed and parsed[2] == EDITED_JSON:
                edited[(parsed[0], parsed[1])] = object_tag(info)  # listed before transcription.json: "e" < "t"
            if parsed and parsed[2] == TRANSCRIPTION_JSON and (parsed[0], parsed[1]) not in found:
                tag = edited.get((parsed[0], parsed[1]))
                job = JobSummary(job_id=parsed[1], user_id=parsed[0], key=info.key, size=info.size, location=location,
                                 edited=tag is not None, edited_tag=tag)
                found[(parsed[0], parsed[1])] = (job, place)
    ordered = sorted(found.values(), key=lambda jp: (jp[0].job_id, jp[0].user_id), reverse=True)
    if limit is not None:
        ordered = ordered[: max(0, int(limit))]
    if details and ordered:
        with ThreadPoolExecutor(max_workers=min(8, len(ordered))) as pool:
            list(pool.map(lambda jp: _fill(jp[1], jp[0]), ordered))
    return [job for job, _ in ordered]


def object_tag(info: Any) -> str:
    """What changes when an object is written again: its ETag, else its size and time."""
    return info.etag or f"{info.size}-{info.last_modified}"


def _fill(storage: Any, job: JobSummary) -> None:
    from drumscribe.transcription.result import Transcription

    try:
        t = Transcription.from_json(storage.get(job.key))
        if job.edited:  # what every view shows: the edited hits
            from drumscribe.keys import edited_key

            t = Transcription.from_json(storage.get(edited_key(job.user_id, job.job_id)))
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
    return find_job(job_id, settings, storage, user, prefer_local=prefer_local)[1]


def find_job(job_id: str, settings: Settings | None = None, storage: Any = None, user: str | None = None,
             *, prefer_local: bool = False) -> tuple[Any, Any]:
    """(the storage holding it, its ``Transcription``): the active storage, else the offline mirror.

    The offline mirror is only searched when no storage is passed (see the module docstring);
    ``storage.uri()`` of what comes back tells which one it was.
    """
    from drumscribe.storage import offline_storage
    from drumscribe.transcription.result import Transcription

    explicit = storage is not None
    storage, settings = _storage(settings, storage, prefer_local)
    user = user or settings.user
    validate_job_id(job_id)
    key = transcription_key(user, job_id)
    offline = None if explicit else offline_storage(settings, storage)
    for place in (storage, offline):
        if place is None:
            continue
        try:
            return place, Transcription.from_json(place.get(key))
        except NotFoundError:
            continue
    where = storage.uri() + (f" or {offline.uri()}" if offline is not None else "")
    raise NotFoundError(f"no job {job_id!r} for user {user!r} in {where}",
                        hint="`drumscribe jobs` lists them; --user picks another user")


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
    """A finished job, as the "already done?" index keeps it (``jobs.identity``)."""

    job_id: str
    user_id: str
    sha256: str  # of the original
    duration: float  # seconds of audio
    source_key: str | None = None  # the stored original (uploads/...)
    stored_as: str | None = None  # "flac": the original is stored as a lossless FLAC of the WAV given


# what each job document said, by its URI: a job's transcription.json is written once and never
# changes, so a process (a service, a client that runs many batches) reads each one once
_seen: dict[str, tuple[str, CompleteJob] | None] = {}
_seen_lock = threading.Lock()


def complete_jobs(storage: Any, user: str) -> dict[str, CompleteJob]:
    """Complete jobs of ``user`` by their identity (content + model + options, ``jobs.identity``).

    A job is complete when its transcription.json exists (``jobs.run`` writes it last), so one
    listing finds them; each document not read before by this process is read (in parallel) for
    its source hash, model and options. With several jobs of one identity, the newest wins.
    Unreadable documents are ignored: a job that cannot be read back does not count as done.
    """
    from drumscribe.jobs.identity import identity_of

    prefix = f"{PROCESSED}/{sanitize_user_id(user)}/"
    found = []
    for info in storage.list(prefix):
        parsed = parse_processed_key(info.key)
        if parsed and parsed[2] == TRANSCRIPTION_JSON:
            found.append((parsed[1], info.key, storage.uri(info.key)))
    found.sort()  # job ids sort by time: the newest is added last and wins

    def read(job: tuple[str, str, str]):
        from drumscribe.transcription.result import Transcription

        job_id, key, uri = job
        with _seen_lock:
            if uri in _seen:
                return _seen[uri]
        try:
            t = Transcription.from_json(storage.get(key))
        except NotFoundError:
            return None  # deleted since the listing
        except DrumscribeError:
            return None  # unreadable now; read again next time (it may be a transient storage error)
        identity = identity_of(t)
        entry = None if identity is None else (identity, CompleteJob(job_id, sanitize_user_id(user), t.source.sha256 or "",
                                                                      t.duration, t.source.key, t.source.stored_as))
        with _seen_lock:
            _seen[uri] = entry
        return entry

    index: dict[str, CompleteJob] = {}
    if found:
        with ThreadPoolExecutor(max_workers=min(32, len(found))) as pool:
            for entry in pool.map(read, found):
                if entry is not None:
                    index[entry[0]] = entry[1]
    return index
