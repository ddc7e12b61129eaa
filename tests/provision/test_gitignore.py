"""Credentials stay out of git: a .env that drumscribe writes inside a git work tree gets ignored."""

from __future__ import annotations

import subprocess

from drumscribe.envfile import git_ignores, git_tracks, ignore_in_git


def git(*args, cwd=None):
    subprocess.run(["git", *args], check=True, capture_output=True, cwd=cwd)


def test_outside_a_work_tree_nothing_is_written(isolated_env):
    (isolated_env / ".env").write_text("A=1\n")
    assert ignore_in_git(isolated_env / ".env") is None
    assert not (isolated_env / ".gitignore").exists() and not git_tracks(isolated_env / ".env")


def test_anchored_lines_at_the_root_once(isolated_env):
    git("init", "-q")
    (isolated_env / "deploy").mkdir()
    env = isolated_env / "deploy" / "app.env"
    added = ignore_in_git(env)
    assert added == f"/deploy/app.env, /deploy/app.env.bak added to {isolated_env / '.gitignore'}"
    assert git_ignores(env) and git_ignores(env.with_name("app.env.bak"))
    assert not git_ignores(isolated_env / "app.env")  # anchored: only that file
    assert ignore_in_git(env) is None  # the second time nothing is added


def test_an_existing_pattern_is_respected(isolated_env):
    git("init", "-q")
    (isolated_env / ".gitignore").write_text("node_modules/\n.env*")  # no final newline
    assert ignore_in_git(isolated_env / ".env") is None
    assert (isolated_env / ".gitignore").read_text() == "node_modules/\n.env*"


def test_a_file_without_a_final_newline_stays_intact(isolated_env):
    git("init", "-q")
    (isolated_env / ".gitignore").write_text("node_modules/")
    ignore_in_git(isolated_env / ".env")
    lines = (isolated_env / ".gitignore").read_text().splitlines()
    assert lines == ["node_modules/", "# credentials: never commit (added by drumscribe)", "/.env", "/.env.bak"]


def test_setup_iam_and_rotate_key_ignore_the_env_they_write(s3_mock, bucket_name, isolated_env):
    from drumscribe.provision import rotate_key, setup

    git("init", "-q")
    results = setup(bucket=bucket_name, steps=["bucket", "iam"])
    assert "/.env, /.env.bak added to" in results[-1].detail and git_ignores(isolated_env / ".env")
    (isolated_env / ".gitignore").unlink()  # say someone replaced the file
    rotate_key(timeout=0)
    assert git_ignores(isolated_env / ".env")
