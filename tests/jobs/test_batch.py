"""Batches: many inputs on a real Dask LocalCluster (worker processes) against a moto S3 server.

The workers are separate processes, so they get the moto endpoint and the fake credentials
through their own environment (passed explicitly), as real workers would get theirs. They run
the packaged model on short synthesized grooves.
"""

from __future__ import annotations

import io
import os
import signal
import sys

import boto3
import pytest
import soundfile as sf
from typer.testing import CliRunner

from drumscribe import keys
from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.errors import ConfigError
from drumscribe.jobs import batch
from drumscribe.jobs.batch import transcribe_many

distributed = pytest.importorskip("distributed", reason='needs the "cluster" extra')
from synth import SR, groove, render  # noqa: E402
from dask_helpers import local_cluster  # noqa: E402

pytestmark = pytest.mark.slow
runner = CliRunner()
SONGS = 5


def wav_bytes(seed: int, seconds: float = 6.0) -> bytes:
    buffer = io.BytesIO()
    bpm = 100.0 + 5 * seed  # every song differs, so every song has its own sha256
    sf.write(buffer, render(groove(int(seconds * bpm / 240) + 1, bpm=bpm, start=0.2), seconds, SR, seed=seed), SR,
             format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def bucket(moto_server, bucket_name, monkeypatch):
    """A bucket on the moto server holding SONGS uploads of user "tester", as `drumscribe upload` stores them."""
    from drumscribe import upload

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    for n in range(SONGS):
        upload(wav_bytes(n), filename=f"song{n}.wav")
    return bucket_name


@pytest.fixture(scope="module")
def _cluster(_moto_server_url, tmp_path_factory):
    """Two single-threaded worker processes for the whole module (starting them takes seconds).

    They get the moto endpoint and fake credentials in their own environment, and nothing of the
    developer's: the bucket and user of each test come with its tasks, as on a real cluster.
    """
    with local_cluster(_moto_server_url, tmp_path_factory.mktemp("workers-home"), n_workers=2) as client:
        yield client


@pytest.fixture
def client(bucket, _cluster):
    _cluster.wait_for_workers(2, timeout=60)  # a worker killed by an earlier test is back
    return _cluster


def objects(bucket: str, prefix: str) -> list[str]:
    pages = boto3.client("s3", region_name="us-east-1").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def assert_only_complete_jobs(bucket: str) -> set[str]:
    """Every job folder under processed/ holds both files, nothing is left in temp/; returns the job ids."""
    files: dict[str, set[str]] = {}
    for key in objects(bucket, "processed/"):
        user, job, name = keys.parse_processed_key(key)
        files.setdefault(job, set()).add(name)
    assert all(names == {"output.mid", "transcription.json"} for names in files.values()), files
    assert objects(bucket, "temp/") == []
    return set(files)


def test_a_batch_runs_one_task_per_input_and_a_rerun_skips_them_all(bucket, client):
    uploads = objects(bucket, "uploads/")
    report = transcribe_many([f"s3://{bucket}/uploads/"], cluster=client)

    assert [r.status for r in report.results] == ["done"] * SONGS
    assert [r.input for r in report.results] == [f"s3://{bucket}/{key}" for key in uploads]
    assert len({r.worker for r in report.results}) == 2  # both worker processes took tasks
    assert all(r.job["upload_key"] == key and not r.job["uploaded"] for r, key in zip(report.results, uploads))
    assert len(assert_only_complete_jobs(bucket)) == SONGS
    assert report.summary()["audio_seconds"] == pytest.approx(SONGS * 6.0, abs=0.1)

    again = transcribe_many([f"s3://{bucket}/uploads/"], cluster=client)
    assert [r.status for r in again.results] == ["skipped"] * SONGS
    assert [r.job["job_id"] for r in again.results] == [r.job["job_id"] for r in report.results]
    assert objects(bucket, "uploads/") == uploads  # the originals were never uploaded again
    assert len(assert_only_complete_jobs(bucket)) == SONGS

    forced = transcribe_many([f"s3://{bucket}/uploads/{uploads[0].split('/', 1)[1]}"], cluster=client, force=True)
    assert forced.results[0].status == "done" and len(assert_only_complete_jobs(bucket)) == SONGS + 1


def test_a_worker_killed_mid_batch_loses_nothing(bucket, client):
    killed = []

    def kill_a_busy_worker(result):
        if killed:
            return
        busy = [address for address, tasks in client.processing().items() if tasks]
        pids = client.run(os.getpid, workers=busy[:1])
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)  # no cleanup, no goodbye: like a lost machine
            killed.append(pid)

    report = transcribe_many([f"s3://{bucket}/uploads/"], cluster=client, on_result=kill_a_busy_worker)

    assert killed, "no worker was busy to be killed"
    assert [r.status for r in report.results] == ["done"] * SONGS
    assert len(assert_only_complete_jobs(bucket)) == SONGS


def test_a_retry_completes_what_a_killed_attempt_half_wrote(bucket):
    """The write order leaves output.mid alone if a worker dies between the two writes; the retry,
    under the same job id, overwrites it and completes the job."""
    settings = load_settings()
    job_id = keys.new_job_id()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=bucket, Key=keys.midi_key("tester", job_id), Body=b"MThd half")
    opts = batch.TaskOptions(settings=tuple((n, getattr(settings, n)) for n in batch.SHARED_SETTINGS), user="tester", job_id=job_id)

    result = batch.run_task(f"s3://{bucket}/{objects(bucket, 'uploads/')[0]}", opts)

    assert result.status == "done" and result.job["job_id"] == job_id
    assert assert_only_complete_jobs(bucket) == {job_id}
    assert s3.get_object(Bucket=bucket, Key=keys.midi_key("tester", job_id))["Body"].read().startswith(b"MThd\x00")


def test_an_input_failing_after_a_killed_attempt_leaves_nothing_behind(bucket):
    settings = load_settings()
    job_id = keys.new_job_id()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=bucket, Key=keys.midi_key("tester", job_id), Body=b"MThd half")
    opts = batch.TaskOptions(settings=tuple((n, getattr(settings, n)) for n in batch.SHARED_SETTINGS), user="tester", job_id=job_id)

    result = batch.run_task(f"s3://{bucket}/uploads/tester/deleted-meanwhile.wav", opts)

    assert result.status == "failed" and "deleted-meanwhile.wav" in result.error
    assert objects(bucket, "processed/") == []


def test_a_bad_input_is_reported_and_the_others_finish(bucket, client):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=bucket, Key="uploads/tester/20261201T000000Z_000000000000_notes.wav", Body=b"not audio at all")

    report = transcribe_many([f"s3://{bucket}/uploads/"], cluster=client)

    assert report.summary() | {"wall_seconds": 0, "audio_hours_per_hour": 0, "cluster": None} == {
        "inputs": SONGS + 1, "done": SONGS, "skipped": 0, "failed": 1, "audio_seconds": pytest.approx(SONGS * 6.0, abs=0.1),
        "wall_seconds": 0, "audio_hours_per_hour": 0, "workers": 2, "cluster": None}
    bad = report.failed[0]
    assert bad.input.endswith("_notes.wav") and bad.exit_code == 2 and "\n" not in bad.error
    assert len(assert_only_complete_jobs(bucket)) == SONGS


def test_the_cli_sends_the_batch_to_the_scheduler_and_prints_json(bucket, client):
    address = client.scheduler.address
    first = runner.invoke(app, ["transcribe", f"s3://{bucket}/uploads/", "--cluster", address, "--json"])
    assert first.exit_code == 0, first.output
    import json

    doc = json.loads(first.stdout)
    assert doc["summary"]["done"] == SONGS and doc["summary"]["cluster"] == address
    assert {r["status"] for r in doc["results"]} == {"done"}

    # DASK_SCHEDULER_ADDRESS is Dask's own setting; a rerun reports every input as skipped
    again = runner.invoke(app, ["transcribe", f"s3://{bucket}/uploads/"], env={"DASK_SCHEDULER_ADDRESS": address})
    assert again.exit_code == 0, again.output
    assert f"{SONGS} skipped" in again.stdout and "0 done" in again.stdout


def test_without_the_cluster_extra_the_error_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    with pytest.raises(ConfigError, match=r'pip install "drumscribe\[cluster\]"'):
        batch.connect("tcp://127.0.0.1:8786")

    song = tmp_path / "song.wav"
    song.write_bytes(wav_bytes(0, 2.0))
    result = runner.invoke(app, ["transcribe", str(song), "--cluster", "local"])
    assert result.exit_code == 2
    assert 'pip install "drumscribe[cluster]"' in result.stderr and "Traceback" not in result.output


def test_without_a_cluster_the_batch_runs_on_local_processes(tmp_path):
    songs = tmp_path / "songs"
    songs.mkdir()
    for n in range(2):
        (songs / f"song{n}.wav").write_bytes(wav_bytes(n, 3.0))
    (songs / "broken.wav").write_bytes(b"RIFF nothing")

    report = transcribe_many([str(songs)], jobs=2)  # no bucket configured: the local mirror

    assert [(r.input.rsplit("/", 1)[-1], r.status) for r in report.results] == [
        ("broken.wav", "failed"), ("song0.wav", "done"), ("song1.wav", "done")]
    assert [r.status for r in transcribe_many([str(songs)], jobs=1).results] == ["failed", "skipped", "skipped"]


def test_a_worker_without_credentials_fails_its_inputs_in_one_line(bucket, monkeypatch):
    """Workers never fall back to their own disk: no credentials there is an error for each input."""
    settings = load_settings()
    opts = batch.TaskOptions(settings=tuple((n, getattr(settings, n)) for n in batch.SHARED_SETTINGS), user="tester")
    song = f"s3://{bucket}/{objects(bucket, 'uploads/')[0]}"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    from drumscribe.jobs import tasks

    monkeypatch.setattr(tasks, "_context", {})  # a fresh worker process

    result = batch.run_task(song, opts)

    assert result.status == "failed" and result.exit_code == 2
    assert result.error.startswith("on worker ") and "needs AWS credentials but none were found" in result.error


def test_cluster_local_starts_a_local_cluster_for_the_batch(tmp_path):
    """`--cluster local`: a LocalCluster on this machine, so the local mirror works too."""
    songs = tmp_path / "songs"
    songs.mkdir()
    (songs / "take.wav").write_bytes(wav_bytes(3, 3.0))

    report = transcribe_many([str(songs)], cluster="local", jobs=1)

    assert [r.status for r in report.results] == ["done"] and report.cluster.startswith("tcp://127.0.0.1:")
    assert report.results[0].job["storage"] == "local"


def test_a_local_file_for_remote_workers_is_stored_once_as_a_one_job_run_stores_it(s3_mock, bucket_name, monkeypatch, tmp_path):
    # workers on other machines cannot read this disk: the client stores the original first, as
    # transcribe_and_store would (a PCM WAV as its lossless FLAC, once per content)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    settings = load_settings()
    from drumscribe.storage import get_storage

    storage = get_storage(settings, announce=False)
    song = tmp_path / "take.wav"
    song.write_bytes(wav_bytes(1))
    opts = batch.TaskOptions(settings=tuple((n, getattr(settings, n)) for n in batch.SHARED_SETTINGS), user="tester")
    failures = []
    first = batch._stage_local_file(str(song), 0, storage, settings, opts, {}, False, failures.append)
    again = batch._stage_local_file(str(song), 1, storage, settings, opts, {}, False, failures.append)
    assert failures == [] and first == again and first.endswith("_take.wav.flac")
    assert [o.key for o in storage.list("uploads/")] == [first.split(f"s3://{bucket_name}/", 1)[1]]


# -- objects other tools put in the bucket (issue 22, point 2) ---------------------------------
@pytest.fixture
def foreign_bucket(moto_server, bucket_name, monkeypatch):
    """Two WAVs put with a plain put_object (as `aws s3 cp` does): no drumscribe metadata at all,
    one under uploads/ in a folder that is not a drumscribe user's upload key, one elsewhere."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    s3.put_object(Bucket=bucket_name, Key="uploads/batch/one.wav", Body=wav_bytes(7, 3.0))
    s3.put_object(Bucket=bucket_name, Key="uploads/batch/two.wav", Body=wav_bytes(8, 3.0))
    s3.put_object(Bucket=bucket_name, Key="incoming/three.wav", Body=wav_bytes(9, 3.0))
    assert "Metadata" not in s3.head_object(Bucket=bucket_name, Key="uploads/batch/one.wav") or \
        s3.head_object(Bucket=bucket_name, Key="uploads/batch/one.wav")["Metadata"] == {}
    return bucket_name


def foreign_inputs(bucket: str) -> list[str]:
    return [f"s3://{bucket}/uploads/batch/", f"s3://{bucket}/incoming/three.wav"]


def test_objects_other_tools_put_are_transcribed_once_then_skipped_on_local_processes(foreign_bucket):
    first = transcribe_many(foreign_inputs(foreign_bucket), jobs=1)
    assert [r.status for r in first.results] == ["done"] * 3, [r.error for r in first.results]

    again = transcribe_many(foreign_inputs(foreign_bucket), jobs=1)  # now the user has finished jobs

    assert [(r.status, r.error) for r in again.results] == [("skipped", None)] * 3
    assert [r.job["job_id"] for r in again.results] == [r.job["job_id"] for r in first.results]
    assert len(assert_only_complete_jobs(foreign_bucket)) == 3


def test_objects_other_tools_put_are_transcribed_once_then_skipped_on_a_dask_cluster(foreign_bucket, _cluster):
    _cluster.wait_for_workers(2, timeout=60)
    address = _cluster.scheduler.address  # tcp://..., as `drumscribe transcribe --cluster tcp://...` names it
    first = runner.invoke(app, ["transcribe", *foreign_inputs(foreign_bucket), "--cluster", address])
    assert first.exit_code == 0, first.output
    assert "3 done, 0 skipped, 0 failed" in first.stdout

    again = runner.invoke(app, ["transcribe", *foreign_inputs(foreign_bucket), "--cluster", address])

    assert again.exit_code == 0, again.output
    assert "0 done, 3 skipped, 0 failed" in again.stdout and "internal error" not in again.output
    library = transcribe_many(foreign_inputs(foreign_bucket), cluster=_cluster)
    assert [r.status for r in library.results] == ["skipped"] * 3
    assert len(assert_only_complete_jobs(foreign_bucket)) == 3


def test_objects_other_tools_put_are_skipped_with_cluster_local(foreign_bucket):
    first = transcribe_many([f"s3://{foreign_bucket}/incoming/three.wav"], jobs=1)
    assert first.results[0].status == "done"

    again = runner.invoke(app, ["transcribe", f"s3://{foreign_bucket}/incoming/three.wav", "--cluster", "local", "--jobs", "1"])

    assert again.exit_code == 0, again.output
    assert "0 done, 1 skipped, 0 failed" in again.stdout
    assert first.results[0].job["job_id"] in again.stdout
