"""A real browser against ``drumscribe serve`` and a moto server: choose a WAV on the page, watch
the upload go to the bucket (not the app), see the job finish, download its MIDI by presigned link.

Headless Debian chromium driven by playwright's Python package (no browser download); skipped
cleanly when chromium is not installed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from service_helpers import ALICE, bearer, free_port, serve_process

from drumscribe.provision import setup

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = os.environ.get("DRUMSCRIBE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def chromium():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium not found at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def served(moto_server, bucket_name, monkeypatch, tmp_path):
    """``drumscribe serve`` as a process on 127.0.0.1, on a bucket whose CORS allows its page."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    setup(bucket=bucket_name, steps=["bucket", "encryption", "cors"], origins=[origin])
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    with serve_process(tmp_path / "serve.log", port) as served_origin:
        yield served_origin


def check_result_page(page, origin: str, row, *, links_from: str, token: str | None = None) -> None:
    """Open a done job's result page from its row and use it as a listener would: the grid has a
    hit per event, the original plays (from ``links_from``) under the synthesized drums, the MIDI
    downloads; the page runs sandboxed with no script errors and no access to the app's storage."""
    job_id = row.get_attribute("data-job-id")
    request = urllib.request.Request(f"{origin}/api/jobs/{job_id}", headers=bearer(token) if token else {})
    counts = json.load(urllib.request.urlopen(request, timeout=10))["result"]["counts"]
    errors = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text} {m.location}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    row.query_selector("a[href^='/jobs/']").click()
    page.wait_for_selector("#result:not([hidden])")
    frame = page.frame_locator("#result-frame")
    frame.locator("body[data-state=ready]").wait_for(timeout=10_000)
    assert frame.locator(".hit").count() == sum(counts.values())  # one grid hit per event
    assert "groove.wav" in frame.locator("h1").text_content() and "BPM" in frame.locator("#summary").text_content()
    assert "BD  |" in frame.locator("#tab pre").text_content()
    inside = page.query_selector("#result-frame").content_frame()
    links = inside.evaluate("Object.fromEntries([...document.links].map((a) => [a.textContent, a.href]))")
    assert set(links) == {"MIDI", "JSON"} and all(url.startswith(links_from) for url in links.values())
    assert inside.evaluate("origin") == "null"  # an opaque origin: sandboxed scripts, not the app's
    assert inside.evaluate("(() => { try { return localStorage.length; } catch (e) { return e.name; } })()") == "SecurityError"
    assert inside.evaluate("document.getElementById('original').src").startswith(links_from.replace("/api/files?", "/api/files"))
    frame.locator("#play").click()
    deadline = time.monotonic() + 15
    while inside.evaluate("document.getElementById('original').currentTime") < 0.3:  # the original plays...
        assert time.monotonic() < deadline, frame.locator("#status").text_content()
        page.wait_for_timeout(50)
    assert inside.evaluate("document.body.dataset.state") == "playing"  # ...with the synthesized drums over it
    assert frame.locator("#orig-on").is_checked()
    frame.locator("#play").click()

    with page.expect_download() as download:  # a link opens a new tab, outside the sandbox, that downloads
        frame.locator("a", has_text="MIDI").click()
    assert Path(download.value.path()).read_bytes().startswith(b"MThd")
    if "/api/files?" in links_from:  # the app's own link names the file (moto leaves out S3's Content-Disposition)
        assert download.value.suggested_filename == "groove.mid"
    assert errors == []


def test_a_dropped_song_goes_to_the_bucket_and_its_midi_comes_back(chromium, served, moto_server, bucket_name, song, tmp_path):
    wav = tmp_path / "groove.wav"
    wav.write_bytes(song)
    page = chromium.new_page(accept_downloads=True)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(served)
    page.wait_for_selector("#main:not([hidden])")
    assert f"S3 bucket {bucket_name}" in page.text_content("#who")

    page.set_input_files("#file", str(wav))
    row = page.wait_for_selector("#jobs tr[data-state=done]", timeout=30_000)

    assert f"{moto_server}/{bucket_name}" in posts  # the audio went to the bucket...
    assert not [u for u in posts if u.startswith(served) and "/uploads" in u and not u.endswith("/api/uploads")]
    assert [u for u in posts if u == f"{served}/api/uploads"]  # ...the app only handed out the ticket
    assert "groove.wav" in row.text_content()

    assert row.query_selector("a.download[data-kind=midi]").get_attribute("download") == "groove.mid"
    with page.expect_download() as download:
        row.query_selector("a.download[data-kind=midi]").click()
    assert download.value.url.startswith(f"{moto_server}/{bucket_name}/processed/tester/")
    assert "response-content-disposition=" in download.value.url  # S3 answers with the song's name
    assert Path(download.value.path()).read_bytes().startswith(b"MThd")

    # dropping a file on the zone does the same as choosing it
    dropped = page.evaluate_handle(
        """(b64) => { const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                     const dt = new DataTransfer(); dt.items.add(new File([bytes], "dropped.wav", {type: "audio/wav"}));
                     return dt; }""", base64.b64encode(song).decode("ascii"))
    page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
    page.wait_for_function("document.querySelectorAll('#jobs tr[data-state=done]').length == 2", timeout=30_000)
    assert "dropped.wav" in page.text_content("#jobs")

    # the job's own result page, without a reload of the list: grid, playback, summary, downloads
    check_result_page(page, served, row, links_from=f"{moto_server}/{bucket_name}/")


def test_with_a_token_and_no_bucket_the_page_asks_for_it_and_uploads_to_the_app(chromium, monkeypatch, song, tmp_path):
    monkeypatch.setenv("DRUMSCRIBE_API_TOKEN", ALICE)
    wav = tmp_path / "groove.wav"
    wav.write_bytes(song)
    with serve_process(tmp_path / "serve.log", free_port()) as origin:
        page = chromium.new_page(accept_downloads=True)
        posts = []
        page.on("request", lambda r: posts.append((r.url, r.headers.get("authorization"))) if r.method == "POST" else None)
        page.goto(origin)
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#token", ALICE)
        page.click("#token-form button")
        page.wait_for_selector("#main:not([hidden])")
        assert "local storage" in page.text_content("#who")

        page.set_input_files("#file", str(wav))
        row = page.wait_for_selector("#jobs tr[data-state=done]", timeout=30_000)
        # no bucket: the form went to the app's own upload endpoint, with the token
        assert (f"{origin}/api/uploads/local", f"Bearer {ALICE}") in posts
        with page.expect_download() as download:
            row.query_selector("a.download[data-kind=midi]").click()
        assert Path(download.value.path()).read_bytes().startswith(b"MThd")
        assert download.value.suggested_filename == "groove.mid"  # after the song, not output.mid
        check_result_page(page, origin, row, links_from=f"{origin}/api/files?", token=ALICE)


def test_the_page_takes_a_wav_over_the_limit_as_the_cli_does(chromium, monkeypatch, song, tmp_path):
    """The CLI stores a WAV as a lossless FLAC and checks that against the limit; so does the page now.
    A file too big even to send is refused on the page, naming it once."""
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "0.25")  # the 441 KB song is over it, its 145 KB FLAC is not
    take = tmp_path / "t1.wav"
    take.write_bytes(song)
    huge = tmp_path / "t2.wav"
    huge.write_bytes(song + song)  # 0.84 MB: over the 0.75 MB a WAV may send
    with serve_process(tmp_path / "serve.log", free_port()) as origin:
        page = chromium.new_page()
        page.goto(origin)
        page.wait_for_selector("#main:not([hidden])")
        assert "up to 0.25 MB as stored" in page.text_content("#limits") and "0.75 MB of WAV" in page.text_content("#limits")
        page.set_input_files("#file", str(take))
        row = page.wait_for_selector("#jobs tr[data-state=done]", timeout=30_000)
        assert "t1.wav" in row.text_content()
        page.set_input_files("#file", str(huge))
        error = page.wait_for_selector("#uploads .error-line").text_content()
        assert error == "t2.wav: 0.84 MB, over the 0.25 MB upload limit even as a lossless FLAC (at most 0.75 MB of WAV may be sent)"
