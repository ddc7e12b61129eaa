"""A real S3 server for the tests that moto cannot prove: Debian's Ceph RADOS Gateway, started once
per session by ``rgw_server.py`` on a free loopback port, stopped (and its folder removed) at the end.

Tests here are marked ``rgw``. Where Ceph is not installed or cannot start, each of them is skipped
with the reason (what to install, or what the daemons said), and the rest of the suite runs as
usual: ``DRUMSCRIBE_RGW=0`` skips them on purpose. ``rgw`` sets the admin's (bucket owner's)
credentials and the endpoint in the environment; ``app_user`` makes the app's user the way Ceph
makes users (radosgw-admin), because RGW has no IAM CreateUser.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from rgw_server import ADMIN_KEY, ADMIN_SECRET, REGION, RGW, RGWUnavailable  # tests/rgw is on pytest's pythonpath

APP_USER = "drum-transcription-app"


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.rgw)
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def rgw_server():
    """The session's one Ceph RGW (about 13 s to start on 2 cores); skips with the reason when it cannot start."""
    if os.environ.get("DRUMSCRIBE_RGW", "1") == "0":
        pytest.skip("Ceph RGW tests turned off (DRUMSCRIBE_RGW=0)")
    # a short path of its own: the daemons' unix sockets live under it (108 bytes at most)
    server = RGW(Path(tempfile.mkdtemp(prefix="ds-rgw-")), tie_to_parent=True)
    try:
        server.start()
    except RGWUnavailable as exc:
        server.stop()
        pytest.skip(f"Ceph RGW cannot start here: {exc}")
    yield server
    server.stop()


def client(endpoint: str, service: str, key: str = ADMIN_KEY, secret: str = ADMIN_SECRET):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(signature_version="s3v4", retries={"max_attempts": 1, "mode": "standard"}))


@dataclass
class Server:
    rgw: RGW
    endpoint: str

    def s3(self, key: str = ADMIN_KEY, secret: str = ADMIN_SECRET):
        return client(self.endpoint, "s3", key, secret)

    def iam(self, key: str = ADMIN_KEY, secret: str = ADMIN_SECRET):
        return client(self.endpoint, "iam", key, secret)


@pytest.fixture
def rgw(rgw_server, monkeypatch):
    """The server, with the bucket owner's credentials and the endpoint set as a user would set them."""
    for name, value in rgw_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return Server(rgw_server, rgw_server.endpoint)


@dataclass
class AppKey:
    key: str
    secret: str

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret}


_APP_KEY = AppKey("DSAPP" + secrets.token_hex(8).upper(), secrets.token_hex(20))


@pytest.fixture
def app_user(rgw_server) -> AppKey:
    """The app's user, made with radosgw-admin as on a real Ceph (it may not create buckets), and its key."""
    if not rgw_server.has_user(APP_USER):
        rgw_server.create_user(APP_USER, access_key=_APP_KEY.key, secret_key=_APP_KEY.secret)
    return _APP_KEY


@pytest.fixture
def no_app_user(rgw_server) -> None:
    """A server where the app's user was never made (as after a first `setup`)."""
    if rgw_server.has_user(APP_USER):
        rgw_server.remove_user(APP_USER)


@pytest.fixture
def rgw_bucket():
    """A fresh bucket name per test (the server lives for the whole session)."""
    return f"ds-rgw-{secrets.token_hex(5)}"
