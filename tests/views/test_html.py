"""The HTML page: one self-contained file that draws the grid and plays in a real headless Chromium."""

from __future__ import annotations

import io
import re

import pytest
import soundfile as sf

from drumscribe import render_html
from drumscribe.errors import InputError
from drumscribe.views.embed import embeddable_audio
from drumscribe.views.html import safe_url
from headless_chromium import chromium_or_skip, open_page
from samples import HOSTILE_NAME, groove, hostile, wav_bytes


def test_the_page_is_one_file_that_asks_the_network_for_nothing():
    page = render_html(groove())
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "://" not in page  # no CDN, no font, no analytics: nothing to fetch
    assert not re.search(r"<(link|iframe|img|object|embed)\b", page)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp  # only our own hashed script and style run


def test_job_strings_are_escaped_everywhere():
    page = render_html(hostile(), links={"MIDI": "javascript:window.pwned=5", "JSON": "t.json"})
    assert "<script>window.pwned" not in page and "<img" not in page
    assert "javascript:" not in page  # an unsafe link is dropped, not escaped into a clickable href
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page  # the name is shown, as text
    assert page.count("<script") == 2  # the JSON data block and our script, nothing else


def test_a_tab_given_to_the_page_is_shown_as_text_under_the_summary():
    page = render_html(groove(), tab="BD  |O---o---|\n<script>window.pwned=2</script>")
    assert page.index('id="summary"') < page.index('<section id="tab"') < page.index('id="drumscribe-data"')
    assert "BD  |O---o---|\n&lt;script&gt;window.pwned=2&lt;/script&gt;</pre>" in page
    assert page.count("<script") == 2
    assert '<section id="tab"' not in render_html(groove())  # only when asked for


def test_links_open_a_new_tab_so_the_page_stays_and_save_under_the_songs_name():
    page = render_html(groove(), links={"MIDI": "output.mid"})
    assert '<a href="output.mid" download="groove.mid" target="_blank" rel="noopener">MIDI</a>' in page
    named = render_html(groove(), links={"MIDI": "output.mid"}, download_names={"MIDI": 'a "b".mid'})
    assert '<a href="output.mid" download="a &quot;b&quot;.mid" target="_blank" rel="noopener">MIDI</a>' in named


def test_safe_url_keeps_links_a_page_may_hold():
    for url in ("output.mid", "../mirror/a%20b.wav", "file:///x/y.wav", "https://b.s3.amazonaws.com/k?X-Amz-Signature=1",
                "data:audio/ogg;base64,AAAA"):
        assert safe_url(url) == url
    for url in ("javascript:alert(1)", " JavaScript:alert(1)", "vbscript:x", None, ""):
        assert safe_url(url) is None


def test_audio_as_url_or_as_bytes_not_both():
    with pytest.raises(InputError, match="not both"):
        render_html(groove(), audio_url="a.wav", audio=b"x")


def test_embedding_compresses_uncompressed_audio_and_keeps_compressed_audio():
    wav = wav_bytes(3.0)
    data, mime = embeddable_audio(wav, "take.wav")
    assert mime == "audio/ogg" and data[:4] == b"OggS" and len(data) < len(wav) / 5
    assert sf.info(io.BytesIO(data)).duration == pytest.approx(3.0, abs=0.01)
    assert embeddable_audio(data, "take.ogg") == (data, "audio/ogg")  # browsers play it as it is


def test_embedding_refuses_what_is_too_large_or_not_audio(monkeypatch):
    with pytest.raises(InputError, match="not audio"):
        embeddable_audio(b"<html>not audio</html>", "x.wav")
    monkeypatch.setattr("drumscribe.views.embed.MAX_EMBED_BYTES", 1000)
    with pytest.raises(InputError, match="too long to embed .*leave out --embed-audio"):
        embeddable_audio(wav_bytes(3.0), "long.wav")


# ---- in a real browser ----------------------------------------------------------------------------


@pytest.fixture
def chromium():
    return chromium_or_skip()


def test_page_draws_the_grid_and_plays_in_chromium(chromium, tmp_path):
    t = groove()
    path = tmp_path / "page.html"
    path.write_text(render_html(t, links={"MIDI": "output.mid", "JSON": "transcription.json"}))
    with open_page(chromium, path) as opened:
        page = opened.page
        assert page.locator(".hit").count() == len(t.events)
        # the drums played get full lanes; every other drum of the kit a low one (where a missed hit is added)
        assert page.locator("#labels > div:not(.empty) > span:not(.swatch)").all_inner_texts() == [
            "Crash", "Hi-hat closed", "High tom", "Low tom", "Snare", "Kick"]
        assert page.locator(".lane").evaluate_all("lanes => lanes.map((l) => l.dataset.lane)") == [
            "crash", "ride", "hihat_open", "hihat_closed", "tom_high", "tom_mid", "tom_low", "snare", "side_stick", "kick", "hihat_pedal"]
        assert page.locator(".barno").all_inner_texts() == ["1", "2", "3"]
        assert page.locator("#orig-on").is_disabled()  # no original given: the drum track plays alone

        width = page.locator("#canvas").bounding_box()["width"]
        page.click("#zoom-in")
        assert page.locator("#canvas").bounding_box()["width"] == pytest.approx(width * 1.5, rel=0.05)

        page.click("#play")
        opened.wait_for("parseFloat(document.getElementById('clock').textContent.split(':')[1]) > 0.3")
        assert page.evaluate("document.body.dataset.state") == "playing"
        page.click("#play")
        assert page.evaluate("document.body.dataset.state") == "paused"

        fill = next(i for i, e in enumerate(sorted(t.events, key=lambda e: e.time)) if e.instrument == "tom_low")
        page.click(f'.hit[data-index="{fill}"]')  # click a hit to hear it
        assert page.inner_text("#status").startswith("Low tom at 0:04.25, velocity 100")
        assert page.locator(".hit.lit").count() == 1
        png = opened.screenshot(full_page=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        assert opened.errors == []
        assert opened.requests == [path.as_uri()]  # the page itself and nothing else


def test_embedded_original_plays_under_the_synth_drums(chromium, tmp_path):
    data, mime = embeddable_audio(wav_bytes(5.0), "take.wav")
    path = tmp_path / "page.html"
    path.write_text(render_html(groove(), audio=data, audio_type=mime))
    with open_page(chromium, path) as opened:
        page = opened.page
        assert page.locator("#orig-on").is_checked()
        page.fill("#synth-level", "0.3")
        page.click("#play")
        opened.wait_for("document.getElementById('original').currentTime > 0.3", timeout=10)
        assert page.evaluate("document.body.dataset.state") == "playing"
        assert page.evaluate("document.getElementById('original').volume") == 1.0
        assert opened.errors == []
        assert set(u for u in opened.requests if not u.startswith("data:")) == {path.as_uri()}


def test_a_transcription_without_hits_still_opens(chromium, tmp_path):
    path = tmp_path / "page.html"
    path.write_text(render_html(groove().with_ids(events=())))
    with open_page(chromium, path) as opened:
        assert opened.page.locator(".hit").count() == 0 and opened.page.locator(".barno").count() == 3
        opened.page.click("#play")
        assert opened.errors == []


def test_hostile_names_stay_text_in_chromium(chromium, tmp_path):
    t = hostile()
    path = tmp_path / "page.html"
    path.write_text(render_html(t, links={"MIDI": "javascript:window.pwned=5"}))
    with open_page(chromium, path) as opened:
        page = opened.page
        assert page.evaluate("window.pwned") is None
        assert page.inner_text("h1") == HOSTILE_NAME
        assert page.locator(".hit").count() == len(t.events)
        assert opened.errors == []
