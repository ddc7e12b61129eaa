"""`drumscribe doctor` end to end: the real CLI (in-process and as a process) against a moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from typer.testing import CliRunner

from drumscribe.cli import app

pytestmark = pytest.mark.e2e


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def configured(moto_server, bucket_name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = cli("setup", "--bucket", bucket_name, "--no-tls-policy", "--env-file", "app.env")
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


def test_doctor_passes_after_setup_then_fails_naming_cors(configured, bucket_name):
    ok = cli("doctor")
    assert ok.exit_code == 0, ok.output
    assert "all checks passed" in ok.output

    configured.put_bucket_cors(Bucket=bucket_name, CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})
    broken = cli("doctor")
    assert broken.exit_code == 1
    assert "failed: cors" in broken.output and "drumscribe setup cors" in broken.output

    report = json.loads(cli("doctor", "--json").output)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] == ["cors"]


def test_doctor_json_in_a_real_process(configured):
    result = subprocess.run([sys.executable, "-m", "drumscribe", "doctor", "--json"], capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["backend"] == "s3"
    assert {c["status"] for c in report["checks"]} == {"pass"}


def test_doctor_local_mirror_says_s3_is_not_configured(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = cli("doctor")
    assert result.exit_code == 0, result.output
    assert "S3 is not configured" in result.output and "all checks passed" in result.output


def test_doctor_unreachable_endpoint_fails_its_own_row_without_traceback(aws_credentials, monkeypatch):
    # issue 22.4: this was filed under "credentials", after 9.5 s of retries
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_S3_BUCKET", "drums-somewhere")
    result = subprocess.run([sys.executable, "-m", "drumscribe", "doctor", "--json"], capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert list(checks)[:3] == ["configuration", "endpoint", "credentials"]
    assert checks["endpoint"]["status"] == "fail"
    assert checks["endpoint"]["detail"] == "nothing answers at http://127.0.0.1:9 (connection refused)"
    assert "AWS_ENDPOINT_URL in the environment" in checks["endpoint"]["hint"]
    assert checks["credentials"] == {"name": "credentials", "status": "skip", "detail": "skipped: endpoint did not pass", "hint": ""}


def test_an_endpoint_that_has_every_feature_gets_no_capability_table(configured):
    """moto answers every call setup makes: the table of what the endpoint supports would be all
    "yes", so it is not printed; --json still lists what was asked."""
    assert "what this endpoint supports" not in cli("doctor").output
    report = json.loads(cli("doctor", "--json").output)
    assert report["capabilities"] and {c["status"] for c in report["capabilities"]} == {"pass"}


def test_doctor_endpoint_row_passes_on_a_live_endpoint(configured):
    report = json.loads(cli("doctor", "--json").output)
    (row,) = [c for c in report["checks"] if c["name"] == "endpoint"]
    assert row["status"] == "pass" and row["detail"].startswith(f"{os.environ['AWS_ENDPOINT_URL']} answers (HTTP ")
