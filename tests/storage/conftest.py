"""Fixtures for the storage tests: one backend of each kind, and the same suite over both."""

from __future__ import annotations

import pytest

from drumscribe.config import load_settings
from drumscribe.storage import LocalStorage, S3Storage

from storage_helpers import SMALL_PARTS, make_bucket


@pytest.fixture(autouse=True)
def fresh_announcement(monkeypatch):
    """get_storage announces the local fallback once per process; each test is a new 'process'."""
    import drumscribe.storage as storage_pkg

    monkeypatch.setattr(storage_pkg, "_announced", False)


@pytest.fixture
def s3_storage(s3_mock, bucket_name):
    make_bucket(bucket_name)
    return S3Storage(load_settings({"bucket": bucket_name}), **SMALL_PARTS)


@pytest.fixture
def local_storage(tmp_path):
    return LocalStorage(tmp_path / "mirror", bucket="mirror")


@pytest.fixture(params=["local", "s3"])
def storage(request):
    """Each behaviour test runs once per backend: the local mirror must act like S3."""
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture
def enforce_moto_auth(monkeypatch):
    """Make moto check credentials and IAM policies (it accepts anything by default).

    Works for in-process ``mock_aws`` and the threaded moto server alike: both read this setting.
    """
    from moto import settings as moto_settings
    from moto.core.authorization import ActionAuthenticatorMixin

    def enable():
        monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
        monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)

    return enable

