"""Listing, showing and opening jobs, and storage stats, on the local mirror and on S3 (moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from typer.testing import CliRunner

from drumscribe import list_jobs, load_job, storage_stats
from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.errors import NotFoundError
from drumscribe.keys import midi_key, transcription_key
from drumscribe.storage.local import LocalStorage
from drumscribe.transcription.result import DrumEvent, SourceInfo, Transcription

runner = CliRunner()
JOBS = ["20261101T080000Z-aaaaaaaa", "20261124T120000Z-bbbbbbbb", "20261115T090000Z-cccccccc"]


def transcription(job_id, user="tester", hits=4, name="groove.wav"):
    events = tuple(DrumEvent(i * 0.5, "kick" if i % 2 == 0 else "snare", 36 if i % 2 == 0 else 38, 90, 0.9) for i in range(hits))
    return Transcription(events=events, tempo=120.0, beats=tuple(i * 0.5 for i in range(8)), downbeats=(0.0, 2.0),
                         source=SourceInfo(name=name, duration=75.0), job_id=job_id, user_id=user,
                         created_at=f"{job_id[:4]}-{job_id[4:6]}-{job_id[6:8]}T{job_id[9:11]}:{job_id[11:13]}:00Z")


@pytest.fixture
def local():
    storage = LocalStorage(load_settings().local_root)
    for n, job in enumerate(JOBS):
        t = transcription(job, hits=2 + n, name=f"take{n}.wav")
        storage.put(transcription_key("tester", job), t.to_json().encode())
        storage.put(midi_key("tester", job), t.to_midi())
    storage.put(transcription_key("someone", "20261125T000000Z-dddddddd"), transcription("20261125T000000Z-dddddddd", "someone").to_json().encode())
    storage.put("uploads/tester/20261101T080000Z_abcdefabcdef_take0.wav", b"\0" * 5000)
    return storage


def test_jobs_are_listed_newest_first_with_their_details(local):
    jobs = list_jobs(storage=local)
    assert [j.job_id for j in jobs] == sorted(JOBS, reverse=True)
    newest = jobs[0]
    assert (newest.source, newest.tempo, newest.duration) == ("take1.wav", 120.0, 75.0)
    assert newest.counts == {"kick": 2, "snare": 1}
    assert [j.job_id for j in list_jobs(storage=local, limit=2)] == sorted(JOBS, reverse=True)[:2]
    assert [j.user_id for j in list_jobs(storage=local, user="*")][0] == "someone"


def test_a_broken_job_is_listed_with_its_error(local):
    local.put(transcription_key("tester", "20261130T000000Z-eeeeeeee"), b"{not json")
    jobs = list_jobs(storage=local)
    assert jobs[0].job_id == "20261130T000000Z-eeeeeeee" and "not valid JSON" in jobs[0].error


def test_load_job_and_unknown_job(local):
    assert load_job(JOBS[0], storage=local).counts() == {"kick": 1, "snare": 1}
    with pytest.raises(NotFoundError, match="no job '20261231T000000Z-ffffffff' for user 'tester'"):
        load_job("20261231T000000Z-ffffffff", storage=local)


def test_cli_jobs_table_and_json(local):
    result = runner.invoke(app, ["--local", "jobs"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "2026" in line]
    assert [line.split()[0] for line in lines] == sorted(JOBS, reverse=True)
    assert "take1.wav" in lines[0] and "1:15" in lines[0] and "BD 2 SD 1" in lines[0]
    data = json.loads(runner.invoke(app, ["--local", "jobs", "--json", "--limit", "1"]).stdout)
    assert [d["job_id"] for d in data] == [sorted(JOBS)[-1]]


def test_cli_show_tab_json_midi_and_unknown(local, tmp_path):
    result = runner.invoke(app, ["--local", "show", JOBS[1]])
    assert result.exit_code == 0, result.output
    assert "tempo 120.0 BPM" in result.stdout and "BD  |o-------o-------|" in result.stdout
    as_json = json.loads(runner.invoke(app, ["--local", "show", JOBS[1], "--format", "json"]).stdout)
    assert as_json["job_id"] == JOBS[1]
    midi = tmp_path / "out.mid"
    assert runner.invoke(app, ["--local", "show", JOBS[1], "-f", "midi", "-o", str(midi)]).exit_code == 0
    assert midi.read_bytes()[:4] == b"MThd"
    missing = runner.invoke(app, ["--local", "show", "20261231T000000Z-ffffffff"])
    assert missing.exit_code != 0 and missing.stderr.startswith("Error: no job") and len(missing.stderr.splitlines()) == 1
    bad = runner.invoke(app, ["--local", "show", "../../etc"])
    assert bad.exit_code == 2 and "invalid job id" in bad.stderr


def test_cli_open_prints_local_paths(local):
    result = runner.invoke(app, ["--local", "open", JOBS[0]])
    assert result.exit_code == 0, result.output
    midi, js = result.stdout.splitlines()
    assert midi.startswith("midi  /") and midi.endswith(f"{JOBS[0]}/output.mid")
    assert js.endswith(f"{JOBS[0]}/transcription.json")


def test_stats_per_prefix_user_and_cost(local, tmp_path):
    s = storage_stats(storage=local)
    assert set(s.prefixes) == {"processed/", "uploads/"} and s.users["tester"].objects == 7
    assert s.classes["STANDARD"].objects == s.total.objects == 8
    expected = s.total.bytes / 1024**3 * 0.023
    assert s.usd_month == pytest.approx(expected)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"prices": {"STANDARD": 1.0}, "source": "test table", "date": "2026-11"}))
    assert storage_stats(storage=local, prices=prices).usd_month == pytest.approx(s.total.bytes / 1024**3)
    result = runner.invoke(app, ["--local", "stats", "--prices", str(prices)])
    assert result.exit_code == 0 and "test table, prices of 2026-11" in result.stdout


def test_stats_on_s3_applies_minimum_billable_sizes(s3_mock, bucket_name, monkeypatch):
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket_name)
    s3.put_object(Bucket=bucket_name, Key="processed/alice/20261124T120000Z-bbbbbbbb/transcription.json", Body=b"x" * 1000)
    s3.put_object(Bucket=bucket_name, Key="uploads/alice/old.wav", Body=b"x" * 1000, StorageClass="STANDARD_IA")
    s3.put_object(Bucket=bucket_name, Key="temp/20261124T120000Z-bbbbbbbb/scratch", Body=b"x" * 10)
    s = storage_stats()
    assert s.backend == "s3" and set(s.prefixes) == {"processed/", "temp/", "uploads/"}
    assert s.users == {"alice": s.users["alice"]} and s.users["alice"].objects == 2
    assert s.classes["STANDARD_IA"].billable_bytes == 128 * 1024  # a 1 KB object is billed as 128 KB


def test_transcribe_and_store_reads_an_upload_already_in_storage(tmp_path):
    """What the service does with a browser's upload: name the job first, store nothing twice."""
    import io

    import soundfile as sf
    from synth import SR, groove, render  # tests/transcription is on the path

    from drumscribe import transcribe_and_store
    from drumscribe.errors import InputError

    storage = LocalStorage(load_settings().local_root)
    buf = io.BytesIO()
    sf.write(buf, render(groove(1), 3.0), SR, format="WAV", subtype="PCM_16")
    key = "uploads/tester/20261201T000000Z_0123456789ab_beat.wav"
    storage.put(key, buf.getvalue())
    _, job = transcribe_and_store("beat.wav", storage=storage, stored_upload=key, job_id="20261201T000001Z-0badcafe")
    assert (job.job_id, job.upload_key, job.uploaded) == ("20261201T000001Z-0badcafe", key, False)
    assert [o.key for o in storage.list("uploads/")] == [key]
    assert load_job(job.job_id, storage=storage).source.name == "beat.wav"
    with pytest.raises(InputError, match="not an upload"):
        transcribe_and_store("x.wav", storage=storage, stored_upload="processed/tester/x/output.mid")
