"""Fixtures for the provisioning tests."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from drumscribe.cli import app
from moto_shims import answer_request_metrics


@pytest.fixture
def request_metrics(monkeypatch):
    """moto has no S3 request-metrics API (it would even take DELETE ?metrics for DeleteBucket):
    the three calls are answered from a dict by a hook on the clients drumscribe creates."""
    return answer_request_metrics(monkeypatch)


@pytest.fixture
def cli(monkeypatch):
    """``cli("setup", ...)``: the CLI in-process, its tables wide enough not to wrap."""
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells at 80 columns otherwise

    def invoke(*args: str):
        return CliRunner().invoke(app, list(args), catch_exceptions=False)

    return invoke
