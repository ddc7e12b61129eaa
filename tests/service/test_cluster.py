"""`drumscribe serve --cluster`: each job runs as a task on a real Dask LocalCluster (a worker
process) that reads the upload from the moto S3 server and writes the results there itself.

The worker process gets the moto endpoint and fake credentials in its own environment, passed
explicitly as a real worker would have its own (as in tests/jobs/test_batch.py).
"""

from __future__ import annotations

import sys

import boto3
import httpx
import pytest
from service_helpers import ticket, upload, wait
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.errors import ConfigError
from drumscribe.provision import setup

distributed = pytest.importorskip("distributed", reason='needs the "cluster" extra')
from dask_helpers import local_cluster  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
runner = CliRunner()


@pytest.fixture(scope="module")
def dask_client(_moto_server_url, tmp_path_factory):
    """One single-threaded worker process for the whole module (starting it takes seconds)."""
    with local_cluster(_moto_server_url, tmp_path_factory.mktemp("worker-home"), n_workers=1) as client:
        yield client


@pytest.fixture
def bucket(moto_server, bucket_name, monkeypatch):
    setup(bucket=bucket_name, steps=["bucket", "encryption"])
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return bucket_name


def send(client, data: bytes, filename: str) -> str:
    """What the page does: a ticket, the form straight to the bucket, then the job; returns the job id."""
    doc = ticket(client, filename, len(data))
    assert httpx.post(doc["url"], data=doc["fields"], files={"file": (filename, data, "audio/wav")}).status_code == 204
    started = client.post("/api/jobs", json={"upload_key": doc["key"]})
    assert started.status_code == 202, started.text
    return started.json()["job_id"]


def objects(bucket: str, prefix: str) -> list[str]:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def not_here(*args, **kwargs):
    raise AssertionError("the app transcribed in its own process")


def test_a_job_runs_on_the_cluster_and_its_results_come_from_the_bucket(bucket, dask_client, make_client, song, monkeypatch):
    monkeypatch.setattr("drumscribe.jobs.run.transcribe_and_store", not_here)  # the worker process is not patched
    client = make_client(cluster=dask_client)

    done = wait(client, send(client, song, "song.wav"), timeout=120)

    assert done["state"] == "done", done
    assert done["result"]["counts"] == {"kick": 4, "snare": 4, "hihat_closed": 16}
    assert httpx.get(done["result"]["midi_url"]).content.startswith(b"MThd")
    assert objects(bucket, f"processed/tester/{done['job_id']}/") == [
        f"processed/tester/{done['job_id']}/output.mid", f"processed/tester/{done['job_id']}/transcription.json"]
    assert objects(bucket, "temp/") == []  # the job's state record went when it finished
    assert [j["job_id"] for j in client.get("/api/jobs").json()["jobs"]] == [done["job_id"]]

    again = wait(client, send(client, song, "same song.wav"), timeout=120)  # the same content, model and options
    assert again["state"] == "done" and again["answered_by"] == done["job_id"], again
    assert len(objects(bucket, "processed/")) == 2  # transcribed once


def test_a_failed_task_gives_the_same_one_line_error_as_the_local_pool(bucket, dask_client, make_client):
    broken = b"RIFF but not really a wav file" * 10
    on_cluster, here = make_client(cluster=dask_client), make_client()

    failed = wait(on_cluster, send(on_cluster, broken, "broken.wav"), timeout=120)
    local = wait(here, send(here, broken, "broken.wav"))

    assert failed["state"] == "failed" and failed["retryable"] is True
    assert failed["error"] == local["error"] and "broken.wav" in failed["error"] and "\n" not in failed["error"]
    assert objects(bucket, "processed/") == []  # nothing half-written stays


def test_the_local_mirror_is_refused_for_a_remote_cluster(make_client):
    with pytest.raises(ConfigError, match="cannot read or write this machine's local storage"):
        make_client(cluster="tcp://127.0.0.1:9")

    result = runner.invoke(app, ["serve", "--port", "0"], env={"DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:9"})
    assert result.exit_code == 2
    assert "local storage" in result.stderr and "use --cluster local" in result.stderr and "Traceback" not in result.output


def test_without_the_cluster_extra_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    result = runner.invoke(app, ["serve", "--port", "0", "--cluster", "local"])
    assert result.exit_code == 2
    assert 'pip install "drumscribe[cluster]"' in result.stderr and "Traceback" not in result.output



def test_cluster_local_works_with_the_local_mirror(make_client, song, monkeypatch):
    """`--cluster local`: worker processes on this machine share its disk, so no bucket is needed."""
    monkeypatch.setattr("drumscribe.jobs.run.transcribe_and_store", not_here)
    client = make_client(cluster="local", workers=1)

    started = client.post("/api/jobs", json={"upload_key": upload(client, song)})
    done = wait(client, started.json()["job_id"], timeout=120)

    assert done["state"] == "done", done
    assert client.get(done["result"]["midi_url"]).content.startswith(b"MThd")
