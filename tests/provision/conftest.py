"""Fixtures for the provisioning tests."""

from __future__ import annotations

import pytest

from moto_shims import answer_request_metrics


@pytest.fixture
def request_metrics(monkeypatch):
    """moto has no S3 request-metrics API (it would even take DELETE ?metrics for DeleteBucket):
    the three calls are answered from a dict by a hook on the clients drumscribe creates."""
    return answer_request_metrics(monkeypatch)
