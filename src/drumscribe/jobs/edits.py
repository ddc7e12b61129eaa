"""A job's corrections: ``processed/{user}/{job}/edited.json`` next to the model's ``transcription.json``.

The model's file is never overwritten. ``edited.json`` is the same document (``Transcription.to_json``)
with the corrected events and one more object, ``edit``::

    "edit": {
      "based_on": "<hex SHA-256 of the model's transcription.json bytes>",
      "revision": "<opaque, new on every save>",
      "parent":   "<the revision the save started from: an earlier edit's, or based_on>",
      "at":       "2026-05-01T12:00:00Z",
      "summary":  {"added": 3, "removed": 1, "moved": 0, "relabelled": 2},   (against the model)
      "via":      "editor" | "import-midi" | "import-json"
    }

Everything but the events comes from the model's document (source, beats, model...), so an edit
can never point a job at another recording. A save names the revision it started from
(``parent_revision``): the latest edit's, or the model's SHA-256 when there is none yet. Any other
is stale and refused with ``StaleRevision``: a page left open while another one saved never
silently overwrites it. ``load_revision`` is the one reader every view and export uses.

Writes are one ``Storage.put_if_unchanged`` (a temp file and a rename locally, one conditional
PUT on S3). The read-compare-write is serialised per object within a process (serve, ``drumscribe
edit``) and, on the local mirror, across processes with a lock file; on S3 the PUT carries the
ETag that was read (``If-Match``, or ``If-None-Match: *`` for a first edit), so of two machines
saving the same job in the same instant one wins and the other is refused as stale.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator, Literal, Mapping, Sequence

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.errors import ChangedError, DrumscribeError, InputError, NotFoundError, StaleRevision
from drumscribe.transcription.instruments import INSTRUMENTS
from drumscribe.transcription.result import DrumEvent, Transcription, utc_now

VIA = ("editor", "import-midi", "import-json")
REVISIONS = ("latest", "model", "edited")
MAX_EVENTS = 200_000  # a 10-minute song at 300 hits a second; a bigger body is not a drum part
SAME_TIME = 0.0005  # s: closer than this is the same moment (times are kept to the microsecond)
MOVE_WINDOW = 0.1  # s: a hit this close to a removed one of its instrument was moved, not added
TIME_SLACK = 1.0  # s: hits may sit this far past the end of the audio (a last ring-out)

Which = Literal["edited", "model"]


@dataclass(frozen=True)
class Edited:
    """A job's edited revision as stored."""

    transcription: Transcription  # the model's document with the corrected events
    revision: str
    based_on: str  # SHA-256 of the model's transcription.json it was edited from
    parent: str
    at: str  # UTC, ISO 8601
    summary: Mapping[str, int] = field(default_factory=dict)  # added, removed, moved, relabelled
    via: str = "editor"

    def describe(self) -> str:
        """``"edited revision (3 added, 1 removed)"``: what a view says about where its events came from."""
        changes = ", ".join(f"{n} {what}" for what, n in self.summary.items() if n)
        return f"edited revision ({changes or 'no changes'})"


@dataclass(frozen=True)
class Revision:
    """What ``find_revision`` found: the events to show, and where they came from."""

    transcription: Transcription
    which: Which
    edited: Edited | None  # the job's edit, also when the model's revision was asked for
    model: Transcription
    model_sha: str
    storage: Any  # the storage holding the job (the active one, or the offline mirror)

    @property
    def current(self) -> str:
        """The revision the next save must name as its parent."""
        return self.edited.revision if self.edited else self.model_sha

    def note(self) -> str | None:
        """The line a view prints about the revision it shows; None when the job was never edited."""
        if self.which == "edited":
            return f"{self.edited.describe()} - --revision model for the model's"
        if self.edited is not None:
            return f"the model's revision; the job also has an {self.edited.describe()}"
        return None


@dataclass(frozen=True)
class EditedJob:
    """One job with corrections, as ``edited_jobs`` lists them (what ``tune`` learns from)."""

    job_id: str
    user_id: str
    model: Transcription  # the model's transcription.json
    edited: Edited
    original_key: str | None  # storage key of the original audio (``model.source.key``)


@dataclass(frozen=True)
class Diff:
    """How an edited list of events differs from the model's."""

    added: tuple[DrumEvent, ...] = ()
    removed: tuple[DrumEvent, ...] = ()
    moved: tuple[tuple[DrumEvent, DrumEvent], ...] = ()  # (model's, edited): same instrument, another time
    relabelled: tuple[tuple[DrumEvent, DrumEvent], ...] = ()  # (model's, edited): another instrument

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "removed": len(self.removed), "moved": len(self.moved),
                "relabelled": len(self.relabelled)}


# --- reading ------------------------------------------------------------------------------


def model_revision(data: bytes) -> str:
    """The revision name of a model's ``transcription.json``: the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def _storage_and_user(settings: Settings | None, storage: Any, user: str | None, prefer_local: bool = False):
    from drumscribe.jobs.store import _storage

    storage, settings = _storage(settings, storage, prefer_local)
    return storage, settings, keys.sanitize_user_id(user or settings.user)


def _read_model(place: Any, user: str, job_id: str) -> tuple[Transcription, str]:
    data = place.get(keys.transcription_key(user, job_id))
    return Transcription.from_json(data), model_revision(data)


def _locate(job_id: str, settings: Settings | None, storage: Any, user: str | None, prefer_local: bool = False):
    """(storage holding the job, user, model Transcription, model sha): the active storage, else the
    offline mirror when no storage is given, as ``store.find_job`` looks."""
    from drumscribe.jobs.store import find_job
    from drumscribe.storage import offline_storage

    keys.validate_job_id(job_id)
    explicit = storage is not None
    storage, settings, user = _storage_and_user(settings, storage, user, prefer_local)
    offline = None if explicit else offline_storage(settings, storage)
    for place in (storage, offline):
        if place is None:
            continue
        try:
            return (place, user, *_read_model(place, user, job_id))
        except NotFoundError:
            continue
    find_job(job_id, settings, storage if explicit else None, user, prefer_local=prefer_local)  # raises the usual "no job" error
    raise NotFoundError(f"no job {job_id!r} for user {user!r}")  # pragma: no cover - find_job raised


def parse_edited(data: bytes | str) -> Edited:
    """An ``edited.json`` document; ``InputError`` when it is not one."""
    t = Transcription.from_json(data)
    doc = json.loads(data)
    edit = doc.get("edit")
    if not isinstance(edit, Mapping) or not all(isinstance(edit.get(k), str) and edit.get(k) for k in ("revision", "based_on")):
        raise InputError("not an edited transcription (no \"edit\" object with a revision and based_on)")
    summary = edit.get("summary") if isinstance(edit.get("summary"), Mapping) else {}
    return Edited(
        transcription=t, revision=edit["revision"], based_on=edit["based_on"], parent=str(edit.get("parent") or ""),
        at=str(edit.get("at") or ""), via=str(edit.get("via") or ""),
        summary={k: int(summary.get(k) or 0) for k in ("added", "removed", "moved", "relabelled")},
    )


def _read_edited(place: Any, user: str, job_id: str) -> Edited | None:
    try:
        data = place.get(keys.edited_key(user, job_id))
    except NotFoundError:
        return None
    try:
        return parse_edited(data)
    except InputError as exc:
        raise InputError(f"the edited version of job {job_id} cannot be read: {exc}",
                         hint="`drumscribe edit JOB --import FILE` replaces it; --revision model shows the model's") from None


def load_edited(job_id: str, *, settings: Settings | None = None, storage: Any = None, user: str | None = None) -> Edited | None:
    """The job's edited revision, or None when it has none (``NotFoundError`` when there is no such job)."""
    return find_revision(job_id, "latest", settings=settings, storage=storage, user=user).edited


def find_revision(job_id: str, revision: str = "latest", *, settings: Settings | None = None, storage: Any = None,
                  user: str | None = None, prefer_local: bool = False) -> Revision:
    """The job's events to show: ``latest`` (the edit if there is one, else the model's), ``model`` or
    ``edited`` (``NotFoundError`` when the job was never edited)."""
    if revision not in REVISIONS:
        raise InputError(f"--revision must be one of {', '.join(REVISIONS)}, got {revision!r}")
    place, user, model, sha = _locate(job_id, settings, storage, user, prefer_local)
    try:
        edited = _read_edited(place, user, job_id)
    except InputError:
        if revision != "model":
            raise
        edited = None  # a damaged edited.json does not hide the model's revision
    if revision == "edited" and edited is None:
        raise NotFoundError(f"job {job_id} has no edited revision", hint="`drumscribe edit JOB` opens the editor")
    if revision != "model" and edited is not None:
        return Revision(edited.transcription, "edited", edited, model, sha, place)
    return Revision(model, "model", edited, model, sha, place)


def load_revision(job_id: str, revision: str = "latest", *, settings: Settings | None = None, storage: Any = None,
                  user: str | None = None, prefer_local: bool = False) -> tuple[Transcription, Which]:
    """(Transcription, ``"edited"`` or ``"model"``): what every view and export of a job shows."""
    found = find_revision(job_id, revision, settings=settings, storage=storage, user=user, prefer_local=prefer_local)
    return found.transcription, found.which


def edited_jobs(*, settings: Settings | None = None, storage: Any = None, user: str | None = None) -> list[EditedJob]:
    """Every job of ``user`` that has an ``edited.json``, oldest first, with the model's transcription.

    One listing of ``processed/{user}/``; a job whose documents cannot be read is skipped (it is
    no correction to learn from)."""
    from concurrent.futures import ThreadPoolExecutor

    storage, settings, user = _storage_and_user(settings, storage, user)
    found = sorted({parsed[1] for info in storage.list(f"{keys.PROCESSED}/{user}/")
                    if (parsed := keys.parse_processed_key(info.key)) and parsed[2] == keys.EDITED_JSON})

    def read(job_id: str) -> EditedJob | None:
        try:
            model, _ = _read_model(storage, user, job_id)
            edited = _read_edited(storage, user, job_id)
        except DrumscribeError:
            return None
        if edited is None:
            return None
        return EditedJob(job_id, user, model, edited, model.source.key)

    if not found:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(found))) as pool:
        return [job for job in pool.map(read, found) if job is not None]


# --- comparing ----------------------------------------------------------------------------


def _pairs(left: Sequence[DrumEvent], right: Sequence[DrumEvent], window: float, same_instrument: bool | None):
    """Greedy closest-first matching of ``left`` to ``right`` events within ``window`` seconds.

    ``same_instrument``: True pairs only equal instruments, False only different ones, None any."""
    import bisect

    order = sorted(range(len(right)), key=lambda j: right[j].time)
    times = [right[j].time for j in order]
    candidates = []
    for i, a in enumerate(left):
        lo = bisect.bisect_left(times, a.time - window)
        hi = bisect.bisect_right(times, a.time + window)
        for k in range(lo, hi):
            b = right[order[k]]
            if same_instrument is not None and (a.instrument == b.instrument) != same_instrument:
                continue
            candidates.append((abs(a.time - b.time), i, order[k]))
    candidates.sort()
    used_left, used_right, pairs = set(), set(), []
    for _, i, j in candidates:
        if i not in used_left and j not in used_right:
            used_left.add(i)
            used_right.add(j)
            pairs.append((i, j))
    return pairs


def diff(model: Iterable[DrumEvent], edited: Iterable[DrumEvent]) -> Diff:
    """What was added, removed, moved (same instrument, up to ``MOVE_WINDOW`` away) and relabelled
    (another instrument at about the same moment) to go from ``model`` to ``edited``."""
    left, right = list(model), list(edited)
    moved, relabelled = [], []
    for window, same, bucket in ((SAME_TIME, True, None), (MOVE_WINDOW, True, moved), (MOVE_WINDOW, False, relabelled)):
        pairs = _pairs(left, right, window, same)
        if bucket is not None:
            bucket.extend((left[i], right[j]) for i, j in pairs)
        gone_left, gone_right = {i for i, _ in pairs}, {j for _, j in pairs}
        left = [e for i, e in enumerate(left) if i not in gone_left]
        right = [e for j, e in enumerate(right) if j not in gone_right]
    by_time = lambda pair: pair[1].time  # noqa: E731
    return Diff(added=tuple(sorted(right, key=lambda e: e.time)), removed=tuple(sorted(left, key=lambda e: e.time)),
                moved=tuple(sorted(moved, key=by_time)), relabelled=tuple(sorted(relabelled, key=by_time)))


# --- writing ------------------------------------------------------------------------------


def clean_events(events: Iterable[Any], duration: float = 0.0) -> tuple[DrumEvent, ...]:
    """Events checked and put in order: known instruments (their General MIDI note), times from 0
    (to the microsecond) up to a second past the end, velocities 1-127, confidences 0-1; two hits
    of one instrument closer than half a millisecond are one (the louder). ``InputError`` otherwise."""
    out: list[DrumEvent] = []
    for n, e in enumerate(events):
        if isinstance(e, Mapping):
            get = e.get
        elif isinstance(e, DrumEvent):
            get = lambda name, default=None, e=e: getattr(e, name, default)  # noqa: E731
        else:
            raise InputError(f"event {n + 1}: expected an object with time, instrument and velocity")
        if n >= MAX_EVENTS:
            raise InputError(f"more than {MAX_EVENTS} hits: that is not one drum part")
        instrument = get("instrument")
        if instrument not in INSTRUMENTS:
            raise InputError(f"event {n + 1}: unknown instrument {instrument!r} (known: {', '.join(INSTRUMENTS)})")
        time, velocity, confidence = get("time"), get("velocity", 100), get("confidence", 1.0)
        if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time) or time < 0:
            raise InputError(f"event {n + 1}: time must be a number of seconds from 0, got {time!r}")
        if duration and time > duration + TIME_SLACK:
            raise InputError(f"event {n + 1}: {time:.3f} s is past the end of the recording ({duration:.3f} s)")
        if isinstance(velocity, bool) or not isinstance(velocity, (int, float)) or not 1 <= velocity <= 127:
            raise InputError(f"event {n + 1}: velocity must be 1-127, got {velocity!r}")
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
            raise InputError(f"event {n + 1}: confidence must be 0-1, got {confidence!r}")
        out.append(DrumEvent(round(float(time), 6), instrument, INSTRUMENTS[instrument].note, int(round(velocity)),
                             round(float(confidence), 4)))
    out.sort(key=lambda e: (e.time, e.instrument))
    kept: dict[str, DrumEvent] = {}
    result: list[DrumEvent] = []
    for e in out:
        last = kept.get(e.instrument)
        if last is not None and e.time - last.time < SAME_TIME:
            if e.velocity > last.velocity:
                result[result.index(last)] = e
                kept[e.instrument] = e
            continue
        kept[e.instrument] = e
        result.append(e)
    return tuple(result)


def _new_revision(parent: str, at: str, events: Sequence[DrumEvent]) -> str:
    body = json.dumps({"parent": parent, "at": at, "events": [[e.time, e.instrument, e.velocity] for e in events]},
                      separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def _save_lock(place: Any, key: str) -> Iterator[None]:
    """One save of ``key`` at a time in this process, and on the local mirror across processes."""
    with _locks_guard:
        lock = _locks.setdefault(place.uri(key), threading.Lock())
    with lock:
        root = getattr(place, "root", None)
        if root is None:
            yield
            return
        import os

        from drumscribe.storage.local import META_DIR

        folder = root / META_DIR / "locks"
        try:
            import fcntl

            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except (ImportError, OSError):  # no fcntl (Windows) or a read-only mirror: the put reports that
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def save_edited(job_id: str, transcription: Transcription | Iterable[Any], *, parent_revision: str, via: str = "editor",
                settings: Settings | None = None, storage: Any = None, user: str | None = None) -> Edited:
    """Store ``transcription``'s events as the job's edited revision; the new ``Edited``.

    ``parent_revision``: the revision the edit started from (``Revision.current`` when it was
    loaded). ``StaleRevision`` when the job has been saved since: nothing is written."""
    if via not in VIA:
        raise InputError(f"via must be one of {', '.join(VIA)}, got {via!r}")
    events_in = transcription.events if isinstance(transcription, Transcription) else transcription
    place, user, model, model_sha = _locate(job_id, settings, storage, user)
    events = clean_events(events_in, model.duration)
    key = keys.edited_key(user, job_id)
    with _save_lock(place, key):
        try:  # the ETag first: whatever is read after it is at least as new, so the write below cannot skip a save
            etag = place.head(key).etag
        except NotFoundError:
            etag = None
        current = _read_edited(place, user, job_id)
        head = current.revision if current else model_sha
        if parent_revision != head:
            raise StaleRevision(
                f"job {job_id} was saved since this edit started (it began from revision {str(parent_revision)[:12]!r}, "
                f"the latest is {head[:12]!r}{', an ' + current.describe() if current else ''}); nothing was saved",
                hint="reload the page, or run `drumscribe edit JOB` again, and redo the change")
        at = utc_now()
        revision = _new_revision(parent_revision, at, events)
        summary = diff(model.events, events).summary()
        edited_t = replace(model, events=events)
        doc = edited_t.to_dict()
        doc["edit"] = {"based_on": model_sha, "revision": revision, "parent": parent_revision, "at": at,
                       "summary": summary, "via": via}
        data = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")
        try:  # written only over what was read: a save that another machine made meanwhile is never lost
            place.put_if_unchanged(key, data, etag=etag, content_type="application/json", metadata={"revision": revision})
        except ChangedError:
            # a PUT that S3 stored but whose answer was lost is retried by botocore, and the retry
            # finds the object changed: by this very save. Its bytes are unique to it (they carry
            # its revision, a hash of the parent, the time and the events): reading back tells.
            try:
                ours = place.get(key) == data
            except NotFoundError:
                ours = False
            if not ours:
                raise StaleRevision(f"job {job_id} was saved from elsewhere while this save was being made; nothing was saved",
                                    hint="reload the page, or run `drumscribe edit JOB` again, and redo the change") from None
    edited = Edited(edited_t, revision, model_sha, parent_revision, at, summary, via)
    try:
        edited_midi(place, user, job_id, edited)
    except DrumscribeError:
        pass  # the JSON is what counts; edited_midi renders the MIDI again when it is next asked for
    return edited


def edited_midi(place: Any, user: str, job_id: str, edited: Edited) -> str:
    """The key of ``edited.mid`` for ``edited``'s revision, rendered and stored first when it is
    missing or belongs to another revision (the links ``open`` and serve hand out point at it)."""
    key = keys.edited_midi_key(user, job_id)
    try:
        if place.head(key).metadata.get("revision") == edited.revision:
            return key
    except NotFoundError:
        pass
    place.put(key, edited.transcription.to_midi(), content_type="audio/midi", metadata={"revision": edited.revision})
    return key


def import_edit(job_id: str, path: Any, *, note_map: Any = None, midi_align: str = "auto", force: bool = False,
                settings: Settings | None = None, storage: Any = None, user: str | None = None,
                prefer_local: bool = False) -> "Imported":
    """Store a MIDI file or a transcription JSON as the job's edited revision (``edit --import``).

    MIDI: notes on channel 10 (on every channel when none is there) read through ``note_map``
    (default General MIDI, with GM's other drum notes folded onto the nearest drumscribe
    instrument); ``midi_align`` ``audio``, ``bar`` (undo ``midi_offset``) or ``auto`` (the one
    that lines up with the job's hits). JSON: a transcription or an ``edited.json`` (a page's
    download): one saved from an older revision than the latest is refused unless ``force``.
    It replaces the latest revision, which becomes its parent."""
    from drumscribe.jobs.edit_import import read_correction

    found = find_revision(job_id, "latest", settings=settings, storage=storage, user=user, prefer_local=prefer_local)
    read = read_correction(path, found.model, note_map=note_map, midi_align=midi_align)
    parent = found.current
    if read.parent and not force and read.parent != parent:
        raise StaleRevision(f"{read.name} was edited from revision {read.parent[:12]!r}, but job {job_id} has been saved since "
                            f"(latest {parent[:12]!r}); nothing was imported",
                            hint="--force imports it anyway, replacing the latest revision")
    if read.job_id and read.job_id != job_id and not force:
        raise InputError(f"{read.name} is the transcription of job {read.job_id}, not {job_id}", hint="--force imports it anyway")
    edited = save_edited(job_id, read.events, parent_revision=parent, via=read.via, storage=found.storage,
                         settings=settings, user=user)
    return Imported(edited=edited, replaced=found.edited, ignored_notes=read.ignored_notes, align=read.align)


@dataclass(frozen=True)
class Imported:
    """What ``import_edit`` stored, and what it left out."""

    edited: Edited
    replaced: Edited | None  # the edited revision it replaced, if there was one
    ignored_notes: Mapping[int, int] = field(default_factory=dict)  # MIDI note -> count of notes no drum maps to
    align: str | None = None  # MIDI: the alignment used ("audio" or "bar")
