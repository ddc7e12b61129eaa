"""Conflicts, deletions, crashes, big files and hostile input: nothing is lost or written outside the root."""

from __future__ import annotations

import os

import pytest

import drumscribe.sync.transfer as transfer
from drumscribe import sync
from drumscribe.errors import InputError
from drumscribe.sync.manifest import Manifest

JOB = "processed/tester/20261125T190000Z-0a1b2c3d"
A, B, C = f"{JOB}/transcription.json", f"{JOB}/output.mid", "uploads/tester/20261125T190000Z_abc123abc123_take.wav"


def seed_and_push(env):
    for i, key in enumerate((A, B, C)):
        env.write(key, f"v1 {i}")
    assert sync("push").transferred == 3


# --- conflicts -----------------------------------------------------------------------------


def test_both_sides_changed_is_a_conflict_and_nothing_is_overwritten(env):
    seed_and_push(env)
    env.write(A, "local edit")
    env.put_remote(A, "remote edit")
    push, pull = sync("push"), sync("pull")
    for report in (push, pull):
        assert report.conflicts == [A] and report.transferred == 0 and report.exit_code == 3
    assert env.remote(A) == b"remote edit" and env.read(A) == b"local edit"


def test_prefer_local_settles_a_conflict_on_push(env):
    seed_and_push(env)
    env.write(A, "local edit")
    env.put_remote(A, "remote edit")
    assert sync("push", prefer="remote").transferred == 0  # remote wins: push leaves it
    report = sync("push", prefer="local")
    assert report.transferred == 1 and env.remote(A) == b"local edit"
    assert sync("status").planned["conflict"] == 0


def test_prefer_remote_settles_a_conflict_on_pull(env):
    seed_and_push(env)
    env.write(A, "local edit")
    env.put_remote(A, "remote edit")
    assert sync("pull", prefer="remote").transferred == 1
    assert env.read(A) == b"remote edit"


def test_first_sync_with_equal_files_on_both_sides_heads_only_those_and_records_them(env):
    env.write(A, "same")
    env.put_remote(A, "same", Metadata={"sha256": "0" * 64})  # equal size, but the stored hash says otherwise
    env.write(B, "same")
    env.s3.put_object(Bucket=env.bucket, Key=B, Body=b"same")  # no sha256 metadata: single-part ETag = MD5
    env.write(C, "local")
    env.put_remote(C, "remote, longer")  # different sizes: no HEAD needed to know they differ
    calls = env.reset_calls()
    report = sync("push")
    assert calls["HeadObject"] == 2
    actions = {r["key"]: (r["action"], r["reason"]) for r in report.items}
    assert actions[A][0] == "conflict" and actions[C][0] == "conflict"
    assert actions[B] == ("skip", "identical on both sides (first sync)")
    assert Manifest.load(env.root, env.bucket).get(B) is not None


def test_first_sync_after_a_lost_manifest_resends_nothing(env):
    seed_and_push(env)
    Manifest.load(env.root, env.bucket).path.unlink()
    calls = env.reset_calls()
    assert sync("push").transferred == 0 and sync("pull").transferred == 0
    assert calls["PutObject"] == 0 and calls["GetObject"] == 0


# --- deletions -----------------------------------------------------------------------------


def test_deletions_only_with_delete(env):
    seed_and_push(env)
    (env.root / B).unlink()
    report = sync("push")
    assert B in env.remote_keys()
    assert any("--delete" in r["reason"] for r in report.items if r["key"] == B)
    report = sync("push", delete=True, yes=True)
    assert report.deleted == 1 and B not in env.remote_keys()
    assert Manifest.load(env.root, env.bucket).get(B) is None


def test_pull_delete_removes_what_the_bucket_deleted(env):
    seed_and_push(env)
    env.s3.delete_object(Bucket=env.bucket, Key=A)
    assert sync("pull", delete=True, yes=True).deleted == 1
    assert not (env.root / A).exists() and (env.root / B).exists()


def test_delete_needs_confirmation(env):
    seed_and_push(env)
    (env.root / B).unlink()
    with pytest.raises(InputError, match="not confirmed"):
        sync("push", delete=True)
    with pytest.raises(InputError, match="not confirmed"):
        sync("push", delete=True, confirm=lambda plan: False)
    assert B in env.remote_keys()
    assert sync("push", delete=True, confirm=lambda plan: [i.key for i in plan.of("delete")] == [B]).deleted == 1


def test_max_delete_refuses_the_whole_run(env):
    seed_and_push(env)
    (env.root / A).unlink()
    (env.root / B).unlink()
    env.write("uploads/tester/new.wav", "new")
    with pytest.raises(InputError, match="more than --max-delete 1; nothing was changed"):
        sync("push", delete=True, yes=True, max_delete=1)
    assert sorted(env.remote_keys()) == sorted([A, B, C])  # not even the upload ran
    assert sync("push", delete=True, yes=True, max_delete=2).deleted == 2


def test_empty_source_side_is_refused(env):
    seed_and_push(env)
    for key in (A, B, C):
        (env.root / key).unlink()
    with pytest.raises(InputError, match="local side has nothing"):
        sync("push", delete=True, yes=True)
    assert len(env.remote_keys()) == 3


def test_excluded_paths_are_never_deleted(env):
    seed_and_push(env)
    (env.root / A).unlink()
    (env.root / C).unlink()
    report = sync("push", delete=True, yes=True, exclude=["uploads/*"])
    assert report.deleted == 1 and C in env.remote_keys() and A not in env.remote_keys()
    # the excluded key keeps its baseline: a later full sync still knows it was deleted locally
    assert Manifest.load(env.root, env.bucket).get(C) is not None
    assert sync("push", delete=True, yes=True).deleted == 1 and C not in env.remote_keys()


def test_never_synced_files_are_not_deleted(env):
    seed_and_push(env)
    env.put_remote("processed/tester/someone-elses/transcription.json", "made elsewhere")
    report = sync("push", delete=True, yes=True)
    assert report.deleted == 0 and report.conflicts == ["processed/tester/someone-elses/transcription.json"]
    assert "processed/tester/someone-elses/transcription.json" in env.remote_keys()


# --- interruption and resume ---------------------------------------------------------------


def test_a_failed_file_does_not_stop_the_others_and_the_rerun_sends_only_it(env, monkeypatch):
    for i in range(8):
        env.write(f"processed/tester/resume/{i}.json", f"data {i}" * 100)
    real_put = transfer.Executor.upload
    failed = []

    def flaky(self, item):
        if item.key.endswith("/4.json"):
            failed.append(item.key)
            raise ConnectionError("network dropped half-way")
        return real_put(self, item)

    monkeypatch.setattr(transfer.Executor, "upload", flaky)
    report = sync("push", concurrency=3)
    assert report.transferred == 7 and [k for k, _ in report.errors] == failed and report.exit_code == 1
    monkeypatch.setattr(transfer.Executor, "upload", real_put)
    calls = env.reset_calls()
    again = sync("push")
    assert again.transferred == 1 and calls["PutObject"] == 1


def test_a_crash_before_the_manifest_is_saved_still_resends_nothing(env, monkeypatch):
    for i in range(5):
        env.write(f"processed/tester/crash/{i}.json", f"data {i}")
    with monkeypatch.context() as m:
        m.setattr(Manifest, "flush", lambda self: None)  # as if killed right after the uploads
        assert sync("push").transferred == 5
    calls = env.reset_calls()
    assert sync("push").transferred == 0
    assert calls["PutObject"] == 0 and calls["HeadObject"] == 5  # proved equal by their stored sha256


@pytest.fixture
def small_multipart(monkeypatch):
    import moto.s3.models

    monkeypatch.setattr(transfer, "MULTIPART_THRESHOLD", 64 * 1024)
    monkeypatch.setattr(transfer, "MULTIPART_CHUNKSIZE", 64 * 1024)
    monkeypatch.setattr(transfer, "RANGED_DOWNLOAD_THRESHOLD", 64 * 1024)
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 1024)


def test_multipart_sized_files_round_trip_without_head(env, small_multipart):
    data = os.urandom(200 * 1024)
    env.write(C, data)
    calls = env.reset_calls()
    assert sync("push").transferred == 1
    assert calls["UploadPart"] == 4 and calls["CompleteMultipartUpload"] == 1
    assert env.s3.head_object(Bucket=env.bucket, Key=C)["ETag"].endswith('-4"')  # a multipart ETag: never an MD5
    (env.root / C).unlink()
    calls = env.reset_calls()
    assert sync("pull").transferred == 1
    assert env.read(C) == data
    assert calls["HeadObject"] == 0 and calls["GetObject"] == 4  # s3transfer's ranged GETs, given the listed size
    assert sync("push").transferred == 0 and sync("pull").transferred == 0


def test_a_multipart_upload_that_fails_half_way_is_aborted(env, small_multipart, monkeypatch):
    env.write(C, os.urandom(200 * 1024))
    env.write(A, "small")
    parts = []
    real_client = transfer.Executor.__init__

    def init(self, **kwargs):
        real_client(self, **kwargs)
        real_upload_part = self.client.upload_part

        def upload_part(**kw):
            parts.append(kw["PartNumber"])
            if kw["PartNumber"] == 3:
                raise ConnectionError("killed half-way")
            return real_upload_part(**kw)

        self.client.upload_part = upload_part

    monkeypatch.setattr(transfer.Executor, "__init__", init)
    report = sync("push")
    assert [k for k, _ in report.errors] == [C] and report.transferred == 1
    assert C not in env.remote_keys()
    assert env.s3.list_multipart_uploads(Bucket=env.bucket).get("Uploads", []) == []
    monkeypatch.setattr(transfer.Executor, "__init__", real_client)
    assert sync("push").transferred == 1 and C in env.remote_keys()


def test_an_object_changed_after_the_listing_is_not_overwritten(env, monkeypatch):
    seed_and_push(env)
    env.write(A, "local edit")
    real = transfer.Executor.upload

    def racing(self, item):
        env.put_remote(A, "someone else, just now")  # lands between our listing and our upload
        return real(self, item)

    monkeypatch.setattr(transfer.Executor, "upload", racing)
    report = sync("push")
    assert report.errors and "changed remotely while syncing" in report.errors[0][1]
    assert env.remote(A) == b"someone else, just now"


# --- hostile input -------------------------------------------------------------------------


def test_hostile_remote_keys_are_reported_and_never_written(env, tmp_path):
    for key in ("processed/../../escaped.txt", "processed/a//b.json", "processed/ok.json"):
        env.put_remote(key, "x")
    report = sync("pull")
    bad = sorted(k for k, _ in report.errors)
    assert bad == ["processed/../../escaped.txt", "processed/a//b.json"] and report.exit_code == 1
    assert (env.root / "processed/ok.json").exists()
    assert not (env.root.parent / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()


def test_symlinks_are_not_followed(env, tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("private")
    env.write(A, "real")
    (env.root / JOB / "link.json").symlink_to(secret)
    outside_dir = tmp_path / "outside-dir"
    outside_dir.mkdir()
    (env.root / "processed" / "tester" / "linkdir").symlink_to(outside_dir)
    report = sync("push")
    assert env.remote_keys() == [A]
    assert any(r["reason"] == "symlink (not followed)" for r in report.items)
    # a pull never writes through a symlinked folder either
    env.put_remote("processed/tester/linkdir/planted.json", "x")
    report = sync("pull")
    assert [k for k, _ in report.errors] == ["processed/tester/linkdir/planted.json"]
    assert list(outside_dir.iterdir()) == []


def test_ctrl_c_mid_sync_keeps_what_finished_and_the_rerun_sends_the_rest(env, monkeypatch):
    for i in range(12):
        env.write(f"processed/tester/ctrlc/{i:02d}.json", f"data {i}")
    real = transfer.Executor.upload
    started = []

    def interrupted(self, item):
        started.append(item.key)
        if len(started) == 6:
            raise KeyboardInterrupt  # what Ctrl-C looks like when it lands in the middle of a transfer
        return real(self, item)

    monkeypatch.setattr(transfer.Executor, "upload", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sync("push", concurrency=1)
    monkeypatch.setattr(transfer.Executor, "upload", real)
    sent_before = set(env.remote_keys())
    assert 0 < len(sent_before) < 12
    calls = env.reset_calls()
    report = sync("push")
    assert report.transferred == 12 - len(sent_before)  # finished files are not sent again
    assert calls["PutObject"] == 12 - len(sent_before) and calls["HeadObject"] == 0
    assert not list((env.root / ".drumscribe" / "sync" / "tmp").glob("*"))
