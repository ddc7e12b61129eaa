"""Transcription jobs: the bucket layout around ``transcribe()``.

One job, in order:

1. the input is validated as audio (nothing is stored for a file that is not audio);
2. the original is stored under ``uploads/{user}/{timestamp}_{hash}_{filename}`` (an ``s3://``
   input that already lives under ``uploads/`` of the results bucket is used as is);
3. a new job id; the audio is transcribed;
4. ``processed/{user}/{job}/output.mid``, then ``processed/{user}/{job}/transcription.json``.
   The JSON is written last: its presence marks a complete job.

If anything fails after the job id exists, whatever was written under ``processed/{user}/{job}/``
and ``temp/{job}/`` is deleted before the error propagates; the original stays in ``uploads/`` so
the job can be retried from there.

Inputs: a local file, a local folder (every audio file below it), ``s3://bucket/key``, or
``s3://bucket/prefix/`` (every audio object under it). ``s3://`` inputs need S3 credentials.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from drumscribe import keys
from drumscribe.config import Settings, load_settings
from drumscribe.errors import ConfigError, DrumscribeError, InputError
from drumscribe.storage.base import Storage
from drumscribe.transcription import audio
from drumscribe.transcription.result import Transcription

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class JobResult:
    job_id: str
    user_id: str
    input: str  # what the user named (path or s3:// URI)
    upload_key: str  # uploads/... key of the original
    uploaded: bool  # False when the input already was that upload
    midi_key: str
    transcription_key: str
    storage: str  # "s3" or "local"
    midi_uri: str
    transcription_uri: str

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
    src = s3_storage_for(bucket, settings)
    info = src.head(key)
    if info.size > settings.max_upload_bytes:
        raise InputError(
            f"{uri} is {info.size / 1048576:.1f} MB, over the {settings.max_upload_mb:g} MB limit",
            hint="raise DRUMSCRIBE_MAX_UPLOAD_MB to allow bigger files",
        )
    local = workdir / keys.sanitize_filename(key.rsplit("/", 1)[-1])
    src.download(key, local)
    return local, bucket, key


def _original_name(key: str) -> str:
    """``uploads/u/20250101T000000Z_abcdef012345_song.wav`` -> ``song.wav``."""
    name = key.rsplit("/", 1)[-1]
    parts = name.split("_", 2)
    if key.startswith(keys.UPLOADS + "/") and len(parts) == 3 and len(parts[1]) == keys.HASH_CHARS:
        return parts[2]
    return name


def _cleanup(storage: Storage, user_id: str, job_id: str) -> None:
    """Remove every object of a failed job under processed/ and temp/ (best effort)."""
    for prefix in (keys.job_prefix(user_id, job_id), keys.temp_prefix(job_id)):
        try:
            doomed = [o.key for o in storage.list(prefix)]
            if doomed:
                storage.delete_many(doomed)
        except DrumscribeError:
            pass  # the original error matters more; a leftover temp/ object expires by lifecycle


def transcribe_and_store(
    source: str | os.PathLike,
    *,
    storage: Storage | None = None,
    settings: Settings | None = None,
    user_id: str | None = None,
    model: Any = None,
    beats: bool = True,
    chunk_seconds: int | None = None,
    job_id: str | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[Transcription, JobResult]:
    """Transcribe one input (a local file or ``s3://bucket/key``) and store original + results.

    ``job_id``: the id to write under (default: a new one); a batch passes its own so that a retry
    after a dead worker knows which half-written job to clear. ``timings``: see ``transcribe``.
    """
    from drumscribe.storage.uploads import upload
    from drumscribe.transcription.pipeline import DEFAULT_CHUNK_SECONDS, transcribe

    settings = settings or load_settings()
    user = keys.sanitize_user_id(user_id or settings.user)
    shown = str(source)
    with tempfile.TemporaryDirectory(prefix="drumscribe-") as tmp:
        if is_s3_uri(shown):
            local, bucket, key = _fetch_s3(shown, settings, Path(tmp))
            filename = _original_name(key)
        else:
            local, bucket, key = Path(source), None, None
            filename = local.name
        audio.probe(local, name=shown)  # not audio -> InputError before anything is stored

        store = _results_storage(storage, settings)
        reuse = (
            key is not None
            and store.name == "s3"
            and store.bucket == bucket
            and key.startswith(keys.UPLOADS + "/")
        )
        if reuse:
            original = store.head(key)
            upload_key, uploaded = key, False
        else:
            original = upload(local, storage=store, settings=settings, user_id=user, filename=filename)
            upload_key, uploaded = original.key, True

        job_id = keys.validate_job_id(job_id) if job_id else keys.new_job_id()
        midi_key, json_key = keys.midi_key(user, job_id), keys.transcription_key(user, job_id)
        try:
            result = transcribe(
                local, model=model, beats=beats, chunk_seconds=chunk_seconds or DEFAULT_CHUNK_SECONDS, name=shown, timings=timings
            )
            result = result.with_ids(
                job_id=job_id,
                user_id=user,
                source=dataclasses.replace(
                    result.source, key=upload_key, name=filename, sha256=original.sha256 or result.source.sha256
                ),
            )
            store.put(midi_key, result.to_midi(), content_type="audio/midi")
            store.put(json_key, result.to_json().encode("utf-8"), content_type="application/json")  # last: marks done
        except BaseException:
            _cleanup(store, user, job_id)
            raise
    return result, JobResult(
        job_id=job_id,
        user_id=user,
        input=shown,
        upload_key=upload_key,
        uploaded=uploaded,
        midi_key=midi_key,
        transcription_key=json_key,
        storage=store.name,
        midi_uri=store.uri(midi_key),
        transcription_uri=store.uri(json_key),
    )
