"""Choosing a backend: S3 when a bucket and credentials are there, else the local mirror."""

from __future__ import annotations

from drumscribe.config import load_settings
from drumscribe.storage import LocalStorage, S3Storage, get_storage


def test_no_bucket_means_local_announced_once(capsys, tmp_path):
    first = get_storage()
    second = get_storage()
    assert isinstance(first, LocalStorage) and isinstance(second, LocalStorage)
    assert first.root == tmp_path / "drumscribe-home" / "local"
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"Using local storage at {first.root} (no S3 bucket configured)\n"


def test_bucket_without_credentials_falls_back_to_its_mirror(capsys, tmp_path):
    storage = get_storage(load_settings({"bucket": "drums-prod"}))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "drumscribe-home" / "drums-prod"  # what sync will push
    assert storage.bucket == "drums-prod"
    assert "no AWS credentials were found" in capsys.readouterr().err


def test_bucket_with_credentials_is_s3_and_says_nothing(aws_credentials, capsys):
    storage = get_storage(load_settings({"bucket": "drums-prod"}))
    assert isinstance(storage, S3Storage) and storage.bucket == "drums-prod"
    assert capsys.readouterr().err == ""


def test_prefer_local_wins(aws_credentials, capsys):
    storage = get_storage(load_settings({"bucket": "drums-prod"}), prefer_local=True)
    assert isinstance(storage, LocalStorage)
    assert "(--local)" in capsys.readouterr().err


def test_announce_false_is_silent(capsys):
    get_storage(announce=False)
    assert capsys.readouterr().err == ""


def test_public_names():
    import drumscribe
    import drumscribe.storage as storage_pkg

    for name in ("get_storage", "Storage", "ObjectInfo", "LocalStorage", "S3Storage"):
        assert hasattr(storage_pkg, name)
    assert drumscribe.get_storage is get_storage
    assert drumscribe.upload.__module__ == "drumscribe.storage.uploads"
    assert drumscribe.AsyncStorage.__module__ == "drumscribe.storage.aio"
