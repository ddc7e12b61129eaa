"""serve's `/api/tune`: start a tuning in the background, follow it, see the profile, remove it."""

from __future__ import annotations

import threading
import time
import warnings

import pytest

pytest.importorskip("fastapi", reason="the service needs the `serve` extra")
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")

from fastapi.testclient import TestClient  # noqa: E402

from drumscribe.config import load_settings  # noqa: E402
from tune_helpers import correct  # noqa: E402


@pytest.fixture
def client(storage):
    from drumscribe.service.app import create_app

    with TestClient(create_app(load_settings(), storage=storage)) as c:
        yield c


def _settle(client, seconds: float = 600.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.get("/api/tune").json()
        if status["state"] != "running":
            return status
        time.sleep(0.2)
    raise AssertionError("the tuning did not finish")


def test_tune_in_the_background_then_reset(client, storage, as_shipped, deaf_model, takes):
    as_shipped(deaf_model)
    idle = client.get("/api/tune").json()
    assert idle["state"] == "idle" and idle["profile"] is None and idle["lines"] == []

    refused = client.post("/api/tune")
    assert refused.status_code == 400 and "tester has 0: correct 3 more" in refused.json()["detail"]

    correct(storage, load_settings(), "tester", takes[:3])
    client.app.state.drumscribe_tune._tune = _without_fine_tuning
    started = client.post("/api/tune")
    assert started.status_code == 202 and started.json()["state"] in ("running", "done")
    done = _settle(client)
    assert done["state"] == "done" and done["error"] is None
    assert done["profile"]["kind"] in ("thresholds", "last_layer") and done["profile"]["jobs"] == 3
    assert done["report"]["adopted"] is True and done["report"]["profile_id"] == done["profile"]["id"]
    assert done["lines"][-1].startswith(f"Adopted profile {done['profile']['id']}")

    removed = client.delete("/api/tune")
    assert removed.status_code == 200 and removed.json()["profile"] is None


def test_one_tuning_per_user_at_a_time(client, storage, as_shipped, deaf_model, takes):
    as_shipped(deaf_model)
    correct(storage, load_settings(), "tester", takes[:3])
    release = threading.Event()

    def slow(**kwargs):
        kwargs["progress"]("reading job 1 of 3")
        release.wait(30)

    client.app.state.drumscribe_tune._tune = slow
    assert client.post("/api/tune").status_code == 202
    running = client.get("/api/tune").json()
    assert running["state"] == "running" and running["progress"] == "reading job 1 of 3"
    again = client.post("/api/tune")
    assert again.status_code == 409 and "already running" in again.json()["detail"]
    assert client.delete("/api/tune").status_code == 409
    release.set()
    assert _settle(client, 30)["state"] == "done"


def test_a_failed_tuning_says_why_in_one_line(client, storage, as_shipped, deaf_model, takes):
    from drumscribe.errors import InputError

    as_shipped(deaf_model)
    correct(storage, load_settings(), "tester", takes[:3])

    def broken(**kwargs):
        raise InputError("something\nwent wrong")

    client.app.state.drumscribe_tune._tune = broken
    client.post("/api/tune")
    failed = _settle(client, 30)
    assert failed["state"] == "failed" and failed["error"] == "something went wrong"


def test_the_api_and_the_page_offer_tuning(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/api/tune"]) == {"get", "post", "delete"}
    page = client.get("/").text
    assert 'id="tune-button"' in page and '<script src="/static/tune.js"></script>' in page
    script = client.get("/static/tune.js")
    assert script.status_code == 200 and 'fetch("/api/tune"' in script.text


def _without_fine_tuning(**kwargs):
    from drumscribe.learning.tune import tune

    return tune(fine_tune=False, **kwargs)


def test_the_server_tunes_for_one_user_at_a_time():
    """Each tuning holds its recordings' activations in memory: a second user's waits its turn (409)."""
    from drumscribe.service.tuning import Busy, TuneRunner

    class ThreeEditedJobsEach:
        def list(self, prefix):
            from drumscribe.storage import ObjectInfo

            return [ObjectInfo(key=f"{prefix}20260301T10000{n}Z-abcdef0{n}/edited.json", size=1) for n in range(3)]

    release = threading.Event()
    runner = TuneRunner(ThreeEditedJobsEach(), load_settings(), tune=lambda **kwargs: release.wait(30))
    runner.start("alice")
    with pytest.raises(Busy, match="the server is tuning for another user now; try again when that is done"):
        runner.start("bob")
    release.set()
    deadline = time.monotonic() + 30
    while runner.get("alice").state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.start("bob").user == "bob"
    release.set()
