"""An endpoint with nothing listening is said quickly, naming it (issue 22.4: it took 9.5 s).

Throttling keeps its eight backed-off attempts; a refused or unanswered connection gets one retry.
"""

from __future__ import annotations

import socket
import time

import pytest

from drumscribe import aws
from drumscribe.config import load_settings
from drumscribe.errors import EndpointError
from drumscribe.storage.s3 import S3Storage


@pytest.fixture
def closed_port():
    with socket.socket() as s:  # a port the OS just handed out and nobody listens on any more
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_is_named_within_three_seconds(aws_credentials, closed_port):
    endpoint = f"http://127.0.0.1:{closed_port}"
    storage = S3Storage(load_settings({"bucket": "drums-somewhere", "endpoint_url": endpoint}))  # the default client config
    started = time.monotonic()
    with pytest.raises(EndpointError) as caught:
        list(storage.list())
    assert time.monotonic() - started < 3
    assert str(caught.value).startswith(f"cannot reach the S3 endpoint ({endpoint}/drums-somewhere")


def test_connection_errors_are_retried_once_not_like_throttling(aws_credentials, closed_port):
    client = aws.client(load_settings({"endpoint_url": f"http://127.0.0.1:{closed_port}"}), "s3")
    sent = []
    client.meta.events.register("before-send", lambda **kwargs: sent.append(1))
    with pytest.raises(Exception) as caught:
        client.head_bucket(Bucket="drums-somewhere")
    assert isinstance(caught.value, aws.UNREACHABLE)
    assert len(sent) == aws.CONNECT_ATTEMPTS == 2
    assert client.meta.config.retries["total_max_attempts"] == 9  # throttling still backs off: 1 try + 8 retries
