"""``drumscribe transcribe`` end to end: local mirror, a real moto S3 server, and bad inputs."""

from __future__ import annotations

import json

import boto3
import pytest
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.storage.local import LocalStorage
from drumscribe.transcription.audio import SUPPORTED_FORMATS
from drumscribe.transcription.result import Transcription


def run(*args):
    return CliRunner().invoke(app, ["transcribe", *map(str, args)])


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def assert_no_traceback(result):
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_local_end_to_end_with_output_folder(groove_wav, default_model, tmp_path, monkeypatch):
    import drumscribe.storage

    monkeypatch.setattr(drumscribe.storage, "_announced", False)  # announced once per process
    result = run(groove_wav, "-o", tmp_path / "out", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    assert "groove.wav: 0:18.0" in result.stdout and "BPM" in result.stdout and "job " in result.stdout
    assert "Using local storage" in result.stderr
    doc = Transcription.from_json((tmp_path / "out" / "groove.json").read_text())
    assert (tmp_path / "out" / "groove.mid").read_bytes()[:4] == b"MThd"
    storage = LocalStorage(load_settings().local_root)
    stored = [o.key for o in storage.list(f"processed/tester/{doc.job_id}/")]
    assert stored == [f"processed/tester/{doc.job_id}/output.mid", f"processed/tester/{doc.job_id}/transcription.json"]
    assert Transcription.from_json(storage.get(stored[1])) == doc
    assert storage.exists(doc.source.key) and doc.source.key.startswith("uploads/tester/")


def test_json_output_is_the_only_thing_on_stdout(groove_wav, default_model):
    result = run(groove_wav, "--json", "--no-beats", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["schema"] == "drumscribe.transcription/1" and doc["tempo"] is None and doc["beats"] == []  # --no-beats: no tempo invented


def test_one_failure_does_not_stop_the_others(groove_wav, default_model, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    result = run(bad, groove_wav, tmp_path / "missing.wav", "--json", "--no-beats", "--jobs", "1")
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert error_lines(result) == [
        f"Error: {bad}: not a readable audio file (Format not recognised) (drumscribe reads {SUPPORTED_FORMATS})",
        f"Error: {tmp_path / 'missing.wav'}: no such file",
    ]
    docs = json.loads(result.stdout)
    assert [d["source"]["name"] for d in docs] == ["groove.wav"]


@pytest.mark.parametrize("kind", ["file", "below-a-file"])
def test_bad_output_folder_is_one_line_and_nothing_runs(groove_wav, default_model, tmp_path, kind):
    target = tmp_path / "taken"
    target.write_text("I am a file")
    out = target if kind == "file" else target / "sub"
    result = run(groove_wav, "-o", out)
    assert result.exit_code == 2
    assert_no_traceback(result)
    assert len(error_lines(result)) == 1 and f"-o {out}" in result.stderr
    assert list(LocalStorage(load_settings().local_root).list("")) == []


def test_s3_input_without_s3_configured(default_model):
    result = run("s3://somebucket/take.wav")
    assert result.exit_code == 2
    assert_no_traceback(result)
    (line,) = error_lines(result)
    assert "needs AWS credentials but none were found" in line and "drumscribe setup" in line


@pytest.mark.parametrize("named", ["flag", "env"])
def test_a_named_bucket_without_credentials_exits_2_and_writes_nowhere(groove_wav, default_model, tmp_path, monkeypatch, named):
    # issue 22.4: this used to exit 0 after writing to $DRUMSCRIBE_HOME/drums-prod, one line on stderr
    if named == "env":
        monkeypatch.setenv("AWS_S3_BUCKET", "drums-prod")
    result = CliRunner().invoke(app, [*(["--bucket", "drums-prod"] if named == "flag" else []), "transcribe", str(groove_wav)])
    assert result.exit_code == 2
    assert_no_traceback(result)
    (line,) = error_lines(result)
    assert "bucket 'drums-prod' is named" in line and "no AWS credentials were found" in line and "--local" in line
    assert not (tmp_path / "drumscribe-home").exists() or not any((tmp_path / "drumscribe-home").rglob("*.json"))


def test_local_with_a_named_bucket_still_works_offline(groove_wav, default_model, tmp_path):
    result = CliRunner().invoke(app, ["--bucket", "drums-prod", "--local", "transcribe", str(groove_wav), "--jobs", "1"])
    assert result.exit_code == 0, result.stderr
    assert any((tmp_path / "drumscribe-home" / "drums-prod" / "processed").rglob("transcription.json"))


@pytest.mark.parametrize(("typed", "meant"), [("s3:/drums/take.wav", "s3://drums/take.wav"), ("S3://drums/take.wav", "s3://drums/take.wav"),
                                              ("s3:drums/take.wav", "s3://drums/take.wav")])
def test_a_mistyped_s3_uri_is_named_as_one(default_model, typed, meant):
    result = run(typed)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert line == f"Error: {typed}: no such file; it looks like an S3 URI: did you mean {meant}?"


def test_over_the_upload_limit(groove_wav, default_model, monkeypatch):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "0.5")
    result = run(groove_wav)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "over the 0.5 MB upload limit" in line


def test_a_bad_model_file_is_one_line(groove_wav, tmp_path):
    result = run(groove_wav, "--model", tmp_path / "nope.npz")
    assert result.exit_code != 0
    assert_no_traceback(result)
    assert len(error_lines(result)) == 1 and "nope.npz" in result.stderr


@pytest.mark.e2e
def test_s3_end_to_end_on_a_moto_server(moto_server, bucket_name, monkeypatch, groove_wav, default_model, tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    s3.create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    s3.put_object(Bucket=bucket_name, Key="incoming/groove.wav", Body=groove_wav.read_bytes())
    s3.put_object(Bucket=bucket_name, Key="incoming/broken.wav", Body=b"RIFF....WAVEfmt garbage")

    result = run(f"s3://{bucket_name}/incoming/", "--no-beats", "--jobs", "1")
    assert result.exit_code == 2
    assert_no_traceback(result)
    (line,) = error_lines(result)
    assert "broken.wav" in line

    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name).get("Contents", []))
    uploads = [k for k in listed if k.startswith("uploads/tester/")]
    processed = [k for k in listed if k.startswith("processed/tester/")]
    assert len(uploads) == 1 and uploads[0].endswith("_groove.wav.flac")  # the broken file was never stored
    assert [k.rsplit("/", 1)[1] for k in processed] == ["output.mid", "transcription.json"]
    assert not [k for k in listed if k.startswith("temp/")]
    doc = json.loads(s3.get_object(Bucket=bucket_name, Key=processed[1])["Body"].read())
    assert doc["source"]["key"] == uploads[0]
    assert f"s3://{bucket_name}/processed/tester/" in result.stdout


def test_parallel_workers_each_load_the_model(groove_wav, real_model, tmp_path):
    """Two inputs, two worker processes (real model only: workers load the packaged one)."""
    other = tmp_path / "other.wav"
    other.write_bytes(groove_wav.read_bytes())
    result = run(groove_wav, other, "--jobs", "2", "--no-beats", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["groove.json", "groove.mid", "other.json", "other.mid"]
    assert "[2/2] done" in result.stderr  # plain progress lines when not on a terminal


@pytest.mark.e2e
def test_a_job_failing_half_way_on_s3_leaves_nothing_under_processed_or_temp(moto_server, bucket_name, monkeypatch, groove_wav, default_model):
    from drumscribe.errors import StorageError
    from drumscribe.storage.s3 import S3Storage

    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    s3.create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    real_put = S3Storage.put

    def put(self, key, data, **kw):  # output.mid and a scratch object go up, then the JSON fails
        if key.endswith("/output.mid"):
            real_put(self, f"temp/{key.split('/')[2]}/scratch.bin", b"partial", **kw)
        if key.endswith("/transcription.json"):
            raise StorageError("S3 is throttling requests (SlowDown)")
        return real_put(self, key, data, **kw)

    monkeypatch.setattr(S3Storage, "put", put)
    result = run(groove_wav, "--no-beats", "--jobs", "1")
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "SlowDown" in line
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name).get("Contents", [])]
    assert listed == []  # no processed/, no temp/, and the original this run stored is gone too
