"""`drumscribe setup` and `drumscribe iam rotate-key` end to end: the real CLI against a moto server."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import boto3
import pytest
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.envfile import read_env
from drumscribe.provision import documents

pytestmark = pytest.mark.e2e


@pytest.fixture
def server_iam(moto_server):
    return boto3.client("iam", endpoint_url=moto_server, region_name="us-east-1")


def test_setup_twice_second_run_changes_nothing(cli, moto_server, bucket_name):
    first = cli("setup", "--bucket", bucket_name, "--no-tls-policy")
    assert first.exit_code == 0, first.output
    assert first.output.count("│ changed ") == 6  # every step but the skipped TLS policy
    second = cli("setup", "--bucket", bucket_name, "--no-tls-policy")
    assert second.exit_code == 0, second.output
    assert "changed" not in second.output
    assert second.output.count("│ in place ") == 6


def test_setup_iam_writes_a_private_env_without_printing_the_secret(cli, moto_server, server_iam, bucket_name):
    env = os.path.abspath(".env")
    with open(env, "w") as fh:
        fh.write("# mine\nDRUMSCRIBE_USER=alice\n")
    os.chmod(env, 0o644)
    result = cli("setup", "--bucket", bucket_name, "--no-tls-policy")
    assert result.exit_code == 0, result.output
    values = read_env(env)
    assert values["DRUMSCRIBE_USER"] == "alice" and values["AWS_S3_BUCKET"] == bucket_name
    assert values["AWS_SECRET_ACCESS_KEY"] not in result.output
    assert "use --show-secret to print it" in result.output
    assert stat.S_IMODE(os.stat(env).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(env + ".bak").st_mode) == 0o600
    assert open(env + ".bak").read() == "# mine\nDRUMSCRIBE_USER=alice\n"

    old = values["AWS_ACCESS_KEY_ID"]
    rotated = cli("iam", "rotate-key", "--timeout", "0")
    assert rotated.exit_code == 0, rotated.output
    new = read_env(env)
    assert new["AWS_ACCESS_KEY_ID"] != old and new["AWS_SECRET_ACCESS_KEY"] not in rotated.output
    keys = {k["AccessKeyId"] for k in server_iam.list_access_keys(UserName=documents.USER_NAME)["AccessKeyMetadata"]}
    assert keys == {new["AWS_ACCESS_KEY_ID"]}  # the old key no longer exists

    shown = cli("iam", "rotate-key", "--timeout", "0", "--show-secret")
    assert shown.exit_code == 0, shown.output
    assert f"AWS_SECRET_ACCESS_KEY={read_env(env)['AWS_SECRET_ACCESS_KEY']}" in shown.output


def test_show_secret_on_setup_iam(cli, moto_server, bucket_name):
    cli("setup", "bucket", "--bucket", bucket_name)
    result = cli("setup", "iam", "--bucket", bucket_name, "--show-secret")
    assert result.exit_code == 0, result.output
    assert f"AWS_SECRET_ACCESS_KEY={read_env('.env')['AWS_SECRET_ACCESS_KEY']}" in result.output


def test_options_before_the_step_name_apply(cli, moto_server, bucket_name):
    result = cli("setup", "--dry-run", "--bucket", bucket_name, "bucket")
    assert result.exit_code == 0, result.output
    assert "would change (dry run)" in result.output and "s3 create_bucket" in result.output
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    assert bucket_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def run_module(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "drumscribe", *args], capture_output=True, text=True, env=env, timeout=120)


def test_real_process_setup_then_second_run_in_place(moto_server, bucket_name):
    first = run_module("setup", "--bucket", bucket_name, "--region", "eu-west-1", "--no-tls-policy", "bucket")
    assert first.returncode == 0, first.stderr
    again = run_module("setup", "bucket", "--bucket", bucket_name, "--region", "eu-west-1")
    assert again.returncode == 0, again.stderr
    assert "in place" in again.stdout and "changed" not in again.stdout


@pytest.mark.parametrize(
    "args, env_extra, expected",
    [
        (["setup"], {}, "Error: no bucket named (pass --bucket NAME or set AWS_S3_BUCKET)"),
        (["setup", "--bucket", "drums-unreachable"], {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "Error: cannot reach the S3 endpoint"),
        (["setup", "lifecycle", "--bucket", "drums-never-made"], {}, "Error: bucket 'drums-never-made' does not exist (run `drumscribe setup bucket` first)"),
        (["iam", "rotate-key", "--bucket", "drums-x"], {}, "Error: no AWS_ACCESS_KEY_ID in .env (run `drumscribe setup iam` first)"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(moto_server, args, env_extra, expected):
    result = run_module(*args, env_extra=env_extra)
    assert result.returncode != 0
    assert result.stderr.startswith(expected), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_wrong_credentials_are_one_line(cli, moto_server, bucket_name):
    from moto.core import enable_iam_authentication

    with enable_iam_authentication():  # now moto checks keys: the fake test keys do not exist in its IAM
        result = CliRunner().invoke(app, ["setup", "bucket", "--bucket", bucket_name])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == ["Error: AWS rejected the credentials (wrong access key or secret) (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"]
