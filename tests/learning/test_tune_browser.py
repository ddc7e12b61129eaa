"""serve's page in Debian's Chromium: the "Tune on my corrections" button starts a tuning, follows
it and shows its table. Skipped cleanly without chromium or playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs the `serve` extra")
pytestmark = [pytest.mark.e2e]

CHROMIUM = os.environ.get("DRUMSCRIBE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def page_of(tmp_path):
    """``page_of(app)``: the app on a free loopback port under uvicorn, and a Chromium page on it."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    import uvicorn

    servers, playwrights = [], []

    def open_page(app):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.05)
        servers.append(server)
        p = sync_api.sync_playwright().start()
        playwrights.append(p)
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        return page

    yield open_page
    for p in playwrights:
        p.stop()
    for server in servers:
        server.should_exit = True


def test_the_button_tunes_and_shows_the_table(page_of, tmp_path):
    from drumscribe import keys
    from drumscribe.config import load_settings
    from drumscribe.jobs import profiles
    from drumscribe.learning.tune import TuneReport
    from drumscribe.service.app import create_app
    from drumscribe.storage import LocalStorage

    storage = LocalStorage(tmp_path / "mirror")
    for n in range(3):  # three corrected jobs, as far as the start's count goes
        storage.put(keys.edited_key("tester", f"20260101T00000{n}Z-0000000{n}"), b"{}")
    counts = {"tp": 9, "fp": 1, "fn": 1, "P": 0.9, "R": 0.9, "F": 0.9}
    report = TuneReport(user="tester", based_on="drumscribe-tcn 2.2.0", classes=["kick"], jobs=["a", "b", "c"], skipped={},
                        hits={"kick": 10}, audio_seconds=30.0, before={"kick": dict(counts, F=0.8)}, after={"thresholds": {"kick": counts}},
                        kinds=["thresholds"], chosen="thresholds", reasons={"thresholds": "mean F 0.800 -> 0.900"}, adopted=True,
                        profile_id="0123456789ab", replaced=None, created_at="2026-01-01T00:00:00Z")
    release = threading.Event()

    def fake_tune(**kwargs):
        kwargs["progress"]("reading job 1 of 3")
        release.wait(20)
        profiles.save(storage, profiles.Profile(id="0123456789ab", user="tester", kind="thresholds",
                                                based_on=profiles.identity(profiles.shipped_model()), base_sha256=profiles.shipped_sha256(),
                                                thresholds={"kick": 0.3}, offset=0.007, jobs=("a", "b", "c"),
                                                created_at="2026-01-01T00:00:00Z"))
        profiles.save_report(storage, "tester", report.to_dict())

    app = create_app(load_settings(), storage=storage)
    app.state.drumscribe_tune._tune = fake_tune
    page = page_of(app)
    page.wait_for_selector("#tune-section:not([hidden])")
    assert "no profile yet" in page.text_content("#tune-state")

    page.click("#tune-button")
    page.wait_for_function("document.getElementById('tune-state').textContent.includes('reading job 1 of 3')")
    assert page.is_disabled("#tune-button")
    release.set()
    page.wait_for_function("document.getElementById('tune-report').textContent.includes('Adopted profile 0123456789ab')",
                           timeout=15_000)
    assert "profile 0123456789ab in use" in page.text_content("#tune-state")
    assert "kick" in page.text_content("#tune-report") and not page.is_disabled("#tune-button")
