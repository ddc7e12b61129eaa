"""The real ``python -m drumscribe`` in a subprocess against a moto S3 server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from storage_helpers import fetch, make_bucket

pytestmark = pytest.mark.e2e


def drumscribe(*args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "drumscribe", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def one_error_line(result, code=None):
    assert result.returncode != 0 if code is None else result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.fixture
def bucket(moto_server, bucket_name, monkeypatch):
    make_bucket(bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return bucket_name


def test_upload_ls_get_presign_rm(bucket, isolated_env):
    take = isolated_env / "groove take 1.wav"
    take.write_bytes(os.urandom(4096))

    up = drumscribe("upload", take)
    assert up.returncode == 0, up.stderr
    key = up.stdout.strip()
    assert key.startswith("uploads/tester/") and key.endswith("_groove_take_1.wav")
    assert up.stderr == ""  # S3 is configured: nothing to announce

    listing = json.loads(drumscribe("ls", "uploads/", "--json").stdout)
    assert [(o["key"], o["size"]) for o in listing] == [(key, 4096)]
    table = drumscribe("ls").stdout.splitlines()
    assert table[0].split() == ["KEY", "SIZE", "MODIFIED"] and table[1].split()[:2] == [key, "4096"]

    got = drumscribe("get", key, isolated_env / "copy.wav")
    assert got.returncode == 0 and (isolated_env / "copy.wav").read_bytes() == take.read_bytes()

    url = drumscribe("presign", key, "--expires", "300").stdout.strip()
    assert fetch(url) == take.read_bytes()

    put_url = drumscribe("presign", "uploads/tester/from-url.wav", "--put").stdout.strip()
    fetch(put_url, data=b"RIFF", method="PUT")
    assert "uploads/tester/from-url.wav" in drumscribe("ls", "uploads/tester/from").stdout

    refused = drumscribe("rm", key)  # stdin is not a terminal
    assert "pass --yes" in one_error_line(refused, 2)
    removed = drumscribe("rm", "--yes", key, "uploads/tester/from-url.wav")
    assert removed.returncode == 0 and removed.stdout.splitlines() == [f"deleted {key}", "deleted uploads/tester/from-url.wav"]
    assert json.loads(drumscribe("ls", "--json").stdout) == []


def test_missing_bucket(moto_server):
    line = one_error_line(drumscribe("--bucket", "never-created-bucket", "ls"))
    assert line == "Error: bucket 'never-created-bucket' does not exist (check AWS_S3_BUCKET or run `drumscribe setup`)"


def test_wrong_credentials(bucket, moto_server):
    # make the server check credentials from now on (moto accepts any by default)
    def set_auth(count: str):
        request = urllib.request.Request(
            f"{moto_server}/moto-api/reset-auth", data=count.encode(), method="POST", headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(request, timeout=10).close()

    set_auth("0")
    try:
        result = drumscribe("ls", env={"AWS_ACCESS_KEY_ID": "AKIANOTAREALKEY00000"})
    finally:
        set_auth("inf")
    assert one_error_line(result).startswith("Error: AWS rejected the credentials (wrong access key or secret)")


def test_unreachable_endpoint(aws_credentials):
    result = drumscribe("--bucket", "some-bucket", "--endpoint-url", "http://127.0.0.1:9", "ls")
    assert one_error_line(result).startswith("Error: cannot reach the S3 endpoint (http://127.0.0.1:9/")


def test_file_over_the_limit(bucket, isolated_env):
    (isolated_env / "long.wav").write_bytes(b"\x00" * 300_000)
    result = drumscribe("upload", "long.wav", env={"DRUMSCRIBE_MAX_UPLOAD_MB": "0.25"})
    assert one_error_line(result, 2) == (
        "Error: long.wav is 0.3 MB, over the 0.25 MB upload limit (raise DRUMSCRIBE_MAX_UPLOAD_MB to allow bigger files)"
    )


def test_path_traversal_key(bucket):
    line = one_error_line(drumscribe("get", "uploads/../../etc/passwd"), 2)
    assert line == "Error: object key has an empty, '.' or '..' segment: 'uploads/../../etc/passwd'"


def test_unreadable_file(bucket, isolated_env):
    (isolated_env / "a-folder.wav").mkdir()
    assert one_error_line(drumscribe("upload", "missing.wav"), 2) == "Error: file not found: missing.wav"
    assert one_error_line(drumscribe("upload", "a-folder.wav"), 2) == "Error: a-folder.wav is a directory, not a file"
