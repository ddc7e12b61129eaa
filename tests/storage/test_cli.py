"""The storage commands, driven through Typer's CliRunner (in-process, local mirror or moto)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import drumscribe.cli  # noqa: F401  (registers every command)
from drumscribe.cli import storage_cmd
from drumscribe.cli.app import app

from storage_helpers import make_bucket


@pytest.fixture
def cli():
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return invoke


def one_error_line(result, code=None):
    assert result.exit_code != 0 if code is None else result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "Traceback" not in result.stderr
    return lines[-1]


@pytest.fixture
def takes(isolated_env):
    for name, size in (("kick.wav", 300), ("snare.mp3", 200)):
        (isolated_env / name).write_bytes(b"\x01" * size)
    return isolated_env


def test_upload_ls_get_presign_rm_on_the_local_mirror(cli, takes, tmp_path):
    result = cli("upload", "kick.wav", "snare.mp3")
    assert result.exit_code == 0, result.output
    kick, snare = result.stdout.split()  # one key per file, in the order given
    assert kick.startswith("uploads/tester/") and kick.endswith("_kick.wav")
    assert snare.startswith("uploads/tester/") and snare.endswith("_snare.mp3")
    keys = sorted([kick, snare])  # ls sorts by key; the content hash decides this order
    assert "Using local storage at" in result.stderr

    listing = cli("ls", "uploads/")
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["KEY", "SIZE", "MODIFIED"]
    sizes = {kick: "300", snare: "200"}
    assert [line.split()[:2] for line in lines[1:]] == [[k, sizes[k]] for k in keys]

    rows = json.loads(cli("ls", "--json").stdout)
    assert [(r["key"], r["size"]) for r in rows] == [(k, int(sizes[k])) for k in keys]

    got = cli("get", kick)
    assert got.exit_code == 0, got.output
    name = kick.rsplit("/", 1)[1]
    assert got.stdout.strip() == str(takes / name)
    assert (takes / name).read_bytes() == b"\x01" * 300

    url = cli("presign", snare, "--expires", "15m").stdout.strip()
    assert url.startswith("file:///") and url.endswith(snare)

    removed = cli("rm", "--yes", *keys)
    assert removed.exit_code == 0
    assert removed.stdout.splitlines() == [f"deleted {k}" for k in keys]
    assert cli("ls").stderr.strip().endswith("No objects under " + (tmp_path / "drumscribe-home" / "local").as_uri())


def test_get_refuses_to_overwrite_without_force(cli, takes):
    key = cli("upload", "kick.wav").stdout.strip()
    (takes / "out.wav").write_bytes(b"precious")
    assert "already exists (pass --force" in one_error_line(cli("get", key, "out.wav"), 2)
    assert (takes / "out.wav").read_bytes() == b"precious"
    assert cli("get", key, "out.wav", "--force").exit_code == 0
    assert (takes / "out.wav").read_bytes() == b"\x01" * 300


def test_get_into_a_folder(cli, takes):
    key = cli("upload", "kick.wav").stdout.strip()
    name = key.rsplit("/", 1)[1]
    (takes / "existing").mkdir()
    assert cli("get", key, "existing").stdout.strip() == str(takes / "existing" / name)
    # a trailing slash means a folder, even one that does not exist yet
    assert cli("get", key, "new/").stdout.strip() == str(takes / "new" / name)
    assert (takes / "new" / name).read_bytes() == b"\x01" * 300


def test_rm_without_a_terminal_needs_yes(cli, takes):
    key = cli("upload", "kick.wav").stdout.strip()
    line = one_error_line(cli("rm", key), 2)
    assert line == "Error: refusing to delete without confirmation: pass --yes (stdin is not a terminal)"
    assert cli("ls", "--json").stdout.count(key) == 1


def test_rm_asks_on_a_terminal(cli, takes, monkeypatch):
    key = cli("upload", "kick.wav").stdout.strip()
    monkeypatch.setattr(storage_cmd, "_interactive", lambda: True)
    declined = cli("rm", key, input="n\n")
    assert declined.exit_code == 1 and "Nothing deleted." in declined.stderr
    accepted = cli("rm", key, input="y\n")
    assert accepted.exit_code == 0 and accepted.stdout.splitlines()[-1] == f"deleted {key}"  # CliRunner echoes the "y"
    assert "Delete " + key in accepted.stderr


def test_rm_of_a_missing_key_says_so(cli, takes):
    key = cli("upload", "kick.wav").stdout.strip()
    result = cli("rm", "--yes", key, "uploads/tester/never.wav")
    assert result.stdout.strip() == f"deleted {key}"
    assert one_error_line(result) == "Error: not found: uploads/tester/never.wav"


@pytest.mark.parametrize(
    "args",
    [("get", "../../etc/passwd"), ("get", "/etc/passwd"), ("rm", "--yes", "a/../../b"), ("presign", "a\\b"), ("ls", "../")],
)
def test_hostile_keys_are_one_line_errors(cli, args):
    line = one_error_line(cli(*args), 2)
    assert "object key" in line


def test_upload_checks_every_file_before_sending_any(cli, takes, monkeypatch):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "0.0002")  # 209 bytes: kick.wav (300) is too big
    line = one_error_line(cli("upload", "snare.mp3", "kick.wav"), 2)
    assert "kick.wav is 300 bytes, over the 0.0002 MB (209 bytes) upload limit" in line
    assert json.loads(cli("ls", "--json").stdout) == []  # snare.mp3 was not sent either


@pytest.mark.parametrize(("name", "message"), [("missing.wav", "file not found: missing.wav"), (".", "is a directory")])
def test_upload_bad_files(cli, takes, name, message):
    assert message in one_error_line(cli("upload", name), 2)


@pytest.mark.parametrize(("expires", "message"), [("8d", "between 1 second and 7 days"), ("0", "between 1 second"), ("soon", "like 15m")])
def test_presign_expiry(cli, takes, expires, message):
    key = cli("upload", "kick.wav").stdout.strip()
    assert message in one_error_line(cli("presign", key, "--expires", expires), 2)


def test_presign_of_a_missing_object(cli):
    assert one_error_line(cli("presign", "uploads/tester/none.wav")) == "Error: not found: uploads/tester/none.wav"


def test_the_same_commands_against_s3(cli, takes, s3_mock, bucket_name):
    make_bucket(bucket_name)
    key = cli("--bucket", bucket_name, "upload", "kick.wav").stdout.strip()
    assert key.startswith("uploads/tester/")
    listing = cli("--bucket", bucket_name, "ls").stdout
    assert key in listing and "Using local" not in listing
    (takes / "kick.wav").unlink()
    assert cli("--bucket", bucket_name, "get", key, "kick.wav").exit_code == 0
    assert (takes / "kick.wav").read_bytes() == b"\x01" * 300
    assert cli("--bucket", bucket_name, "presign", key, "--put").stdout.startswith("https://")
    assert cli("--bucket", bucket_name, "rm", "-y", key).exit_code == 0
    assert json.loads(cli("--bucket", bucket_name, "ls", "--json").stdout) == []


def test_local_flag_uses_the_mirror_even_with_s3_configured(cli, takes, s3_mock, bucket_name, tmp_path):
    make_bucket(bucket_name)
    result = cli("--bucket", bucket_name, "--local", "upload", "kick.wav")
    assert (tmp_path / "drumscribe-home" / bucket_name / result.stdout.strip()).is_file()
    assert json.loads(cli("--bucket", bucket_name, "ls", "--json").stdout) == []


def test_missing_bucket(cli, takes, s3_mock):
    line = one_error_line(cli("--bucket", "not-a-bucket-of-ours", "ls"))
    assert line.startswith("Error: bucket 'not-a-bucket-of-ours' does not exist")
