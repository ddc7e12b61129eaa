"""A second bucket must not break the first, end to end: `python -m drumscribe setup` against a
moto server (http://), then the app key used with moto's IAM enforcement on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from drumscribe.envfile import read_env
from drumscribe.provision import documents

pytestmark = pytest.mark.e2e


def drumscribe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drumscribe", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "250"}, timeout=120)


@pytest.fixture
def iam(moto_server):
    return boto3.client("iam", endpoint_url=moto_server, region_name="us-east-1")


def app_keys(iam):
    return [k["AccessKeyId"] for k in iam.list_access_keys(UserName=documents.USER_NAME)["AccessKeyMetadata"]]


def test_second_bucket_keeps_the_first_ones_access_and_reuses_the_key(moto_server, iam, bucket_name):
    first, second = f"{bucket_name}-a", f"{bucket_name}-b"
    one = drumscribe("setup", "--bucket", first)
    assert one.returncode == 0, one.stderr
    key = read_env(".env")["AWS_ACCESS_KEY_ID"]

    two = drumscribe("setup", "--bucket", second)
    assert two.returncode == 0, two.stderr
    assert f"now also covers bucket {second}; {first} keeps its access" in two.stdout
    assert f"the key keeps its access to {first}" in two.stdout
    assert app_keys(iam) == [key]  # reused, not a second key
    # a third setup, writing to another env file, still makes no new key: the one in ./.env works
    three = drumscribe("setup", "iam", "--bucket", second, "--env-file", "second.env")
    assert three.returncode == 0, three.stderr
    assert "reused from .env" in three.stdout and app_keys(iam) == [key]

    env = read_env(".env")
    assert env["AWS_S3_BUCKET"] == second
    from moto.core import enable_iam_authentication

    app = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    with enable_iam_authentication():  # moto now applies the IAM policy to the app key
        for bucket in (first, second):
            app.put_object(Bucket=bucket, Key="uploads/tester/take.wav", Body=b"drums")
            assert app.get_object(Bucket=bucket, Key="uploads/tester/take.wav")["Body"].read() == b"drums"


def test_doctor_on_a_server_without_policy_simulation_says_skipped_not_failed(moto_server, bucket_name, monkeypatch):
    assert drumscribe("setup", "--bucket", bucket_name, "--env-file", "app.env").returncode == 0
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    result = drumscribe("doctor", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and "Traceback" not in result.stderr
    assert "iam-permissions: skipped: this endpoint does not implement IAM policy simulation (S3-compatible servers usually do not)" in report["info"]
