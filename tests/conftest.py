"""Shared fixtures.

Every test runs isolated from the developer's machine: no AWS variables, no ~/.aws files, no
instance-metadata lookups, a fresh DRUMSCRIBE_HOME and working directory under tmp_path.

S3 comes from moto: ``mock_aws`` in-process for unit tests (``s3_mock``), and a real moto HTTP
server on 127.0.0.1 (``moto_server``) for end-to-end tests that drive the CLI.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "mdb-dev"

FAKE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AWS_", "DRUMSCRIBE_", "DASK_")):  # DASK_SCHEDULER_ADDRESS sends transcribe to a cluster
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "drumscribe-home"
    monkeypatch.setenv("DRUMSCRIBE_HOME", str(home))
    monkeypatch.setenv("DRUMSCRIBE_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("DRUMSCRIBE_USER", "tester")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never wait on an instance-metadata lookup
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def aws_credentials(monkeypatch):
    """Fake static credentials and a region (for moto)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3_mock(aws_credentials):
    """In-process moto for every AWS service (S3, IAM, STS)."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def bucket_name():
    return f"drumscribe-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def _moto_server_url():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_server(_moto_server_url, aws_credentials, monkeypatch):
    """URL of a real moto HTTP server on 127.0.0.1, reset before each test, set as AWS_ENDPOINT_URL."""
    request = urllib.request.Request(f"{_moto_server_url}/moto-api/reset", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_server_url)
    return _moto_server_url




@pytest.fixture
def mdb_dev():
    """The real development recordings; tests that need them skip cleanly when absent."""
    if not (SHARED_DATA / "audio").is_dir():
        pytest.skip(f"development data not found at {SHARED_DATA}")
    return SHARED_DATA


def read_json(path: Path):
    return json.loads(Path(path).read_text())
