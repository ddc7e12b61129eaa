"""upload(): limit checked before sending, content hash in the key, audio content types."""

from __future__ import annotations

import hashlib
import io
import re
from unittest import mock

import pytest

from drumscribe.config import load_settings
from drumscribe.errors import InputError, InvalidKeyError
from drumscribe.storage import Storage
from drumscribe.storage import _common
from drumscribe.storage.uploads import guess_content_type, upload

KEY = re.compile(r"^uploads/tester/\d{8}T\d{6}Z_([0-9a-f]{12})_(.+)$")


def test_upload_a_file(local_storage, tmp_path):
    path = tmp_path / "Kick & Snare.wav"
    path.write_bytes(b"RIFF" + b"\x00" * 1000)

    info = upload(path, storage=local_storage)

    match = KEY.match(info.key)
    assert match, info.key
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert match.group(1) == digest[:12] and match.group(2) == "Kick_Snare.wav"
    assert info.sha256 == digest
    assert local_storage.head(info.key).content_type == "audio/wav"


def test_upload_bytes_and_streams(local_storage):
    a = upload(b"ID3 bytes", storage=local_storage, filename="a.mp3", user_id="alice")
    b = upload(io.BytesIO(b"fLaC stream"), storage=local_storage, filename="b.flac")
    assert a.key.startswith("uploads/alice/") and a.key.endswith("_a.mp3")
    assert local_storage.get(b.key) == b"fLaC stream"
    assert local_storage.head(b.key).content_type == "audio/flac"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.mp3", "audio/mpeg"), ("a.WAV", "audio/wav"), ("a.flac", "audio/flac"), ("a.ogg", "audio/ogg"),
     ("a.aiff", "audio/aiff"), ("a.aif", "audio/aiff"), ("a.json", "application/json"), ("noext", "application/octet-stream")],
)
def test_content_types(name, expected):
    assert guess_content_type(name) == expected


def over_limit_settings():
    return load_settings({"max_upload_mb": 0.001})  # 1048 bytes


def test_a_file_over_the_limit_is_refused_before_reading_or_sending(tmp_path, monkeypatch):
    path = tmp_path / "huge.wav"
    path.write_bytes(b"\x00" * 5000)
    storage = mock.create_autospec(Storage, instance=True)
    opened = mock.Mock(side_effect=AssertionError("the file must not be read"))
    monkeypatch.setattr(_common, "open", opened, raising=False)

    with pytest.raises(InputError, match=r"huge.wav is 5000 bytes, over the 0.001 MB \(1048 bytes\) upload limit") as caught:
        upload(path, storage=storage, settings=over_limit_settings())
    assert "\n" not in str(caught.value)
    assert storage.method_calls == []


def test_no_request_reaches_s3_for_an_oversized_file(s3_storage, tmp_path):
    path = tmp_path / "huge.wav"
    path.write_bytes(b"\x00" * 5000)
    sent = []
    s3_storage.client.meta.events.register("before-send.s3", lambda request, **kw: sent.append(request))
    with pytest.raises(InputError):
        upload(path, storage=s3_storage, settings=over_limit_settings())
    assert sent == []
    assert list(s3_storage.list()) == []


def test_a_stream_over_the_limit_stops_reading_early(local_storage):
    class Endless(io.RawIOBase):
        read_bytes = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            self.read_bytes += len(buffer)
            buffer[:] = b"\x00" * len(buffer)
            return len(buffer)

    stream = Endless()
    with pytest.raises(InputError, match="upload limit"):
        upload(stream, storage=local_storage, settings=over_limit_settings(), filename="live.wav")
    assert stream.read_bytes <= 2 * _common.CHUNK
    assert list(local_storage.list()) == []


def test_bytes_over_the_limit(local_storage):
    with pytest.raises(InputError, match="upload limit"):
        upload(b"x" * 2000, storage=local_storage, settings=over_limit_settings())


@pytest.mark.parametrize("problem", ["missing", "directory", "empty"])
def test_bad_files_are_one_line_input_errors(local_storage, tmp_path, problem):
    path = tmp_path / "take.wav"
    if problem == "directory":
        path.mkdir()
    elif problem == "empty":
        path.write_bytes(b"")
    with pytest.raises(InputError) as caught:
        upload(path, storage=local_storage)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert list(local_storage.list()) == []


def test_unreadable_file(local_storage, tmp_path, monkeypatch):
    path = tmp_path / "locked.wav"
    path.write_bytes(b"RIFF")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    # chmod 000 does not stop root (this suite may run as root), so refuse the open itself
    monkeypatch.setattr(_common, "open", denied, raising=False)
    with pytest.raises(InputError, match="cannot read .*locked.wav: permission denied"):
        upload(path, storage=local_storage)


def test_hostile_user_ids_are_refused(local_storage):
    with pytest.raises(InvalidKeyError):
        upload(b"RIFF", storage=local_storage, user_id="../../etc")
    assert list(local_storage.list()) == []


def test_without_a_storage_it_uses_get_storage(tmp_path, capsys):
    info = upload(b"RIFF", filename="x.wav")
    assert (tmp_path / "drumscribe-home" / "local" / info.key).read_bytes() == b"RIFF"
    assert "Using local storage" in capsys.readouterr().err
