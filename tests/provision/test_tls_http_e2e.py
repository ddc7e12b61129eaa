"""The TLS-only bucket policy and plain-HTTP endpoints, end to end on a moto server (http://).

A bucket policy that denies requests without TLS refuses every object call sent to an http://
endpoint (moto, MinIO, LocalStack). So setup skips it there and says so, doctor recognises a
bucket locked that way, and `setup tls-policy --remove` unlocks it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from typer.testing import CliRunner

import drumscribe
from drumscribe.cli import app
from drumscribe.provision import IN_PLACE, documents

pytestmark = pytest.mark.e2e

OWNERS_STATEMENT = {"Sid": "OwnersAudit", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject"}


def cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def s3(moto_server, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    return boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")


@pytest.fixture
def locked_bucket(s3, bucket_name, monkeypatch):
    """A bucket set up before setup knew about http:// endpoints: TLS-only statement plus one of the owner's."""
    result = cli("setup", "--bucket", bucket_name, "--no-tls-policy", "--env-file", "app.env")
    assert result.exit_code == 0, result.output
    theirs = dict(OWNERS_STATEMENT, Resource=f"arn:aws:s3:::{bucket_name}/*")
    s3.put_bucket_policy(Bucket=bucket_name, Policy=json.dumps(documents.tls_policy(bucket_name, {"Statement": [theirs]})))
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return bucket_name


def bucket_policy(s3, bucket):
    try:
        return json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except s3.exceptions.ClientError:
        return None


def test_setup_on_an_http_endpoint_skips_the_tls_policy_and_says_why(s3, bucket_name):
    result = subprocess.run(
        [sys.executable, "-m", "drumscribe", "setup", "--bucket", bucket_name, "--env-file", "app.env"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("│ tls-policy")]
    assert "│ skipped" in row and "is plain HTTP" in row
    assert result.stderr.startswith("warning: tls-policy skipped: endpoint http://127.0.0.1:")
    assert bucket_policy(s3, bucket_name) is None
    # and the bucket works: the object calls a TLS-only policy would refuse go through
    s3.put_object(Bucket=bucket_name, Key="uploads/tester/a.wav", Body=b"drums")
    assert s3.get_object(Bucket=bucket_name, Key="uploads/tester/a.wav")["Body"].read() == b"drums"


def test_doctor_names_the_tls_policy_on_an_http_endpoint(locked_bucket):
    report = json.loads(cli("doctor", "--json").output)
    round_trip = {c["name"]: c for c in report["checks"]}["round-trip"]
    assert round_trip["status"] == "fail"
    assert "denies every request made without TLS" in round_trip["detail"] and "plain HTTP" in round_trip["detail"]
    assert round_trip["hint"].startswith("run `drumscribe setup tls-policy --remove`")
    assert "IAM" not in round_trip["hint"]  # the old, wrong lead


def test_setup_run_again_does_not_reapply_it_but_points_at_remove(locked_bucket):
    result = cli("setup", "tls-policy")
    assert result.exit_code == 0, result.output
    assert "one is in place and blocks this endpoint" in result.output and "tls-policy --remove" in result.output


def test_remove_takes_out_only_the_tls_statement_then_doctor_passes(s3, locked_bucket):
    dry = cli("setup", "tls-policy", "--remove", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would change (dry run)" in dry.output and "s3 put_bucket_policy" in dry.output
    assert documents.TLS_STATEMENT_ID in json.dumps(bucket_policy(s3, locked_bucket))  # nothing changed

    removed = cli("setup", "tls-policy", "--remove")
    assert removed.exit_code == 0, removed.output
    assert "TLS-only statement out of the bucket policy (1 other statement(s) kept)" in removed.output
    assert [s["Sid"] for s in bucket_policy(s3, locked_bucket)["Statement"]] == ["OwnersAudit"]

    again = cli("setup", "tls-policy", "--remove")
    assert again.exit_code == 0 and "in place" in again.output

    doctor = cli("doctor")
    assert doctor.exit_code == 0, doctor.output


def test_remove_deletes_a_policy_left_empty_and_the_library_twin_does_the_same(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    s3.put_bucket_policy(Bucket=bucket_name, Policy=json.dumps(documents.tls_policy(bucket_name)))
    result = drumscribe.remove_tls_policy(bucket=bucket_name)
    assert result.changed and "it was the only statement: policy deleted" in result.detail
    assert bucket_policy(s3, bucket_name) is None
    assert drumscribe.remove_tls_policy(bucket=bucket_name).status == IN_PLACE


def test_doctor_with_a_key_that_may_not_read_the_bucket_policy_still_mentions_it(locked_bucket, moto_server, monkeypatch):
    """The app key may not read the bucket policy, so doctor cannot be sure; it names both causes."""
    from drumscribe.envfile import read_env
    from moto.core import enable_iam_authentication

    app = read_env("app.env")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", app["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", app["AWS_SECRET_ACCESS_KEY"])
    with enable_iam_authentication():
        report = json.loads(cli("doctor", "--json").output)
    round_trip = {c["name"]: c for c in report["checks"]}["round-trip"]
    assert round_trip["status"] == "fail"
    assert "IAM policy must allow" in round_trip["hint"] and "drumscribe setup tls-policy --remove" in round_trip["hint"]
