"""Jobs: the bucket layout around transcribe(), on the local mirror and on (mocked) S3."""

from __future__ import annotations

import hashlib
import json

import boto3
import mido
import pytest

from drumscribe import keys
from drumscribe.config import load_settings
from drumscribe.errors import ConfigError, InputError, StorageError, TranscriptionError
from drumscribe.storage.local import LocalStorage
from drumscribe.jobs import run as jobs
from drumscribe.transcription.result import Transcription


@pytest.fixture
def local(tmp_path):
    settings = load_settings()
    return settings, LocalStorage(settings.local_root)


def keys_under(storage, prefix):
    return [o.key for o in storage.list(prefix)]


def test_local_job_stores_original_midi_and_json(groove_wav, standin, local):
    settings, storage = local
    result, job = jobs.transcribe_and_store(groove_wav, storage=storage, settings=settings, model=standin, beats=False)
    assert job.user_id == "tester" and job.uploaded
    # a PCM WAV is stored as a lossless FLAC of itself; the key's hash is the WAV's
    wav_sha = hashlib.sha256(groove_wav.read_bytes()).hexdigest()
    assert job.upload_key.startswith("uploads/tester/") and job.upload_key.endswith(f"_{wav_sha[:12]}_groove.wav.flac")
    assert job.stored_as == "flac"
    assert keys_under(storage, "processed/") == [keys.midi_key("tester", job.job_id), keys.transcription_key("tester", job.job_id)]
    stored = Transcription.from_json(storage.get(job.transcription_key))
    assert stored == result
    assert (stored.job_id, stored.user_id, stored.source.key, stored.source.name) == (job.job_id, "tester", job.upload_key, "groove.wav")
    assert (stored.source.sha256, stored.source.stored_as) == (wav_sha, "flac")
    assert storage.head(job.upload_key).metadata["source-sha256"] == wav_sha
    assert storage.get(job.midi_key)[:4] == b"MThd"
    assert job.transcription_uri.startswith("file://")


def test_non_audio_is_rejected_before_anything_is_stored(tmp_path, standin, local):
    settings, storage = local
    path = tmp_path / "readme.wav"
    path.write_text("not audio")
    with pytest.raises(InputError):
        jobs.transcribe_and_store(path, storage=storage, settings=settings, model=standin)
    assert keys_under(storage, "") == []


def test_over_the_upload_limit_is_one_line(groove_wav, standin, monkeypatch):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "0.1")
    settings = load_settings()
    with pytest.raises(InputError) as exc:
        jobs.transcribe_and_store(groove_wav, settings=settings, model=standin)
    assert "upload limit" in str(exc.value) and "\n" not in str(exc.value)


def test_a_failed_job_leaves_nothing_under_processed_or_temp(groove_wav, standin, local, monkeypatch):
    settings, storage = local
    real_put = storage.put

    def put(key, data, **kw):
        if key.startswith("processed/"):
            real_put(keys.temp_key(key.split("/")[2], "scratch"), b"x")  # as if a stage used temp/
        if key.endswith(keys.TRANSCRIPTION_JSON):
            raise StorageError("disk full")
        return real_put(key, data, **kw)

    monkeypatch.setattr(storage, "put", put)
    with pytest.raises(StorageError):
        jobs.transcribe_and_store(groove_wav, storage=storage, settings=settings, model=standin, beats=False)
    assert keys_under(storage, "processed/") == [] and keys_under(storage, "temp/") == []
    assert keys_under(storage, "uploads/") == []  # the original this run stored goes too: nothing new is left


def test_a_model_failure_is_a_one_line_transcription_error(groove_wav, standin, local, monkeypatch):
    settings, storage = local
    monkeypatch.setattr(standin, "activations", lambda f: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(TranscriptionError) as exc:
        jobs.transcribe_and_store(groove_wav, storage=storage, settings=settings, model=standin, beats=False)
    assert "boom" in str(exc.value)
    assert keys_under(storage, "processed/") == []


def test_s3_input_without_s3_configured_says_how_to_configure(standin):
    with pytest.raises(ConfigError) as exc:
        jobs.transcribe_and_store("s3://some-bucket/take.wav", model=standin)
    message = str(exc.value)
    assert "needs AWS credentials but none were found" in message and "drumscribe setup" in message and "\n" not in message


def test_folders_expand_recursively_to_audio_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ["a/2.wav", "a/b/1.FLAC", "a/notes.txt", "a/b/cover.jpg", "a/0.mp3"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    got = jobs.expand_inputs([str(tmp_path / "a"), str(tmp_path / "empty"), "missing.wav"])
    assert got[:3] == [(str(tmp_path / p), None) for p in ["a/0.mp3", "a/2.wav", "a/b/1.FLAC"]]
    assert got[3][0] == str(tmp_path / "empty") and "no audio files" in got[3][1]
    assert got[4] == ("missing.wav", None)  # reported when its job runs


@pytest.fixture
def s3_bucket(s3_mock, bucket_name, monkeypatch):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return bucket_name


def test_s3_input_is_uploaded_once_and_results_stored(s3_bucket, groove_wav, standin):
    from drumscribe.storage.s3 import S3Storage

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=s3_bucket, Key="incoming/take one.wav", Body=groove_wav.read_bytes())
    settings = load_settings()
    storage = S3Storage(settings)
    result, job = jobs.transcribe_and_store(f"s3://{s3_bucket}/incoming/take one.wav", storage=storage, settings=settings, model=standin, beats=False)
    assert job.uploaded and job.upload_key.endswith("_take_one.wav.flac") and job.storage == "s3"
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert {job.upload_key, job.midi_key, job.transcription_key} <= listed
    assert json.loads(s3.get_object(Bucket=s3_bucket, Key=job.transcription_key)["Body"].read())["job_id"] == job.job_id
    mido.MidiFile(file=__import__("io").BytesIO(s3.get_object(Bucket=s3_bucket, Key=job.midi_key)["Body"].read()))

    # transcribing the stored upload again does not upload it a second time
    again, job2 = jobs.transcribe_and_store(f"s3://{s3_bucket}/{job.upload_key}", storage=storage, settings=settings, model=standin,
                                            beats=False, force=True)
    assert not job2.uploaded and job2.upload_key == job.upload_key and again.source.name == "take_one.wav"
    uploads = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="uploads/")["Contents"]]
    assert uploads == [job.upload_key]


def test_s3_prefix_expands_to_its_audio_objects(s3_bucket):
    s3 = boto3.client("s3", region_name="us-east-1")
    for key in ["set/1.wav", "set/2.flac", "set/readme.txt", "other/3.wav"]:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"x")
    got = jobs.expand_inputs([f"s3://{s3_bucket}/set/", f"s3://{s3_bucket}/nothing/"], settings=load_settings())
    assert got[:2] == [(f"s3://{s3_bucket}/set/1.wav", None), (f"s3://{s3_bucket}/set/2.flac", None)]
    assert "no audio objects" in got[2][1]


def test_missing_s3_object_is_one_line(s3_bucket, standin):
    with pytest.raises(StorageError) as exc:
        jobs.transcribe_and_store(f"s3://{s3_bucket}/nope.wav", model=standin)
    assert "not found" in str(exc.value)
