"""Pages opened in a real headless Chromium, for tests: the system's ``chromium`` (Debian's package;
CI installs it), driven over the DevTools protocol by Playwright's Python client. Playwright never
downloads a browser here: it launches the executable we name.

Every page records what a user would not see but a test must: console errors, uncaught exceptions
and every request it made. Reusable by any test that serves or writes a page::

    from headless_chromium import chromium_or_skip, open_page

    def test_my_page(tmp_path):
        with open_page(chromium_or_skip(), tmp_path / "page.html") as page:
            page.page.click("#play")
            assert page.errors == []

Tests skip (cleanly, with the reason) only when no Chromium binary is installed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# no sandbox: CI containers run as root; nothing phones home or updates itself during a test
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio"]


def find_chromium() -> str | None:
    """The Chromium executable: $CHROMIUM, else the first of CANDIDATES on PATH, else None."""
    configured = os.environ.get("CHROMIUM")
    if configured and Path(configured).exists():
        return configured
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_or_skip() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    return path


@dataclass
class OpenedPage:
    page: Any  # playwright.sync_api.Page
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    requests: list[str] = field(default_factory=list)  # every URL the page asked for

    def wait_for(self, expression: str, timeout: float = 5.0) -> Any:
        """Poll ``expression`` until it is truthy (its value) or ``timeout`` s pass (AssertionError).

        Polled from Python, because Playwright's own wait_for_function evaluates strings, which a
        page with a strict Content-Security-Policy (no 'unsafe-eval') refuses."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.page.evaluate(expression)
            if value or time.monotonic() > deadline:
                assert value, f"still false after {timeout} s: {expression}"
                return value
            self.page.wait_for_timeout(50)

    def screenshot(self, path: Path | None = None, **options: Any) -> bytes:
        return self.page.screenshot(path=str(path) if path else None, **options)


@contextmanager
def open_page(executable: str, target: Path | str, *, width: int = 1280, height: int = 720) -> Iterator[OpenedPage]:
    """Open ``target`` (a file path or URL) in a fresh headless Chromium; closed on exit."""
    from playwright.sync_api import sync_playwright

    url = Path(target).resolve().as_uri() if isinstance(target, Path) else target
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=FLAGS, viewport={"width": width, "height": height}
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            opened = OpenedPage(page)
            page.on("console", lambda m: opened.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda exc: opened.errors.append(f"uncaught: {exc}"))
            page.on("request", lambda request: opened.requests.append(request.url))
            page.goto(url, wait_until="load")
            yield opened
        finally:
            context.close()
