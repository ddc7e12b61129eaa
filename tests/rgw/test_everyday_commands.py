"""The everyday commands end to end through the CLI on a real S3 server (Ceph RGW), with the app's
own least-privilege key: an object another tool put in the bucket is transcribed from s3://, and
jobs, show, stats and sync push/pull work there as they do on AWS.
"""

from __future__ import annotations

import json

import pytest
from rgw_song import song_bytes
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.provision import setup


@pytest.fixture
def song() -> bytes:
    return song_bytes()


@pytest.fixture
def as_the_app(rgw, rgw_bucket, app_user, monkeypatch, isolated_env):
    """A bucket set up by its owner, then the app's key in .env and nothing else, as a user has it."""
    setup(bucket=rgw_bucket, env_file=isolated_env / "owner-run.env")  # every step; iam puts the policy on the user
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    (isolated_env / ".env").write_text(f"AWS_ACCESS_KEY_ID={app_user.key}\nAWS_SECRET_ACCESS_KEY={app_user.secret}\n"
                                       f"AWS_S3_BUCKET={rgw_bucket}\n")
    return rgw_bucket


def cli(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output
    return result


def test_transcribe_an_object_another_tool_put_then_jobs_show_stats(rgw, as_the_app, song):
    bucket = as_the_app
    rgw.s3().put_object(Bucket=bucket, Key="uploads/tester/from-awscli/groove.wav", Body=song)  # no drumscribe metadata

    done = cli("transcribe", f"s3://{bucket}/uploads/tester/from-awscli/groove.wav", "--json", "--jobs", "1")
    assert done.exit_code == 0, done.output
    doc = json.loads(done.stdout)
    job = doc["job_id"]
    keys = [o["Key"] for o in rgw.s3().list_objects_v2(Bucket=bucket, Prefix=f"processed/tester/{job}/")["Contents"]]
    assert sorted(keys) == [f"processed/tester/{job}/output.mid", f"processed/tester/{job}/transcription.json"]

    listed = json.loads(cli("jobs", "--json").stdout)
    assert [j["job_id"] for j in listed] == [job]
    shown = cli("show", job)
    assert shown.exit_code == 0 and "BD  |" in shown.stdout
    midi = cli("show", job, "--format", "midi", "-o", "groove.mid")
    assert midi.exit_code == 0, midi.output

    stats = json.loads(cli("stats", "--json").stdout)
    assert stats["backend"] == "s3" and stats["total"]["objects"] >= 3
    assert set(stats["prefixes"]) >= {"uploads/", "processed/"}


def test_sync_pull_then_push(rgw, as_the_app, app_user, song):
    bucket = as_the_app
    rgw.s3().put_object(Bucket=bucket, Key="uploads/tester/remote.wav", Body=song)
    pulled = cli("sync", "pull")
    assert pulled.exit_code == 0, pulled.output
    root = load_settings().local_root
    assert (root / "uploads/tester/remote.wav").read_bytes() == song

    (root / "uploads/tester/local take.wav").write_bytes(song[:-2] + b"\1\1")
    pushed = cli("sync", "push")
    assert pushed.exit_code == 0, pushed.output
    app_s3 = rgw.s3(app_user.key, app_user.secret)
    got = app_s3.get_object(Bucket=bucket, Key="uploads/tester/local take.wav")["Body"].read()
    assert got == song[:-2] + b"\1\1"
    # without object ownership controls (RGW), what the app writes is the app user's object: its ACL
    # does not let even the bucket owner read it (docs/s3-compatible.md)
    with pytest.raises(Exception, match="AccessDenied"):
        rgw.s3().get_object(Bucket=bucket, Key="uploads/tester/local take.wav")
    status = json.loads(cli("sync", "status", "--json").stdout)
    assert {action: n for action, n in status["planned"].items() if n and action != "skip"} == {}, status  # in step both ways


def test_a_file_changed_locally_is_pushed_over_its_earlier_version(rgw, as_the_app, app_user, song):
    """The update's PUT carries If-Match with the ETag sync last saw, in the form RGW matches."""
    bucket = as_the_app
    root = load_settings().local_root
    take = root / "processed/tester/20260301T100000Z-abcdef01/edited.json"
    take.parent.mkdir(parents=True)
    take.write_bytes(b'{"revision": 1}')
    assert cli("sync", "push").exit_code == 0
    take.write_bytes(b'{"revision": 2, "more": true}')
    again = cli("sync", "push")
    assert again.exit_code == 0 and "1 transferred" in again.output and "0 error" in again.output, again.output
    app_s3 = rgw.s3(app_user.key, app_user.secret)
    key = "processed/tester/20260301T100000Z-abcdef01/edited.json"
    assert app_s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b'{"revision": 2, "more": true}'


def test_an_rgw_that_refuses_encryption_over_http_says_so(rgw, as_the_app, song, isolated_env):
    """RGW's default: any SSE header over plain HTTP is InvalidRequest; every drumscribe upload has one."""
    (isolated_env / "take.wav").write_bytes(song)
    set_require_ssl(rgw, as_the_app, True)
    try:
        refused = cli("upload", "take.wav")
    finally:
        set_require_ssl(rgw, as_the_app, False)
    assert refused.exit_code == 1
    assert "refused to store" in refused.stderr and "with server-side encryption through plain HTTP" in refused.stderr
    assert "rgw_crypt_require_ssl = false" in refused.stderr


def set_require_ssl(rgw, bucket: str, on: bool) -> None:
    """Change RGW's setting at run time, and wait until an upload with an SSE header shows it."""
    import time

    import botocore.exceptions as bexc

    rgw.rgw._ceph("ceph", "config", "set", "client.rgw.a", "rgw_crypt_require_ssl", str(on).lower())
    deadline = time.monotonic() + 30
    while True:
        try:
            rgw.s3().put_object(Bucket=bucket, Key="temp/sse-probe", Body=b"x", ServerSideEncryption="AES256")
            refused = False
        except bexc.ClientError as exc:
            refused = exc.response["Error"]["Code"] == "InvalidRequest"
        if refused == on:
            return
        assert time.monotonic() < deadline, f"rgw_crypt_require_ssl={on} did not take effect"
        time.sleep(0.2)


def test_an_edit_saved_from_elsewhere_meanwhile_is_refused_by_the_server(as_the_app, monkeypatch):
    """RGW takes S3's conditional writes: an edit's PUT with a stale ETag (or If-None-Match over an
    existing object) is refused by the server itself, not by drumscribe's compare-then-write fallback."""
    from drumscribe.errors import ChangedError
    from drumscribe.storage import S3Storage
    from drumscribe.storage.base import Storage

    def no_fallback(*args, **kwargs):
        raise AssertionError("the server did not take the conditional PUT; drumscribe fell back to compare-then-write")

    monkeypatch.setattr(Storage, "put_if_unchanged", no_fallback)
    storage = S3Storage(load_settings())
    key = "processed/tester/20260301T100000Z-abcdef01/edited.json"
    first = storage.put_if_unchanged(key, b'{"revision": 1}', etag=None)
    with pytest.raises(ChangedError):
        storage.put_if_unchanged(key, b'{"revision": "lost"}', etag=None)
    second = storage.put_if_unchanged(key, b'{"revision": 2}', etag=first.etag)
    with pytest.raises(ChangedError):
        storage.put_if_unchanged(key, b'{"revision": "lost"}', etag=first.etag)
    assert storage.get(key) == b'{"revision": 2}' and storage.head(key).etag == second.etag
