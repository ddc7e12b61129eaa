"""Bad input end to end: the real `python -m drumscribe` against a moto server (http://).

One line on stderr, no traceback, and the exit code from the one table in errors.py (shown in
docs/troubleshooting.md): the same kind of mistake gives the same code in every command.
"""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest

from drumscribe.errors import EXIT_AUTH, EXIT_BAD_INPUT

pytestmark = pytest.mark.e2e


def drumscribe(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drumscribe", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120, stdin=subprocess.DEVNULL)


def one_line(result: subprocess.CompletedProcess, code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("Using local storage")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture
def bucket(moto_server, bucket_name, monkeypatch):
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return bucket_name


def test_an_endpoint_that_is_not_a_url_names_the_flag_or_the_variable(moto_server):
    line = one_line(drumscribe("--endpoint-url", "notaurl", "setup", "--bucket", "my-drums"), EXIT_BAD_INPUT)
    assert line.startswith("Error: invalid endpoint URL 'notaurl' (from --endpoint-url): give http:// or https:// and a host")
    line = one_line(drumscribe("ls", AWS_ENDPOINT_URL="notaurl", AWS_S3_BUCKET="my-drums"), EXIT_BAD_INPUT)
    assert "(from AWS_ENDPOINT_URL in the environment)" in line and "internal error" not in line


@pytest.mark.parametrize("name, rule", [
    ("My_Drums", "only lowercase letters, digits, hyphens and dots are allowed"),
    ("s3://my-drums", "give the bucket name without s3:// (for example --bucket my-drums)"),
])
def test_a_bucket_name_aws_would_refuse_is_refused_before_any_call(moto_server, name, rule):
    line = one_line(drumscribe("setup", "--bucket", name), EXIT_BAD_INPUT)
    assert line.startswith(f"Error: invalid bucket name {name!r}: {rule}")
    iam = boto3.client("iam", endpoint_url=moto_server, region_name="us-east-1")
    assert iam.list_users()["Users"] == []  # no user, no key made for it
    assert boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").list_buckets()["Buckets"] == []
    one_line(drumscribe("ls", AWS_S3_BUCKET=name), EXIT_BAD_INPUT)  # the same check for every S3 command


def test_a_missing_s3_key_and_a_missing_local_file_exit_alike(bucket, tmp_path):
    missing_key = one_line(drumscribe("get", "uploads/tester/none.wav", str(tmp_path / "out.wav")), EXIT_BAD_INPUT)
    assert missing_key.startswith("Error: not found:") and "uploads/tester/none.wav" in missing_key
    missing_file = one_line(drumscribe("upload", str(tmp_path / "none.wav")), EXIT_BAD_INPUT)
    assert missing_file.startswith("Error: file not found:")
    missing_job = one_line(drumscribe("show", "20260101T000000Z-abcdef12"), EXIT_BAD_INPUT)
    assert "no job" in missing_job


def test_a_missing_bucket_exits_like_a_missing_setting(moto_server):
    line = one_line(drumscribe("ls", AWS_S3_BUCKET="drums-never-made"), EXIT_BAD_INPUT)
    assert line.startswith("Error: bucket 'drums-never-made' does not exist")
    line = one_line(drumscribe("setup", "lifecycle", "--bucket", "drums-never-made"), EXIT_BAD_INPUT)
    assert line.startswith("Error: bucket 'drums-never-made' does not exist (run `drumscribe setup bucket` first)")


def test_rejected_credentials_exit_4(bucket):
    from moto.core import enable_iam_authentication

    with enable_iam_authentication():  # the server now checks keys, and the test keys are not in its IAM
        line = one_line(drumscribe("ls"), EXIT_AUTH)
    assert line.startswith("Error: AWS rejected the credentials")
