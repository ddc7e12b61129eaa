"""Work made offline reaches the bucket once one is set up (issue 13, point 2), on a moto HTTP server.

Before a bucket is configured, jobs land in the offline folder ($DRUMSCRIBE_HOME/local). After
setup, `jobs` and `show` still find them (marked as offline), `sync push --from-local` sends
them, a second run sends nothing, and `setup` prints that exact command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drumscribe.config import load_settings
from job_helpers import bucket_keys, error_lines

pytestmark = pytest.mark.e2e


def offline_root(settings):
    """Where work lands while no bucket is configured (the documented place)."""
    return settings.home / "local"


@pytest.fixture
def offline_job(cli, take, standin_model):
    """One job transcribed with no bucket configured: it lives in the offline folder."""
    result = cli("transcribe", take, "--no-beats", "--jobs", "1", "--json")
    assert result.exit_code == 0, result.stderr
    assert f"Using local storage at {offline_root(load_settings())}" in result.stderr
    return json.loads(result.stdout)


def test_offline_jobs_are_listed_shown_then_pushed_once(cli, offline_job, bucket, s3, monkeypatch):
    job_id = offline_job["job_id"]
    # the bucket is configured now; nothing of the offline job is in it yet
    assert bucket_keys(s3, bucket) == []
    plain = cli("sync", "push").stderr  # plain push mirrors $DRUMSCRIBE_HOME/<bucket>: not the offline folder...
    assert "0 transferred" in plain
    assert "1 job(s) made offline are not in the bucket yet: `drumscribe sync push --from-local` sends them" in plain  # ...and says so

    listed = cli("jobs")
    assert listed.exit_code == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if job_id in line)
    assert row.split()[-1] == "offline"
    assert "sync push --from-local" in listed.stderr
    assert [j["location"] for j in json.loads(cli("jobs", "--json").stdout)] == ["offline"]

    shown = cli("show", job_id, "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["job_id"] == job_id
    assert "offline folder" in shown.stderr and "sync push --from-local" in shown.stderr
    viewed = cli("view", job_id, "--no-open")  # the page too, like show --format html
    assert viewed.exit_code == 0, viewed.stderr
    assert job_id in Path(viewed.stdout.strip()).read_text()

    preview = cli("sync", "push", "--from-local", "--dry-run")
    assert preview.exit_code == 0 and bucket_keys(s3, bucket) == []
    status = json.loads(cli("sync", "status", "--from-local", "--json").stdout)
    assert status["planned"]["upload"] == 3 and status["local_root"] == str(offline_root(load_settings()))

    pushed = cli("sync", "push", "--from-local")
    assert pushed.exit_code == 0, pushed.stderr
    assert "push --from-local: 3 transferred" in pushed.stderr
    processed = f"processed/tester/{job_id}/"
    assert bucket_keys(s3, bucket) == sorted([offline_job["source"]["key"], processed + "output.mid", processed + "transcription.json"])
    stored = json.loads(s3.get_object(Bucket=bucket, Key=processed + "transcription.json")["Body"].read())
    assert stored == offline_job

    again = cli("sync", "push", "--from-local")
    assert again.exit_code == 0 and "push --from-local: 0 transferred" in again.stderr  # idempotent
    assert (offline_root(load_settings()) / processed / "transcription.json").is_file()  # nothing deleted offline

    assert "made offline" not in cli("sync", "push").stderr  # nothing waits any more
    after = cli("jobs", "--json")
    assert [(j["job_id"], j["location"]) for j in json.loads(after.stdout)] == [(job_id, "s3")]
    assert "offline" not in cli("jobs").stdout


def test_a_pushed_original_is_reused_in_the_cloud(cli, take, offline_job, bucket, s3, standin_model):
    """sync carries the content hash but not drumscribe's own metadata: the FLAC is still recognised."""
    from drumscribe.jobs.originals import find_original
    from drumscribe.storage import get_storage

    assert cli("sync", "push", "--from-local").exit_code == 0
    # what a batch asks before any work (one listing of uploads/tester/ for all its inputs)
    storage = get_storage(load_settings())
    assert find_original(take, storage=storage, user_id="tester").key == offline_job["source"]["key"]
    other = take.with_name("other.wav")
    other.write_bytes(take.read_bytes()[:-2] + b"\x01\x00")  # one sample differs
    assert find_original(other, storage=storage, user_id="tester") is None

    answered = cli("transcribe", take, "--no-beats", "--jobs", "1")  # the pushed job is the same job
    assert answered.exit_code == 0, answered.stderr
    assert f"job {offline_job['job_id']}" in answered.stdout and "already done" in answered.stdout

    again = cli("transcribe", take, "--no-beats", "--jobs", "1", "--force")
    assert again.exit_code == 0, again.stderr
    assert "already stored as a lossless FLAC of the WAV: reused, same content" in again.stdout
    assert bucket_keys(s3, bucket, "uploads/") == [offline_job["source"]["key"]]


def test_from_local_never_deletes_and_only_pushes(cli, offline_job, bucket):
    refused = cli("sync", "push", "--from-local", "--delete", "--yes")
    assert refused.exit_code == 2 and error_lines(refused) == [
        "Error: --from-local never deletes: the offline folder holds only part of the bucket; drop --delete"
    ]
    assert cli("sync", "pull", "--from-local").exit_code != 0  # no such option on pull


def test_library_twin(offline_job, bucket, s3):
    from drumscribe import sync

    report = sync("push", from_local=True)
    assert report.ok and report.transferred == 3 and report.local_root == str(offline_root(load_settings()))
    assert sync("push", from_local=True).transferred == 0


def test_setup_prints_the_command_when_offline_work_exists(cli, offline_job, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    result = cli("setup", "lifecycle", "--bucket", bucket_name)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "1 job(s) made offline are in" in result.stdout
    assert "  drumscribe sync push --from-local" in result.stdout.splitlines()


def test_setup_says_nothing_once_the_offline_work_is_in_the_bucket(cli, offline_job, s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    assert cli("--bucket", bucket_name, "sync", "push", "--from-local").exit_code == 0
    result = cli("setup", "lifecycle", "--bucket", bucket_name)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "made offline" not in result.stdout and "--from-local" not in result.stdout
