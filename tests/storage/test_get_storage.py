"""Choosing a backend: S3 when a bucket is named, the local mirror when none is (or --local).

A named bucket that cannot be used is an error, not a detour to a folder named after it."""

from __future__ import annotations

import pytest

from drumscribe.config import load_settings
from drumscribe.errors import MissingCredentialsError
from drumscribe.storage import LocalStorage, S3Storage, get_storage


def test_no_bucket_means_local_announced_once(capsys, tmp_path):
    first = get_storage()
    second = get_storage()
    assert isinstance(first, LocalStorage) and isinstance(second, LocalStorage)
    assert first.root == tmp_path / "drumscribe-home" / "local"
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"Using local storage at {first.root} (no S3 bucket configured)\n"


def test_a_named_bucket_without_credentials_is_an_error_that_says_what_to_do(capsys, tmp_path):
    with pytest.raises(MissingCredentialsError) as caught:
        get_storage(load_settings({"bucket": "drums-prod"}))
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("bucket 'drums-prod' is named (--bucket) but no AWS credentials were found")
    assert "AWS_ACCESS_KEY_ID" in str(caught.value) and "drumscribe --local" in str(caught.value)
    assert not (tmp_path / "drumscribe-home" / "drums-prod").exists()  # nothing went anywhere
    assert capsys.readouterr().err == ""


def test_the_error_names_where_the_bucket_came_from(isolated_env):
    (isolated_env / ".env").write_text("AWS_S3_BUCKET=drums-prod\n")
    with pytest.raises(MissingCredentialsError, match=r"named \(AWS_S3_BUCKET in \.env"):
        get_storage()


def test_local_with_a_named_bucket_is_its_mirror(capsys, tmp_path):
    storage = get_storage(load_settings({"bucket": "drums-prod"}), prefer_local=True)
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "drumscribe-home" / "drums-prod"  # what sync will push
    assert storage.bucket == "drums-prod"
    assert "(--local)" in capsys.readouterr().err


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
