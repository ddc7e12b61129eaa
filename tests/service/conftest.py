"""Fixtures for the service: a short synthesized song, API clients, and helpers that act like the page."""

from __future__ import annotations

import io
import warnings

import pytest

pytest.importorskip("fastapi", reason="the service needs the `serve` extra")

import soundfile as sf  # noqa: E402

# starlette announces a future switch of its test client's HTTP library; nothing to act on here
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
from fastapi.testclient import TestClient  # noqa: E402
from synth import SR, groove, render  # noqa: E402  (tests/transcription is on the path)


@pytest.fixture(scope="session")
def song() -> bytes:
    """Two bars of a rock beat at 120 BPM: a 5 s WAV."""
    buf = io.BytesIO()
    sf.write(buf, render(groove(2, bpm=120.0, start=0.5), 5.0, SR), SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture
def make_client():
    """``make_client(**create_app kwargs)`` -> a TestClient that is closed after the test."""
    from drumscribe.service.app import create_app

    clients = []

    def make(**kwargs) -> TestClient:
        client = TestClient(create_app(**kwargs))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    """No bucket, no token: the local mirror, acting as the configured user ``tester``."""
    return make_client()


