"""`drumscribe serve`'s page in headless Chromium against Ceph RGW: a song chosen on the page goes
straight to RGW by presigned POST (RGW checks the policy and the CORS preflight), and is transcribed;
the MIDI comes back by a link RGW signs. The server runs with the app's own key."""

from __future__ import annotations

from pathlib import Path

import pytest
from rgw_song import song_bytes
from headless_chromium import FLAGS, chromium_or_skip
from service_helpers import free_port, serve_process

from drumscribe.provision import setup


def test_a_song_goes_from_the_page_straight_to_rgw_and_is_transcribed(rgw, rgw_bucket, app_user, monkeypatch, isolated_env, tmp_path):
    executable = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    pytest.importorskip("fastapi", reason="the service needs the `serve` extra")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    setup(bucket=rgw_bucket, origins=[origin], env_file=isolated_env / "owner-run.env")  # CORS for the page; the app's policy
    monkeypatch.setenv("AWS_S3_BUCKET", rgw_bucket)
    for name, value in app_user.env().items():
        monkeypatch.setenv(name, value)
    wav = tmp_path / "groove.wav"
    wav.write_bytes(song_bytes())

    with serve_process(tmp_path / "serve.log", port, start_timeout=120) as served, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        try:
            page = browser.new_page(accept_downloads=True)
            posts, errors = [], []
            page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(served)
            page.wait_for_selector("#main:not([hidden])")
            page.set_input_files("#file", str(wav))
            row = page.wait_for_selector("#jobs tr[data-state=done]", timeout=90_000)

            assert f"{rgw.endpoint}/{rgw_bucket}" in posts  # the audio went to RGW...
            assert f"{served}/api/uploads" in posts  # ...the app only handed out the ticket
            assert "groove.wav" in row.text_content()
            uploads = rgw.s3(app_user.key, app_user.secret).list_objects_v2(Bucket=rgw_bucket, Prefix="uploads/tester/")
            assert [o["Key"].endswith("_groove.wav") for o in uploads["Contents"]] == [True]

            with page.expect_download() as download:
                row.query_selector("a.download[data-kind=midi]").click()
            assert download.value.url.startswith(f"{rgw.endpoint}/{rgw_bucket}/processed/tester/")
            assert Path(download.value.path()).read_bytes().startswith(b"MThd")
            assert errors == []
        finally:
            browser.close()
