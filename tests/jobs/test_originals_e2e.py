"""Originals stored once, jobs complete or absent, song-length WAVs (issue 13, points 4 and 5), on a moto HTTP server."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal

import numpy as np
import pytest
import soundfile as sf

from drumscribe import keys
from job_helpers import bucket_keys, error_lines

pytestmark = pytest.mark.e2e

SONG_RATE = 44100
SONG_SECONDS = 6 * 60


@pytest.fixture
def song_wav(tmp_path):
    """A 6-minute 16-bit stereo 44.1 kHz WAV (63.5 MB, over the 50 MB limit): faint noise and a click every half second."""
    rng = np.random.default_rng(13)
    frames = rng.integers(-6, 7, size=(SONG_SECONDS * SONG_RATE, 2), dtype=np.int16)
    frames[:: SONG_RATE // 2] = 16000
    path = tmp_path / "song take.wav"
    sf.write(path, frames, SONG_RATE, subtype="PCM_16")
    assert path.stat().st_size > 50 * 1024 * 1024
    return path


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_same_file_twice_is_stored_once(cli, take, standin_model, bucket, s3):
    first = cli("transcribe", take, "--no-beats", "--jobs", "1")
    assert first.exit_code == 0, first.stderr
    assert "stored now as a lossless FLAC of the WAV" in first.stdout
    renamed = take.with_name("same take, new name.wav")
    renamed.write_bytes(take.read_bytes())
    second = cli("transcribe", renamed, "--no-beats", "--jobs", "1", "--json", "--force")  # a second job, same original
    assert second.exit_code == 0, second.stderr

    uploads = bucket_keys(s3, bucket, "uploads/")
    assert len(uploads) == 1 and f"_{sha256(take)[:12]}_take.wav.flac" in uploads[0]
    assert len(bucket_keys(s3, bucket, "processed/")) == 4  # two complete jobs
    doc = json.loads(second.stdout)
    assert doc["source"]["key"] == uploads[0] and doc["source"]["name"] == "same take, new name.wav"
    assert doc["source"]["sha256"] == sha256(take)


def test_a_failed_transcription_stores_nothing(cli, take, standin_model, bucket, s3, monkeypatch):
    monkeypatch.setattr(standin_model, "activations", lambda features: (_ for _ in ()).throw(RuntimeError("out of memory")))
    result = cli("transcribe", take, "--no-beats", "--jobs", "1")
    assert result.exit_code != 0 and len(error_lines(result)) == 1
    assert bucket_keys(s3, bucket) == []


def test_sigterm_while_writing_results_leaves_nothing_new(take, standin_model, bucket, s3, monkeypatch):
    """Killed (SIGTERM) after the original and output.mid were stored: both go, the job never existed."""
    from drumscribe.config import load_settings
    from drumscribe.jobs.run import transcribe_and_store
    from drumscribe.storage.s3 import S3Storage

    real_put = S3Storage.put

    def put(self, key, data, **kw):
        info = real_put(self, key, data, **kw)
        if key.endswith(keys.OUTPUT_MIDI):
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill` or a stopping container would
        return info

    class ReachedTheTest(Exception):
        """SIGTERM got past the job: without this guard it would end the test run."""

    def guard(signum, frame):
        raise ReachedTheTest

    monkeypatch.setattr(S3Storage, "put", put)
    previous = signal.signal(signal.SIGTERM, guard)
    try:
        with pytest.raises(KeyboardInterrupt):
            transcribe_and_store(take, settings=load_settings(), beats=False)
        assert signal.getsignal(signal.SIGTERM) is guard  # the job's handler is only there during the job
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert bucket_keys(s3, bucket) == []


def test_a_reused_original_survives_a_failed_job(cli, take, standin_model, bucket, s3, monkeypatch):
    assert cli("transcribe", take, "--no-beats", "--jobs", "1").exit_code == 0
    before = bucket_keys(s3, bucket)
    monkeypatch.setattr(standin_model, "activations", lambda features: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cli("transcribe", take, "--no-beats", "--jobs", "1", "--force").exit_code != 0
    assert bucket_keys(s3, bucket) == before  # the first job and its original are untouched


def test_setup_says_what_expires_when(cli, s3, moto_server, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    result = cli("setup", "lifecycle", "--bucket", bucket_name)
    assert result.exit_code == 0, result.stdout
    text = " ".join(result.stdout.split())
    for said in ("temp/ deleted after 1 day", "processed/ deleted after 30 days", "uploads/ kept until you delete it"):
        assert said in text
    assert "uploads/ (originals) kept until you delete them" in " ".join(cli("setup", "--help").stdout.split())


def test_a_song_length_wav_is_stored_as_a_lossless_flac(cli, song_wav, standin_model, bucket, s3):
    result = cli("transcribe", song_wav, "--no-beats", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    (upload,) = bucket_keys(s3, bucket, "uploads/")
    assert upload.endswith(f"_{sha256(song_wav)[:12]}_song_take.wav.flac")
    assert f"original {upload} (stored now as a lossless FLAC of the WAV)" in result.stdout

    stored = s3.get_object(Bucket=bucket, Key=upload)
    assert stored["ContentType"] == "audio/flac" and stored["Metadata"]["source-sha256"] == sha256(song_wav)
    flac = stored["Body"].read()
    assert len(flac) < 50 * 1024 * 1024 < song_wav.stat().st_size
    original, rate = sf.read(song_wav, dtype="int16")
    decoded, flac_rate = sf.read(io.BytesIO(flac), dtype="int16")
    assert flac_rate == rate and np.array_equal(decoded, original)  # every sample, bit for bit

    (json_key,) = [k for k in bucket_keys(s3, bucket, "processed/") if k.endswith(keys.TRANSCRIPTION_JSON)]
    source = json.loads(s3.get_object(Bucket=bucket, Key=json_key)["Body"].read())["source"]
    assert source["key"] == upload and source["stored_as"] == "flac"
    assert source["name"] == "song take.wav" and source["sha256"] == sha256(song_wav)
    assert round(source["duration"]) == SONG_SECONDS


def test_the_limit_stays_configurable_and_is_checked_before_transcribing(cli, song_wav, standin_model, bucket, s3, monkeypatch):
    monkeypatch.setattr(standin_model, "activations", lambda f: pytest.fail("transcribed a file that cannot be stored"))
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "5")
    result = cli("transcribe", song_wav, "--no-beats", "--jobs", "1")
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "over the 5 MB upload limit" in line and "DRUMSCRIBE_MAX_UPLOAD_MB" in line
    assert bucket_keys(s3, bucket) == []


def test_an_s3_wav_over_the_limit_is_fetched_when_its_flac_fits(cli, standin_model, bucket, s3, monkeypatch, tmp_path):
    """The limit is on what is stored: a WAV in the bucket over it is fetched and stored as a FLAC that fits."""
    rng = np.random.default_rng(7)
    wav = tmp_path / "incoming.wav"
    sf.write(wav, rng.integers(-6, 7, size=(10 * SONG_RATE, 2), dtype=np.int16), SONG_RATE, subtype="PCM_16")  # 1.7 MB
    s3.put_object(Bucket=bucket, Key="incoming/long take.wav", Body=wav.read_bytes())
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "1")
    result = cli("transcribe", f"s3://{bucket}/incoming/long take.wav", "--no-beats", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    (upload,) = bucket_keys(s3, bucket, "uploads/")
    assert upload.endswith("_long_take.wav.flac")
    assert s3.head_object(Bucket=bucket, Key=upload)["ContentLength"] < 1024 * 1024 < wav.stat().st_size
