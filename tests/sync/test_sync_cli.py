"""`drumscribe sync` end to end against a real moto server: plan tables, JSON, exit codes, refusals."""

from __future__ import annotations

import json

import boto3
import pytest
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.config import load_settings

runner = CliRunner()
KEY = "processed/tester/20261125T190000Z-0a1b2c3d/transcription.json"


@pytest.fixture
def server(moto_server, bucket_name, monkeypatch):
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)
    s3.create_bucket(Bucket=bucket_name)
    root = load_settings().local_root
    (root / KEY).parent.mkdir(parents=True)
    (root / KEY).write_text('{"hello": "drums"}')
    (root / "uploads/tester/take one.wav").parent.mkdir(parents=True)
    (root / "uploads/tester/take one.wav").write_bytes(b"RIFF" + b"\0" * 2000)
    return s3, bucket_name, root


def test_no_bucket_is_one_line(aws_credentials):
    result = runner.invoke(app, ["sync", "push"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "Error: sync needs an S3 bucket and none is configured (set AWS_S3_BUCKET in .env or the environment, "
        "or pass --bucket; `drumscribe setup` creates one)"
    ]


def test_status_push_status_round_trip(server):
    s3, bucket, root = server
    status = runner.invoke(app, ["sync", "status"])
    assert status.exit_code == 0, status.output
    assert "upload" in status.stdout and "only local (push sends it)" in status.stdout
    push = runner.invoke(app, ["sync", "push"])
    assert push.exit_code == 0, push.output
    assert "push: 2 transferred" in push.stderr
    assert f"upload {KEY}" in push.stderr  # plain per-file lines when not on a terminal
    data = json.loads(runner.invoke(app, ["sync", "status", "--json"]).stdout)
    assert data["planned"]["skip"] == 2 and data["planned"]["upload"] == 0 and data["ok"] is True
    assert s3.head_object(Bucket=bucket, Key="uploads/tester/take one.wav")["ContentLength"] == 2004


def test_dry_run_json_lists_every_item(server):
    data = json.loads(runner.invoke(app, ["sync", "push", "--dry-run", "--json"]).stdout)
    assert data["dry_run"] is True and sorted(i["key"] for i in data["items"]) == sorted([KEY, "uploads/tester/take one.wav"])
    assert all(i["action"] == "upload" for i in data["items"])


def test_conflict_exits_3_and_prefer_settles(server):
    s3, bucket, root = server
    assert runner.invoke(app, ["sync", "push", "-q"]).exit_code == 0
    (root / KEY).write_text('{"local": 1}')
    s3.put_object(Bucket=bucket, Key=KEY, Body=b'{"remote": 1}')
    result = runner.invoke(app, ["sync", "push"])
    assert result.exit_code == 3 and f"conflict: {KEY}" in result.stderr
    assert runner.invoke(app, ["sync", "pull", "--prefer", "remote", "-q"]).exit_code == 0
    assert (root / KEY).read_text() == '{"remote": 1}'


def test_delete_without_yes_and_no_terminal_refuses(server):
    s3, bucket, root = server
    assert runner.invoke(app, ["sync", "push", "-q"]).exit_code == 0
    (root / KEY).unlink()
    result = runner.invoke(app, ["sync", "push", "--delete"], input="y\n")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: --delete would delete 1 file(s) (1 remote); re-run with --yes")
    assert "Contents" in s3.list_objects_v2(Bucket=bucket, Prefix=KEY)
    result = runner.invoke(app, ["sync", "push", "--delete", "--yes"])
    assert result.exit_code == 0 and "1 deleted" in result.stderr
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=KEY)


def test_per_file_errors_are_listed_and_exit_1(server):
    s3, bucket, root = server
    s3.put_object(Bucket=bucket, Key="processed/../../../evil", Body=b"x")
    result = runner.invoke(app, ["sync", "pull"])
    assert result.exit_code == 1
    assert "1 file(s) failed:" in result.stderr and "processed/../../../evil" in result.stderr


def test_a_key_with_control_characters_is_printed_escaped(server):
    """Another tool may write any key to the bucket: listing or pulling it never sends its escape
    sequences to the terminal (and it never becomes a local file)."""
    s3, bucket, root = server
    s3.put_object(Bucket=bucket, Key="processed/x/\x1b]0;owned\x07\x1b[2J.json", Body=b"x")
    listed = runner.invoke(app, ["ls", "processed/"])
    assert listed.exit_code == 0, listed.output
    assert "processed/x/\\x1b]0;owned\\x07\\x1b[2J.json" in listed.stdout and "\x1b" not in listed.output
    pulled = runner.invoke(app, ["sync", "pull"])
    assert pulled.exit_code == 1
    assert "\\x1b]0;owned" in pulled.stderr and "\x1b" not in pulled.output and "\x07" not in pulled.output
    assert not any("owned" in p.name for p in root.rglob("*"))


def test_local_flag_and_bad_prefer_are_one_line(server):
    assert runner.invoke(app, ["--local", "sync", "push"]).stderr.startswith("Error: sync copies between")
    bad = runner.invoke(app, ["sync", "push", "--prefer", "mine"])
    assert bad.exit_code == 2 and bad.stderr.startswith("Error: --prefer must be local or remote")


def test_delete_asks_on_a_terminal(server, monkeypatch):
    s3, bucket, root = server
    assert runner.invoke(app, ["sync", "push", "-q"]).exit_code == 0
    (root / KEY).unlink()
    monkeypatch.setattr("drumscribe.cli.sync_cmd._stdin_is_tty", lambda: True)  # as if typed at a terminal
    no = runner.invoke(app, ["sync", "push", "--delete"], input="n\n")
    assert no.exit_code == 2 and "Delete 1 file(s) (1 remote)?" in no.stderr and "not confirmed" in no.stderr
    assert "Contents" in s3.list_objects_v2(Bucket=bucket, Prefix=KEY)
    yes = runner.invoke(app, ["sync", "push", "--delete"], input="y\n")
    assert yes.exit_code == 0 and "1 deleted" in yes.stderr
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=KEY)


def test_missing_bucket_is_one_line(moto_server, monkeypatch):
    monkeypatch.setenv("AWS_S3_BUCKET", "no-such-bucket-here")
    result = runner.invoke(app, ["sync", "status"])
    # exit 2, as for any bucket, key or file named that is not there (errors.py, issue 13)
    assert result.exit_code == 2 and result.stderr.startswith("Error: bucket 'no-such-bucket-here' does not exist")
