"""The .env writer: 0600 from creation, other lines kept, previous file backed up."""

from __future__ import annotations

import os
import stat

from drumscribe.envfile import read_env, update_env


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_is_private_and_readable_by_dotenv(tmp_path):
    env = tmp_path / ".env"
    backup = update_env(env, {"AWS_ACCESS_KEY_ID": "AKIANEW", "AWS_SECRET_ACCESS_KEY": "a/b+c=="})
    assert backup is None  # nothing to back up
    assert mode(env) == 0o600
    assert read_env(env) == {"AWS_ACCESS_KEY_ID": "AKIANEW", "AWS_SECRET_ACCESS_KEY": "a/b+c=="}


def test_other_lines_are_kept_and_duplicates_collapsed(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# my settings\nDRUMSCRIBE_USER=alice\nexport AWS_ACCESS_KEY_ID=AKIAOLD\nAWS_ACCESS_KEY_ID=AKIAOLD2\n\nOTHER='keep me'\n")
    os.chmod(env, 0o644)
    backup = update_env(env, {"AWS_ACCESS_KEY_ID": "AKIANEW", "AWS_REGION": "eu-west-1"})
    lines = env.read_text().splitlines()
    assert lines == ["# my settings", "DRUMSCRIBE_USER=alice", "AWS_ACCESS_KEY_ID=AKIANEW", "", "OTHER='keep me'", "AWS_REGION=eu-west-1"]
    assert mode(env) == 0o600  # tightened even though the old file was world-readable
    assert backup == tmp_path / ".env.bak"
    assert "AKIAOLD2" in backup.read_text()
    assert mode(backup) == 0o600


def test_values_that_need_quoting_round_trip(tmp_path):
    env = tmp_path / ".env"
    update_env(env, {"WEIRD": 'has space # and "quotes" \\ too'})
    assert read_env(env)["WEIRD"] == 'has space # and "quotes" \\ too'


def test_no_temp_files_left_behind(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    update_env(folder / ".env", {"A": "1"})
    update_env(folder / ".env", {"A": "2"})
    assert sorted(p.name for p in folder.iterdir()) == [".env", ".env.bak"]
