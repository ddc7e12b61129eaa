"""Transcription jobs: the bucket layout around ``transcribe()``.

One job, in order:

1. the input is validated as audio (nothing is stored for a file that is not audio);
2. its original is looked up among the user's uploads by content (same SHA-256: reused, nothing
   stored twice), or prepared for storing: a WAV of integer PCM becomes a lossless FLAC of itself,
   and the upload limit is checked on what will be stored (see ``jobs.originals``);
3. a new job id; the audio is transcribed; nothing has been stored yet;
4. the original, if it was not already there, under ``uploads/{user}/{timestamp}_{hash}_{filename}``
   (an ``s3://`` input that already lives under ``uploads/`` of the results bucket is used as is);
5. ``processed/{user}/{job}/output.mid``, then ``processed/{user}/{job}/transcription.json``.
   The JSON is written last: its presence marks a complete job.

A job is complete or leaves nothing new: if anything fails or is interrupted (Ctrl-C, SIGTERM)
after the job id exists, whatever it wrote under ``processed/{user}/{job}/`` and ``temp/{job}/``
is deleted, and so is the original *this run* stored (a reused one stays). Only a process killed
outright (SIGKILL, power loss) during steps 4-5, a fraction of a second, can leave an upload
without a job or an ``output.mid`` without ``transcription.json``: never listed as a job; the
upload is reused by the next run of the same file, and ``processed/`` expires after 30 days.

Inputs: a local file, a local folder (every audio file below it), ``s3://bucket/key``, or
``s3://bucket/prefix/`` (every audio object under it). ``s3://`` inputs need S3 credentials.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from drumscribe import keys
from drumscribe._signals import deferred
from drumscribe.config import Settings, load_settings
from drumscribe.errors import ConfigError, DrumscribeError, InputError
from drumscribe.storage.base import ObjectInfo, Storage
from drumscribe.transcription import audio
from drumscribe.transcription.result import Transcription

S3_SCHEME = "s3://"
FLAC_ALLOWANCE = 3  # an s3:// WAV up to 3x the upload limit is fetched: its lossless FLAC may fit


@dataclass(frozen=True)
class JobResult:
    job_id: str
    user_id: str
    input: str  # what the user named (path or s3:// URI)
    upload_key: str  # uploads/... key of the stored original
    uploaded: bool  # True when this run stored it; False when an upload with the same content was reused
    midi_key: str
    transcription_key: str
    storage: str  # "s3" or "local"
    midi_uri: str
    transcription_uri: str
    stored_as: str | None = None  # "flac": the stored original is a lossless FLAC of the WAV given
    # True: an earlier complete job with the same content, model and options answered (its job_id
    # above); nothing was transcribed or stored (jobs.identity)
    existing: bool = False
    sha256: str | None = None  # of the input's content
    duration: float | None = None  # seconds of audio

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def is_s3_uri(text: Any) -> bool:
    return isinstance(text, str) and text.startswith(S3_SCHEME)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); the key may be empty or a prefix ending in '/'."""
    rest = uri[len(S3_SCHEME) :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise InputError(f"{uri}: no bucket name (expected s3://bucket/key)")
    if key:
        keys.validate_prefix(key) if key.endswith("/") else keys.validate_key(key)
    return bucket, key


def s3_storage_for(bucket: str, settings: Settings) -> Storage:
    """S3 storage for ``bucket``; a one-line ``ConfigError`` when S3 is not configured."""
    from drumscribe import aws

    # one client per bucket and credentials per process: building a boto3 client (and finding
    # credentials) costs ~90 ms, more than the S3 requests of a whole job, and a batch worker runs many
    key = (bucket, settings.endpoint_url, settings.region_name, settings.profile, settings.access_key_id,
           settings.secret_access_key, settings.session_token)
    if key in _s3_storages:
        return _s3_storages[key]
    if not aws.has_credentials(settings):
        raise ConfigError(
            f"reading s3://{bucket} needs AWS credentials but none were found",
            hint="run `drumscribe setup`, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in .env or the environment",
        )
    from drumscribe.storage.s3 import S3Storage

    _s3_storages[key] = S3Storage(settings if settings.bucket == bucket else settings.replace(bucket=bucket))
    return _s3_storages[key]


_s3_storages: dict[tuple, Storage] = {}


def expand_inputs(inputs: list[str], *, settings: Settings | None = None) -> list[tuple[str, str | None]]:
    """Each input -> concrete inputs, as (input, error or None) in a stable order.

    Folders expand to their audio files (recursive, sorted), ``s3://bucket/prefix/`` (or a bare
    bucket) to its audio objects. An input that expands to nothing yields one error entry.
    """
    return list(iter_inputs(inputs, settings=settings))


def iter_inputs(inputs: list[str], *, settings: Settings | None = None) -> Iterator[tuple[str, str | None]]:
    """``expand_inputs`` lazily: an S3 prefix is listed page by page as the caller consumes it."""
    for item in inputs:
        try:
            if is_s3_uri(item):
                bucket, key = parse_s3_uri(item)
                if key and not key.endswith("/"):
                    yield item, None
                    continue
                settings = settings or load_settings()
                found = False
                for o in s3_storage_for(bucket, settings).list(key):
                    if audio.is_audio_name(o.key):
                        found = True
                        yield f"s3://{bucket}/{o.key}", None
                if not found:
                    raise InputError(f"{item}: no audio objects under this prefix")
            elif Path(item).is_dir():
                paths = sorted(str(p) for p in Path(item).rglob("*") if p.is_file() and audio.is_audio_name(p.name))
                if not paths:
                    raise InputError(f"{item}: folder holds no audio files ({', '.join(sorted(audio.AUDIO_EXTENSIONS))})")
                yield from ((f, None) for f in paths)
            else:
                yield item, None
        except DrumscribeError as exc:
            yield item, str(exc)


def _results_storage(storage: Storage | None, settings: Settings) -> Storage:
    if storage is not None:
        return storage
    from drumscribe.storage import get_storage

    return get_storage(settings)


def _check_fetch_size(info: ObjectInfo, key: str, settings: Settings, shown: str) -> None:
    """An object to download must be within the upload limit (a WAV within 3x: its FLAC may fit)."""
    # a WAV is stored as FLAC (recorded drums: 45-65 % of the WAV), so one over the limit may still
    # fit: fetch it when it could, and let the check on the FLAC decide (jobs.originals.prepare)
    allowance = FLAC_ALLOWANCE if Path(key).suffix.lower() in audio.FLAC_SOURCE_EXTENSIONS else 1
    if info.size > settings.max_upload_bytes * allowance:
        raise InputError(
            f"{shown} is {info.size / 1048576:.1f} MB, over the {settings.max_upload_mb:g} MB limit",
            hint="raise DRUMSCRIBE_MAX_UPLOAD_MB to allow bigger files",
        )


def _original_name(key: str) -> str:
    """``uploads/u/20250101T000000Z_abcdef012345_song.wav`` -> ``song.wav``."""
    parsed = keys.parse_upload_key(key)
    return parsed[3] if parsed else key.rsplit("/", 1)[-1]


def _cleanup(storage: Storage, user_id: str, job_id: str, created_upload: str | None = None) -> None:
    """Remove what a failed job wrote: processed/ and temp/ objects, and the upload it created (best effort)."""
    for prefix in (keys.job_prefix(user_id, job_id), keys.temp_prefix(job_id)):
        try:
            doomed = [o.key for o in storage.list(prefix)]
            if doomed:
                storage.delete_many(doomed)
        except DrumscribeError:
            pass  # the original error matters more; a leftover temp/ object expires by lifecycle
    if created_upload:
        try:
            storage.delete(created_upload)
        except DrumscribeError:
            pass  # left behind, it is reused by the next run of the same file


def _existing_upload(info: ObjectInfo, key: str, local: Path):
    """An ``s3://`` input that already is an upload of the results bucket: used as is."""
    from drumscribe.jobs.originals import FLAC, Original
    from drumscribe.storage._common import sha256_file
    from drumscribe.storage.uploads import SOURCE_SHA256_META

    source_sha = info.metadata.get(SOURCE_SHA256_META)
    name = _original_name(key)
    if source_sha:  # a FLAC drumscribe made of a WAV: the job names the WAV
        return Original(source_sha, name.removesuffix("." + FLAC), existing=info, stored_as=FLAC)
    return Original(info.sha256 or sha256_file(local)[0], name, existing=info)


def _known_sha256(info: ObjectInfo, reuse: bool) -> str | None:
    """The content hash a job of this object will record, when the object's metadata says it."""
    from drumscribe.storage.uploads import SOURCE_SHA256_META

    return (info.metadata.get(SOURCE_SHA256_META) or info.sha256) if reuse else info.sha256


class _Earlier:
    """Finds the complete job that answers an input (same content, model and options), unless forced."""

    def __init__(self, store: Storage, user: str, model: Any, options: dict[str, Any], force: bool, done: Any):
        self.store, self.user, self.model, self.options, self.force = store, user, model, options, force
        self.done = done

    def identity(self, sha256: str) -> str:
        from drumscribe.jobs.identity import job_identity

        return job_identity(sha256, self.model, self.options)

    def __call__(self, sha256: str | None):
        if self.force or not sha256:
            return None
        if self.done is None:  # one listing of the user's jobs (documents read once per process: cached)
            from drumscribe.jobs.store import complete_jobs

            self.done = complete_jobs(self.store, self.user)
        return self.done.get(self.identity(sha256))

    def remember(self, sha256: str, job: "JobResult", duration: float) -> None:
        """A batch's index learns the job just made: the same content later in the batch is answered by it."""
        if isinstance(self.done, dict):
            from drumscribe.jobs.store import CompleteJob

            self.done[self.identity(sha256)] = CompleteJob(job.job_id, job.user_id, sha256, duration, source_key=job.upload_key,
                                                           stored_as=job.stored_as)


def _answer(store: Storage, user: str, earlier: Any, shown: str, document: bool) -> tuple[Transcription | None, "JobResult"] | None:
    """The earlier job as this input's result; None if its document is gone since the index was made."""
    from drumscribe.errors import NotFoundError

    midi_key, json_key = keys.midi_key(user, earlier.job_id), keys.transcription_key(user, earlier.job_id)
    result = None
    if document:
        try:
            result = Transcription.from_json(store.get(json_key))
        except NotFoundError:
            return None
    return result, JobResult(
        job_id=earlier.job_id, user_id=user, input=shown, upload_key=earlier.source_key or "", uploaded=False,
        midi_key=midi_key, transcription_key=json_key, storage=store.name, midi_uri=store.uri(midi_key),
        transcription_uri=store.uri(json_key), stored_as=earlier.stored_as, existing=True, sha256=earlier.sha256,
        duration=earlier.duration,
    )


def completed_job(store: Storage, user: str, job_id: str, shown: str, document: bool = True) -> tuple[Transcription | None, "JobResult"] | None:
    """The job ``job_id`` as its run would have reported it, when it is complete in storage (else None).

    For a job whose process was stopped after its last write and before it could say so. Whether
    its original was stored by it: an upload made by a job carries a timestamp no earlier than
    the job id's (both UTC seconds), a reused one an earlier one."""
    from drumscribe.errors import NotFoundError

    json_key = keys.transcription_key(user, job_id)
    try:
        result = Transcription.from_json(store.get(json_key))
    except NotFoundError:
        return None
    upload = result.source.key or ""
    parsed = keys.parse_upload_key(upload)
    midi_key = keys.midi_key(user, job_id)
    job = JobResult(
        job_id=job_id, user_id=user, input=shown, upload_key=upload, uploaded=bool(parsed and parsed[1] >= job_id[:16]),
        midi_key=midi_key, transcription_key=json_key, storage=store.name, midi_uri=store.uri(midi_key),
        transcription_uri=store.uri(json_key), stored_as=result.source.stored_as, sha256=result.source.sha256,
        duration=result.duration,
    )
    return (result if document else None), job


def transcribe_and_store(
    source: str | os.PathLike,
    *,
    storage: Storage | None = None,
    settings: Settings | None = None,
    user_id: str | None = None,
    model: Any = None,
    beats: bool = True,
    chunk_seconds: int | None = None,
    midi_options: dict[str, Any] | None = None,
    job_id: str | None = None,
    stored_upload: str | None = None,
    uploads_index: Mapping[str, Iterable[ObjectInfo]] | None = None,
    timings: dict[str, float] | None = None,
    force: bool = False,
    done: Mapping[str, Any] | None = None,
) -> tuple[Transcription, JobResult]:
    """Transcribe one input (a local file or ``s3://bucket/key``) and store original + results.

    Unless ``force``, an input that already has a complete job with the same content, model and
    options (``jobs.identity``) is not transcribed again: that job answers, nothing is stored, and
    the ``JobResult`` says so (``existing=True``, the earlier ``job_id``); the Transcription is
    that job's. ``done``: the index of the user's complete jobs (``jobs.store.complete_jobs``),
    made once for a batch (a job made here is added to a ``dict``); default: made here.

    ``midi_options``: ``Transcription.to_midi`` keywords for ``output.mid`` (align, tracks, note_map).
    ``job_id`` names the job instead of a new id (a service that reports the id before the job
    runs, or retries it; a batch passes its own so that a retry after a dead worker knows which
    half-written job to clear). ``stored_upload`` is an ``uploads/...`` key already in ``storage``
    (S3 or local): it is read from there and used as the original, never stored twice.
    ``uploads_index`` (``storage.uploads.upload_index``): the user's uploads, listed once for a
    batch; without it each job lists ``uploads/{user}/`` to find an upload with the same content.
    ``timings``: see ``transcribe``.
    """
    result, job = run_job(source, storage=storage, settings=settings, user_id=user_id, model=model, beats=beats,
                          chunk_seconds=chunk_seconds, midi_options=midi_options, job_id=job_id, stored_upload=stored_upload,
                          uploads_index=uploads_index, timings=timings, force=force, done=done)
    assert result is not None
    return result, job


def run_job(
    source: str | os.PathLike,
    *,
    storage: Storage | None = None,
    settings: Settings | None = None,
    user_id: str | None = None,
    model: Any = None,
    beats: bool = True,
    chunk_seconds: int | None = None,
    midi_options: dict[str, Any] | None = None,
    job_id: str | None = None,
    stored_upload: str | None = None,
    uploads_index: Mapping[str, Iterable[ObjectInfo]] | None = None,
    timings: dict[str, float] | None = None,
    force: bool = False,
    done: Mapping[str, Any] | None = None,
    document: bool = True,
) -> tuple[Transcription | None, JobResult]:
    """``transcribe_and_store``; with ``document=False`` an earlier job that answers is not read
    back (the Transcription is None then): what a batch on a cluster needs to skip an input."""
    from drumscribe.jobs import originals
    from drumscribe.jobs.identity import job_options
    from drumscribe.storage._common import sha256_file
    from drumscribe.transcription.pipeline import DEFAULT_CHUNK_SECONDS, get_model, transcribe

    settings = settings or load_settings()
    user = keys.sanitize_user_id(user_id or settings.user)
    shown = str(source)
    store = _results_storage(storage, settings)
    from drumscribe.jobs.profiles import for_user

    model = for_user(model, store, user)  # the user's tuning profile replaces the shipped model (drumscribe tune)
    loaded = get_model(model)  # the model as it will transcribe: its name, version and profile are part of the job's identity
    options = job_options(beats, midi_options)
    earlier = _Earlier(store, user, loaded, options, force, done)
    # SIGTERM interrupts the whole job like Ctrl-C, the download and hashing too: the temp folder goes with it
    with _sigterm_as_interrupt(), tempfile.TemporaryDirectory(prefix="drumscribe-") as tmp:
        workdir = Path(tmp)
        if stored_upload is not None:
            keys.validate_key(stored_upload)
            if not stored_upload.startswith(keys.UPLOADS + "/"):
                raise InputError(f"{stored_upload}: not an upload (uploads/...)")
            source_store, bucket, key = store, store.bucket, stored_upload
        elif is_s3_uri(shown):
            bucket, key = parse_s3_uri(shown)
            if not key or key.endswith("/"):
                raise InputError(f"{shown}: names a prefix, not an object")
            source_store = s3_storage_for(bucket, settings)
        else:
            source_store, bucket, key = None, None, None
        # an s3:// input that already is an upload of the results bucket is used as is, not copied
        reuse = stored_upload is not None or (
            key is not None and store.name == "s3" and store.bucket == bucket and key.startswith(keys.UPLOADS + "/")
        )
        info = None
        if source_store is not None:
            info = source_store.head(key)
            known = _known_sha256(info, reuse)  # drumscribe's own objects say their hash: no download to skip them
            found = earlier(known)
            if found is not None and (answer := _answer(store, user, found, shown, document)) is not None:
                return answer
            _check_fetch_size(info, key, settings, stored_upload or shown)
            local = workdir / keys.sanitize_filename(key.rsplit("/", 1)[-1])
            source_store.download(key, local)
            filename = _original_name(key)
        else:
            local, known, filename = Path(source), None, Path(source).name
        audio.probe(local, name=shown)  # not audio -> InputError before anything is stored

        if reuse:
            assert info is not None
            original = _existing_upload(info, key, local)
            sha256 = original.sha256
        else:
            original = None
            sha256 = sha256_file(local)[0]  # the one pass over the input's bytes that names its content
        if sha256 != known:
            found = earlier(sha256)
            if found is not None and (answer := _answer(store, user, found, shown, document)) is not None:
                return answer

        job_id = keys.validate_job_id(job_id) if job_id else keys.new_job_id()
        midi_key, json_key = keys.midi_key(user, job_id), keys.transcription_key(user, job_id)
        created: str | None = None
        try:
            with _sigterm_as_interrupt(), originals.Preparing(
                original, local, sha256=sha256, filename=filename, storage=store, settings=settings, user_id=user,
                workdir=workdir, index=uploads_index, name=shown,
            ) as preparing:
                result = transcribe(
                    local, model=loaded, beats=beats, chunk_seconds=chunk_seconds or DEFAULT_CHUNK_SECONDS, name=shown,
                    timings=timings, progress=preparing.check, source_sha256=sha256,
                )
                original = preparing.result()
                if original.existing is None:
                    with deferred(signal.SIGTERM), deferred(signal.SIGINT):  # interrupted mid-store, the upload would be made but not recorded for cleanup
                        stored = originals.store(original, storage=store, settings=settings, user_id=user)
                        created = stored.key
                else:
                    stored = original.existing
                result = result.with_ids(
                    job_id=job_id,
                    user_id=user,
                    options=options,
                    source=dataclasses.replace(
                        result.source, key=stored.key, name=original.filename, sha256=original.sha256, stored_as=original.stored_as
                    ),
                )
                store.put(midi_key, result.to_midi(**(midi_options or {})), content_type="audio/midi")
                store.put(json_key, result.to_json().encode("utf-8"), content_type="application/json")  # last: marks done
        except BaseException:
            with deferred(signal.SIGTERM), deferred(signal.SIGINT):  # a second SIGTERM or Ctrl-C (a pool terminating its workers) waits for the cleanup
                _cleanup(store, user, job_id, created)
            raise
    job = JobResult(
        job_id=job_id,
        user_id=user,
        input=shown,
        upload_key=stored.key,
        uploaded=created is not None,
        midi_key=midi_key,
        transcription_key=json_key,
        storage=store.name,
        midi_uri=store.uri(midi_key),
        transcription_uri=store.uri(json_key),
        stored_as=original.stored_as,
        sha256=original.sha256,
        duration=result.duration,
    )
    earlier.remember(original.sha256, job, result.duration)
    return result, job


class JobInterrupted(KeyboardInterrupt):
    """SIGTERM during a job: raised like Ctrl-C so the job's cleanup runs before the process ends."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While a job writes, SIGTERM (``kill``, a stopping container) interrupts it like Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise JobInterrupted(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
