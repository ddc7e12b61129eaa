"""What every backend does, run against both S3 (moto) and the local mirror.

Like cloudpathlib's shared suite: code written against ``Storage`` must not be able to tell
which backend it got, apart from ``uri()`` and what ``presign`` returns.
"""

from __future__ import annotations

import hashlib
import io
import types

import pytest

from drumscribe.errors import ConfigError, InvalidKeyError, NotFoundError
from drumscribe.storage import ObjectInfo


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_bytes_round_trip_records_size_hash_type_and_metadata(storage):
    data = b'{"tempo": 120}'
    info = storage.put("processed/tester/job-000001/transcription.json", data, metadata={"job": "job-000001"})

    assert storage.get("processed/tester/job-000001/transcription.json") == data
    head = storage.head("processed/tester/job-000001/transcription.json")
    assert (info.size, head.size) == (len(data), len(data))
    assert info.sha256 == head.sha256 == sha(data)
    assert head.etag == info.etag == hashlib.md5(data).hexdigest()  # single-part ETag is the MD5
    assert head.content_type == "application/json"  # guessed from the key
    assert head.metadata == {"job": "job-000001"}
    assert head.last_modified is not None and head.last_modified.tzinfo is not None


def test_put_accepts_a_path_a_seekable_stream_and_a_pipe(storage, tmp_path):
    source = tmp_path / "beat.wav"
    source.write_bytes(b"RIFF" + bytes(range(256)) * 40)

    class Pipe(io.RawIOBase):  # no seek(): like a socket or stdin
        def __init__(self, data):
            self._inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            return self._inner.readinto(buffer)

    storage.put("a/from-path.wav", source)
    storage.put("a/from-str-path.wav", str(source))
    storage.put("a/from-stream.wav", io.BytesIO(source.read_bytes()))
    storage.put("a/from-pipe.wav", Pipe(source.read_bytes()))

    for key in ("a/from-path.wav", "a/from-str-path.wav", "a/from-stream.wav", "a/from-pipe.wav"):
        assert storage.get(key) == source.read_bytes()
        assert storage.head(key).sha256 == sha(source.read_bytes())
        assert storage.head(key).content_type == "audio/wav"


def test_explicit_content_type_wins(storage):
    storage.put("x/track", b"ID3", content_type="audio/mpeg")
    assert storage.head("x/track").content_type == "audio/mpeg"


def test_put_overwrites(storage):
    storage.put("k.txt", b"old")
    storage.put("k.txt", b"new!")
    assert storage.get("k.txt") == b"new!"
    assert storage.head("k.txt").sha256 == sha(b"new!")


def test_download_writes_the_file_and_picks_the_name_for_a_folder(storage, tmp_path):
    storage.put("uploads/tester/song.mp3", b"ID3 data")
    target = storage.download("uploads/tester/song.mp3", tmp_path / "out" / "copy.mp3")
    assert target.read_bytes() == b"ID3 data"

    into_folder = storage.download("uploads/tester/song.mp3", tmp_path)
    assert into_folder == tmp_path / "song.mp3" and into_folder.read_bytes() == b"ID3 data"

    into_new_folder = storage.download("uploads/tester/song.mp3", f"{tmp_path}/new/")  # trailing slash: a folder
    assert into_new_folder == tmp_path / "new" / "song.mp3" and into_new_folder.read_bytes() == b"ID3 data"


def test_download_of_a_missing_key_leaves_nothing_behind(storage, tmp_path):
    dest = tmp_path / "dl"
    dest.mkdir()
    with pytest.raises(NotFoundError):
        storage.download("nope/missing.bin", dest / "missing.bin")
    assert list(dest.iterdir()) == []  # neither the file nor a temp file


def test_open_is_a_readable_context_manager(storage):
    data = bytes(range(256)) * 100
    storage.put("blob.bin", data)
    with storage.open("blob.bin") as stream:
        first = stream.read(1000)
        rest = stream.read()
    assert first + rest == data
    assert stream.closed


def test_missing_objects(storage):
    with pytest.raises(NotFoundError, match="not found"):
        storage.head("nothing/here")
    with pytest.raises(NotFoundError):
        storage.get("nothing/here")
    with pytest.raises(NotFoundError):
        storage.open("nothing/here")
    assert storage.exists("nothing/here") is False
    storage.put("nothing/here", b"now")
    assert storage.exists("nothing/here") is True


def test_list_is_lazy_and_in_s3_key_order(storage):
    # '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < '0': a naive folder walk would get this wrong
    keys = ["a/b", "a-c", "a.txt", "a0", "b", "a/a/z", "a/ä"]
    for key in keys:
        storage.put(key, key.encode())

    listing = storage.list()
    assert isinstance(listing, types.GeneratorType)
    found = list(listing)
    assert [o.key for o in found] == sorted(keys, key=lambda k: k.encode("utf-8"))
    assert all(isinstance(o, ObjectInfo) for o in found)
    by_key = {o.key: o for o in found}
    assert by_key["a/b"].size == 3
    assert by_key["a/b"].etag == hashlib.md5(b"a/b").hexdigest()  # sync compares these
    assert by_key["a/b"].last_modified is not None


def test_list_prefix_is_a_string_prefix_not_a_folder(storage):
    for key in ("uploads/tester/1.wav", "uploads/tester2/2.wav", "uploads/other/3.wav", "processed/tester/j/x.json"):
        storage.put(key, b"x")
    assert [o.key for o in storage.list("uploads/tester")] == ["uploads/tester/1.wav", "uploads/tester2/2.wav"]
    assert [o.key for o in storage.list("uploads/tester/")] == ["uploads/tester/1.wav"]
    assert [o.key for o in storage.list("uploads/")] == ["uploads/other/3.wav", "uploads/tester/1.wav", "uploads/tester2/2.wav"]
    assert list(storage.list("nothing/")) == []


def test_list_of_an_empty_store_is_empty(storage):
    assert list(storage.list()) == []


def test_delete_and_delete_many(storage):
    for key in ("d/1", "d/2", "d/3", "keep"):
        storage.put(key, b"x")
    storage.delete("d/1")
    storage.delete("d/1")  # deleting what is gone is not an error
    assert storage.delete_many(["d/2", "d/3", "d/never-existed"]) == ["d/2", "d/3", "d/never-existed"]
    assert [o.key for o in storage.list()] == ["keep"]


@pytest.mark.parametrize("expires", [0, -5, 604801, 10**9, "soon", 1.5])
def test_presign_rejects_expiry_outside_one_second_to_seven_days(storage, expires):
    storage.put("p.bin", b"x")
    with pytest.raises(ConfigError) as caught:
        storage.presign("p.bin", expires=expires)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("expires", [1, 3600, 604800])
def test_presign_accepts_the_whole_valid_range(storage, expires):
    storage.put("p.bin", b"x")
    assert storage.presign("p.bin", expires=expires)
    assert storage.presign("p.bin", expires=expires, method="PUT")


def test_presign_only_get_and_put(storage):
    with pytest.raises(ConfigError):
        storage.presign("p.bin", method="DELETE")


HOSTILE = ["../x", "a/../../x", "/etc/passwd", "a\\b", "a\x00b", "a\nb", "tab\there", "a//b", "./a", "", "a/.."]


@pytest.mark.parametrize("key", HOSTILE)
def test_hostile_keys_are_refused_by_every_operation(storage, key, tmp_path):
    operations = [
        lambda: storage.put(key, b"x"),
        lambda: storage.get(key),
        lambda: storage.head(key),
        lambda: storage.open(key),
        lambda: storage.download(key, tmp_path / "d"),
        lambda: storage.delete(key),
        lambda: storage.delete_many(["fine", key]),
        lambda: storage.presign(key),
    ]
    for operation in operations:
        with pytest.raises(InvalidKeyError) as caught:
            operation()
        assert "\n" not in str(caught.value)
    assert list(storage.list()) == []  # nothing was written anywhere


@pytest.mark.parametrize("key", ["uploads/tester/my song (live).wav", "uploads/tester/Ünïcødé ドラム.flac", "a b/c d"])
def test_unicode_and_spaces_are_fine(storage, key):
    storage.put(key, b"data")
    assert storage.get(key) == b"data"
    assert [o.key for o in storage.list()] == [key]


def test_metadata_must_survive_http_headers(storage):
    with pytest.raises(InvalidKeyError):
        storage.put("m", b"x", metadata={"Title": "upper-case names are lower-cased by S3"})
    with pytest.raises(InvalidKeyError):
        storage.put("m", b"x", metadata={"title": "non-ASCII é is mangled by S3"})
    assert not storage.exists("m")


def test_a_caller_cannot_forge_the_stored_hash(storage):
    info = storage.put("h", b"real", metadata={"sha256": "0" * 64})
    assert info.sha256 == storage.head("h").sha256 == sha(b"real")


def test_uri_names_the_backend(storage):
    uri = storage.uri("a/b.json")
    assert uri.endswith("/a/b.json")
    assert uri.startswith("s3://" if storage.name == "s3" else "file:///")
    assert storage.is_configured()


def test_a_conditional_put_writes_only_over_what_was_read(storage):
    """``put_if_unchanged``: the ETag that was read (None: nothing there) or ``ChangedError``, nothing written."""
    from drumscribe.errors import ChangedError

    first = storage.put_if_unchanged("edits/e.json", b"one", etag=None)  # a first write: only if there is none
    with pytest.raises(ChangedError, match="changed since it was read; nothing was written"):
        storage.put_if_unchanged("edits/e.json", b"two", etag=None)
    second = storage.put_if_unchanged("edits/e.json", b"two", etag=first.etag)
    with pytest.raises(ChangedError):
        storage.put_if_unchanged("edits/e.json", b"three", etag=first.etag)  # read before "two" was written
    assert storage.get("edits/e.json") == b"two" and storage.head("edits/e.json").etag == second.etag
    assert ChangedError("x").exit_code == 3
