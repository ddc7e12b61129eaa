"""The local mirror: the same layout as the bucket, atomic writes, nothing escapes the root."""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request

import pytest

from drumscribe.errors import InvalidKeyError, NotFoundError
from drumscribe.storage import LocalStorage


class FailingStream(io.RawIOBase):
    """Yields some bytes, then fails like a dropped connection or a full disk."""

    def __init__(self, good: int):
        self.left = good

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            raise OSError(28, "No space left on device")
        n = min(len(buffer), self.left)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def all_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_keys_map_to_files_under_the_root(local_storage):
    local_storage.put("processed/tester/job-000001/output.mid", b"MThd")
    assert (local_storage.root / "processed/tester/job-000001/output.mid").read_bytes() == b"MThd"


def test_a_failed_write_leaves_no_file_and_no_temp_file(local_storage):
    with pytest.raises(Exception):
        local_storage.put("uploads/tester/half.wav", FailingStream(3 * 1024 * 1024))
    assert not (local_storage.root / "uploads/tester/half.wav").exists()
    assert [f for f in all_files(local_storage.root) if not f.startswith(".drumscribe")] == []


def test_a_failed_overwrite_keeps_the_old_object(local_storage):
    local_storage.put("k.json", b"version 1")
    with pytest.raises(Exception):
        local_storage.put("k.json", FailingStream(10))
    assert local_storage.get("k.json") == b"version 1"
    assert local_storage.head("k.json").sha256 == hashlib.sha256(b"version 1").hexdigest()


def test_temp_files_and_our_metadata_are_never_listed(local_storage):
    local_storage.put("a/b.wav", b"x")
    (local_storage.root / "a" / ".b.wav.k2j3h4.drumscribe-tmp").write_bytes(b"half")  # a crashed writer's leftover
    assert (local_storage.root / ".drumscribe").is_dir()
    assert [o.key for o in local_storage.list()] == ["a/b.wav"]


def test_reserved_names_are_not_keys(local_storage):
    with pytest.raises(InvalidKeyError):
        local_storage.put(".drumscribe/meta/x", b"x")
    with pytest.raises(InvalidKeyError):
        local_storage.put("a/.b.1234.drumscribe-tmp", b"x")
    assert list(local_storage.list(".drumscribe/")) == []


def test_files_dropped_in_by_hand_get_hashed_on_head(local_storage):
    path = local_storage.root / "uploads" / "tester" / "copied.wav"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"RIFF copied")

    listed = list(local_storage.list())
    assert [o.key for o in listed] == ["uploads/tester/copied.wav"]
    assert listed[0].sha256 is None  # list stays fast: it never reads file contents
    assert local_storage.head("uploads/tester/copied.wav").sha256 == hashlib.sha256(b"RIFF copied").hexdigest()
    assert next(local_storage.list()).sha256 is not None  # head cached it


def test_a_file_changed_by_hand_is_rehashed(local_storage):
    local_storage.put("notes.txt", b"first")
    path = local_storage.root / "notes.txt"
    path.write_bytes(b"second, longer")
    os.utime(path, ns=(1, 1))
    assert local_storage.head("notes.txt").sha256 == hashlib.sha256(b"second, longer").hexdigest()


def test_symlinks_cannot_lead_outside_the_root(local_storage, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    local_storage.root.mkdir(parents=True)
    (local_storage.root / "escape").symlink_to(outside, target_is_directory=True)
    (local_storage.root / "leak.txt").symlink_to(outside / "secret.txt")

    for operation in (
        lambda: local_storage.put("escape/new.txt", b"x"),
        lambda: local_storage.get("escape/secret.txt"),
        lambda: local_storage.get("leak.txt"),
        lambda: local_storage.delete("escape/secret.txt"),
    ):
        with pytest.raises(InvalidKeyError, match="outside the local storage root"):
            operation()
    assert list(local_storage.list()) == []
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_symlinks_inside_the_root_are_fine(local_storage):
    local_storage.put("real/a.txt", b"a")
    (local_storage.root / "alias.txt").symlink_to(local_storage.root / "real" / "a.txt")
    assert local_storage.get("alias.txt") == b"a"


def test_deleting_the_last_object_removes_empty_folders(local_storage):
    local_storage.put("processed/tester/job-000001/output.mid", b"MThd")
    local_storage.put("processed/other/job-000002/output.mid", b"MThd")
    local_storage.delete("processed/tester/job-000001/output.mid")
    assert not (local_storage.root / "processed" / "tester").exists()
    assert (local_storage.root / "processed" / "other" / "job-000002").is_dir()
    assert local_storage.root.is_dir()


def test_a_folder_is_not_an_object(local_storage):
    local_storage.put("a/b", b"x")
    with pytest.raises(NotFoundError):
        local_storage.get("a")


def test_presign_is_a_file_uri_that_opens(local_storage):
    local_storage.put("processed/tester/job-000001/transcription.json", b"{}")
    uri = local_storage.presign("processed/tester/job-000001/transcription.json", expires=60)
    assert uri.startswith("file:///")
    with urllib.request.urlopen(uri) as response:
        assert response.read() == b"{}"


def test_files_are_written_with_the_usual_permissions(local_storage):
    umask = os.umask(0)
    os.umask(umask)
    local_storage.put("p.txt", b"x")
    assert (local_storage.root / "p.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_root_that_does_not_exist_yet_is_empty(tmp_path):
    storage = LocalStorage(tmp_path / "not-yet")
    assert list(storage.list()) == []
    assert not storage.exists("x")
    assert storage.uri() == (tmp_path / "not-yet").as_uri()


def test_a_full_disk_is_a_one_line_storage_error(local_storage, monkeypatch):
    import drumscribe.storage._common as common
    from drumscribe.errors import StorageError

    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fh):
            self._fh = fh

        def write(self, data):
            raise OSError(28, "No space left on device")

        def __getattr__(self, name):
            return getattr(self._fh, name)

    monkeypatch.setattr(common.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    with pytest.raises(StorageError, match=r"cannot write .*big.wav: No space left on device$"):
        local_storage.put("big.wav", b"x" * 100)
    monkeypatch.undo()
    assert all_files(local_storage.root) == []  # no partial file, no temp file
