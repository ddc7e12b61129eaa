"""push / pull / no-op / changes: what moves, what does not, and how many requests it takes."""

from __future__ import annotations

import hashlib
import json
import os

from drumscribe import sync
from drumscribe.sync.manifest import Manifest



def set_times(path, mtime_ns):
    os.utime(path, ns=(mtime_ns, mtime_ns))


JOB = "processed/tester/20261125T190000Z-0a1b2c3d"


def seed(env, n=3):
    keys = [f"{JOB}/transcription.json", f"{JOB}/output.mid", "uploads/tester/20261125T190000Z_abc123abc123_groove.wav"]
    for i, key in enumerate(keys[:n]):
        env.write(key, f"content {i} " * (i + 1))
    return keys[:n]


def test_push_uploads_everything_with_its_sha256(env):
    keys = seed(env)
    report = sync("push")
    assert report.ok and report.transferred == 3 and report.planned["upload"] == 3
    assert sorted(env.remote_keys()) == sorted(keys)
    head = env.s3.head_object(Bucket=env.bucket, Key=keys[0])
    assert head["Metadata"]["sha256"] == hashlib.sha256(env.read(keys[0])).hexdigest()
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/json"


def test_noop_push_is_exactly_one_listing(env):
    seed(env)
    sync("push")
    calls = env.reset_calls()
    report = sync("push")
    assert report.transferred == 0 and report.planned["skip"] == 3
    assert dict(calls) == {"ListObjectsV2": 1}


def test_noop_pull_is_exactly_one_listing(env):
    seed(env)
    sync("push")
    calls = env.reset_calls()
    assert sync("pull").transferred == 0
    assert dict(calls) == {"ListObjectsV2": 1}


def test_pull_into_empty_folder_downloads_without_head_requests(env):
    for i in range(4):
        env.put_remote(f"{JOB}/part{i}.json", json.dumps({"i": i}))
    env.put_remote("temp/20261125T190000Z-0a1b2c3d/scratch.bin", b"never synced")
    calls = env.reset_calls()
    report = sync("pull")
    assert report.ok and report.transferred == 4
    assert env.read(f"{JOB}/part2.json") == b'{"i": 2}'
    assert not (env.root / "temp").exists()
    assert dict(calls) == {"ListObjectsV2": 1, "GetObject": 4}
    # nothing of ours is left in the mirror itself (temp files live under .drumscribe/)
    assert sorted(p.name for p in (env.root / JOB).iterdir()) == [f"part{i}.json" for i in range(4)]


def test_half_written_temp_files_are_not_synced(env):
    seed(env)
    env.write(f"{JOB}/.transcription.json.a1b2.drumscribe-tmp", "half")
    env.write(f"{JOB}/.output.mid.x9y8.tmp", "half")
    sync("push")
    assert not [k for k in env.remote_keys() if "tmp" in k]


def test_changed_file_is_the_only_one_sent(env):
    keys = seed(env)
    sync("push")
    env.write(keys[0], "a longer, different content")
    calls = env.reset_calls()
    report = sync("push")
    assert report.transferred == 1 and [r["key"] for r in report.items if r["action"] == "upload"] == [keys[0]]
    assert env.remote(keys[0]) == b"a longer, different content"
    assert calls["PutObject"] == 1 and calls["HeadObject"] == 0


def test_same_size_edit_with_restored_mtime_is_caught(env):
    keys = seed(env)
    path = env.root / keys[1]
    sync("push")
    before = path.stat()
    original = path.read_bytes()
    path.write_bytes(original.upper())  # same size
    set_times(path, before.st_mtime_ns)  # and the old mtime, as a careful editor or a restore would
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    report = sync("push")
    assert report.transferred == 1
    assert env.remote(keys[1]) == original.upper()


def test_touched_but_unchanged_file_is_not_sent_and_not_hashed_again(env):
    keys = seed(env)
    sync("push")
    path = env.root / keys[0]
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    report = sync("push")
    assert report.transferred == 0
    assert "unchanged" in {r["reason"] for r in report.items}
    entry = Manifest.load(env.root, env.bucket).get(keys[0])
    assert entry.local.mtime_ns == path.stat().st_mtime_ns  # refreshed: next run trusts the stat again


def test_remote_change_is_pulled_and_push_leaves_it(env):
    keys = seed(env)
    sync("push")
    env.put_remote(keys[0], "edited in the bucket")
    push = sync("push")
    assert push.transferred == 0
    assert any(r["reason"].startswith("changed only remotely") for r in push.items)
    assert env.remote(keys[0]) == b"edited in the bucket"
    pull = sync("pull")
    assert pull.transferred == 1 and env.read(keys[0]) == b"edited in the bucket"
    assert sync("pull").transferred == 0


def test_status_shows_both_directions_and_changes_nothing(env):
    keys = seed(env)
    sync("push")
    env.write(keys[0], "local edit")
    env.put_remote(keys[1], "remote edit")
    env.write("uploads/tester/new.wav", "new")
    report = sync("status")
    actions = {r["key"]: r["action"] for r in report.items}
    assert actions[keys[0]] == "upload" and actions[keys[1]] == "download"
    assert actions["uploads/tester/new.wav"] == "upload" and actions[keys[2]] == "skip"
    assert env.remote(keys[0]) != b"local edit"


def test_dry_run_plans_and_changes_nothing(env):
    seed(env)
    calls = env.reset_calls()
    report = sync("push", dry_run=True)
    assert report.planned["upload"] == 3 and report.transferred == 0
    assert env.remote_keys() == [] and dict(calls) == {"ListObjectsV2": 1}


def test_prefix_limits_both_sides(env):
    keys = seed(env)
    report = sync("push", "processed/")
    assert sorted(env.remote_keys()) == sorted(k for k in keys if k.startswith("processed/"))
    assert report.transferred == 2


def test_include_and_exclude_globs(env):
    seed(env)
    sync("push", include=["processed/*"], exclude=["*.mid"])
    assert env.remote_keys() == [f"{JOB}/transcription.json"]


def test_keys_with_spaces_and_unicode_round_trip(env):
    keys = [f"{JOB}/my groove (take 2).json", "uploads/tester/ünïcødé 🥁 beat.wav"]
    for key in keys:
        env.write(key, key)
    assert sync("push").transferred == 2
    assert sorted(env.remote_keys()) == sorted(keys)
    for key in keys:
        (env.root / key).unlink()
    (env.root / ".drumscribe").rename(env.root.parent / "old-meta")  # a brand-new mirror
    assert sync("pull").transferred == 2
    assert all(env.read(k) == k.encode() for k in keys)


def test_more_than_a_thousand_objects_paginate(env):
    for i in range(1005):
        env.write(f"processed/tester/bulk/{i:05d}.json", str(i))
    assert sync("push", concurrency=16).transferred == 1005
    calls = env.reset_calls()
    assert sync("push").transferred == 0
    assert dict(calls) == {"ListObjectsV2": 2}  # two pages, nothing else


def test_no_bucket_is_one_line_on_how_to_configure(monkeypatch, aws_credentials):
    import pytest

    from drumscribe.errors import ConfigError

    with pytest.raises(ConfigError, match="AWS_S3_BUCKET"):
        sync("push")


def test_temp_prefix_is_refused(env):
    import pytest

    from drumscribe.errors import ConfigError

    with pytest.raises(ConfigError, match="only uploads/, processed/ and models/"):
        sync("push", "temp/")


def test_tuning_profiles_under_models_are_synced_both_ways(env):
    profile = ["models/tester/profile.json", "models/tester/model-0123456789ab.npz"]
    for key in profile:
        env.write(key, f"{key} " * 3)
    assert sync("push").ok
    assert [k for k in env.remote_keys() if k.startswith("models/")] == sorted(profile)
    env.put_remote("models/tester/last-tune.json", "{}")
    assert sync("pull").transferred == 1 and env.read("models/tester/last-tune.json") == b"{}"
