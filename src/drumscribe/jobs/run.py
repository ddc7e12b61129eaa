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


def _fetch_s3(uri: str, settings: Settings, workdir: Path) -> tuple[Path, str, str]:
    """Download an s3:// object into ``workdir``: (local path, bucket, key)."""
    bucket, key = parse_s3_uri(uri)
    if not key or key.endswith("/"):
        raise InputError(f"{uri}: names a prefix, not an object")
    return _download_checked(s3_storage_for(bucket, settings), key, settings, workdir, uri), bucket, key


def _download_checked(src: Storage, key: str, settings: Settings, workdir: Path, shown: str) -> Path:
    """Download ``key`` into ``workdir`` after checking it is within the upload limit."""
    info = src.head(key)
    # a WAV is stored as FLAC (recorded drums: 45-65 % of the WAV), so one over the limit may still
    # fit: fetch it when it could, and let the check on the FLAC decide (jobs.originals.prepare)
    allowance = FLAC_ALLOWANCE if Path(key).suffix.lower() in audio.FLAC_SOURCE_EXTENSIONS else 1
    if info.size > settings.max_upload_bytes * allowance:
        raise InputError(
            f"{shown} is {info.size / 1048576:.1f} MB, over the {settings.max_upload_mb:g} MB limit",
            hint="raise DRUMSCRIBE_MAX_UPLOAD_MB to allow bigger files",
        )
    local = workdir / keys.sanitize_filename(key.rsplit("/", 1)[-1])
    src.download(key, local)
    return local


def _fetch_stored(store: Storage, key: str, settings: Settings, workdir: Path) -> tuple[Path, str | None, str]:
    """Download an ``uploads/...`` object of ``store`` into ``workdir``: (local path, bucket, key)."""
    keys.validate_key(key)
    if not key.startswith(keys.UPLOADS + "/"):
        raise InputError(f"{key}: not an upload (uploads/...)")
    return _download_checked(store, key, settings, workdir, key), store.bucket, key


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


def _existing_upload(store: Storage, key: str, local: Path):
    """An ``s3://`` input that already is an upload of the results bucket: used as is."""
    from drumscribe.jobs.originals import FLAC, Original
    from drumscribe.storage._common import sha256_file
    from drumscribe.storage.uploads import SOURCE_SHA256_META

    info = store.head(key)
    source_sha = info.metadata.get(SOURCE_SHA256_META)
    name = _original_name(key)
    if source_sha:  # a FLAC drumscribe made of a WAV: the job names the WAV
        return Original(source_sha, name.removesuffix("." + FLAC), existing=info, stored_as=FLAC)
    return Original(info.sha256 or sha256_file(local)[0], name, existing=info)


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
) -> tuple[Transcription, JobResult]:
    """Transcribe one input (a local file or ``s3://bucket/key``) and store original + results.

    ``midi_options``: ``Transcription.to_midi`` keywords for ``output.mid`` (align, tracks, note_map).
    ``job_id`` names the job instead of a new id (a service that reports the id before the job
    runs, or retries it; a batch passes its own so that a retry after a dead worker knows which
    half-written job to clear). ``stored_upload`` is an ``uploads/...`` key already in ``storage``
    (S3 or local): it is read from there and used as the original, never stored twice.
    ``uploads_index`` (``storage.uploads.upload_index``): the user's uploads, listed once for a
    batch; without it each job lists ``uploads/{user}/`` to find an upload with the same content.
    ``timings``: see ``transcribe``.
    """
    from drumscribe.jobs import originals
    from drumscribe.transcription.pipeline import DEFAULT_CHUNK_SECONDS, transcribe

    settings = settings or load_settings()
    user = keys.sanitize_user_id(user_id or settings.user)
    shown = str(source)
    with tempfile.TemporaryDirectory(prefix="drumscribe-") as tmp:
        if stored_upload is not None:
            store = _results_storage(storage, settings)
            local, bucket, key = _fetch_stored(store, stored_upload, settings, Path(tmp))
            filename = _original_name(key)
        elif is_s3_uri(shown):
            local, bucket, key = _fetch_s3(shown, settings, Path(tmp))
            filename = _original_name(key)
        else:
            local, bucket, key = Path(source), None, None
            filename = local.name
        audio.probe(local, name=shown)  # not audio -> InputError before anything is stored

        store = _results_storage(storage, settings)
        from drumscribe.jobs.profiles import for_user

        model = for_user(model, store, user)  # the user's tuning profile replaces the shipped model (drumscribe tune)
        reuse = stored_upload is not None or (
            key is not None
            and store.name == "s3"
            and store.bucket == bucket
            and key.startswith(keys.UPLOADS + "/")
        )
        if reuse:
            original = _existing_upload(store, key, local)
        else:
            original = originals.prepare(local, filename=filename, storage=store, settings=settings, user_id=user,
                                         workdir=Path(tmp), index=uploads_index, name=shown)

        job_id = keys.validate_job_id(job_id) if job_id else keys.new_job_id()
        midi_key, json_key = keys.midi_key(user, job_id), keys.transcription_key(user, job_id)
        created: str | None = None
        try:
            with _sigterm_as_interrupt():
                result = transcribe(
                    local, model=model, beats=beats, chunk_seconds=chunk_seconds or DEFAULT_CHUNK_SECONDS, name=shown, timings=timings
                )
                if original.existing is None:
                    stored = originals.store(original, storage=store, settings=settings, user_id=user)
                    created = stored.key
                else:
                    stored = original.existing
                result = result.with_ids(
                    job_id=job_id,
                    user_id=user,
                    source=dataclasses.replace(
                        result.source, key=stored.key, name=original.filename, sha256=original.sha256, stored_as=original.stored_as
                    ),
                )
                store.put(midi_key, result.to_midi(**(midi_options or {})), content_type="audio/midi")
                store.put(json_key, result.to_json().encode("utf-8"), content_type="application/json")  # last: marks done
        except BaseException:
            _cleanup(store, user, job_id, created)
            raise
    return result, JobResult(
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
    )


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
