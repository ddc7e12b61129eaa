"""`drumscribe show JOB --format ...` and `drumscribe view JOB`: the dispatch table, the files they
write and where a page finds the original, the MIDI and the JSON (local mirror and S3)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import boto3
import pytest
from typer.testing import CliRunner

import drumscribe
from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.errors import InputError
from drumscribe.keys import midi_key, transcription_key
from drumscribe.storage import get_storage
from drumscribe.views import VIEWS, render
from samples import JOB, groove, wav_bytes

runner = CliRunner()


def store(storage, t=None, audio: bytes | None = None):
    t = t or groove()
    storage.put(transcription_key("tester", JOB), t.to_json().encode())
    storage.put(midi_key("tester", JOB), t.to_midi())
    if audio is not None:
        storage.put(t.source.key, audio)
    return t


@pytest.fixture
def local():
    storage = get_storage(load_settings(), prefer_local=True, announce=False)
    store(storage, audio=wav_bytes(5.0))
    return storage


def page_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="drumscribe-data">(.*?)</script>', html, re.S).group(1))


def hrefs(html: str) -> dict[str, str]:
    return {label: url.replace("&amp;", "&") for url, label in re.findall(r'<a href="([^"]+)" download[^>]*>([^<]+)</a>', html)}


def test_every_format_in_the_table_renders_a_transcription():
    t = groove()
    for name in VIEWS:
        result = render(t, name, bars=(1, 1), job_id=JOB)  # options a view does not take are dropped
        assert isinstance(result, (str, bytes)) and len(result) > 100, name
    with pytest.raises(InputError, match="unknown format 'pdf'; valid formats: tab, json, midi, musicxml, html, png, svg"):
        render(t, "pdf")


def test_show_writes_each_format(local, tmp_path):
    expected = {"tab": b"job      " + JOB.encode(), "json": b"{", "midi": b"MThd", "html": b"<!DOCTYPE html>",
                "png": b"\x89PNG", "svg": b"<?xml"}
    for fmt, start in expected.items():
        target = tmp_path / "out" / f"result.{fmt}"
        result = runner.invoke(app, ["--local", "show", JOB, "--format", fmt, "-o", str(target)])
        assert result.exit_code == 0, result.output
        assert target.read_bytes().startswith(start), fmt


def test_images_go_to_stdout_when_it_is_a_pipe(local):
    result = runner.invoke(app, ["--local", "show", JOB, "-f", "svg", "--bars", "2-2"])
    assert result.exit_code == 0 and result.stdout_bytes.startswith(b"<?xml")


def test_bad_format_and_unknown_job_are_one_line_errors(local):
    misplaced = runner.invoke(app, ["--local", "show", JOB, "--format", "png", "--embed-audio"])
    assert misplaced.exit_code == 2 and misplaced.stderr.startswith("Error: --embed-audio is for --format html")
    bad = runner.invoke(app, ["--local", "show", JOB, "--format", "pdf"])
    assert bad.exit_code == 2
    assert bad.stderr == "Error: unknown format 'pdf'; valid formats: tab, json, midi, musicxml, html, png, svg\n"
    for args in (["show", "20261231T000000Z-ffffffff", "-f", "html"], ["view", "20261231T000000Z-ffffffff", "--no-open"]):
        missing = runner.invoke(app, ["--local", *args])
        *notes, error = missing.stderr.splitlines()  # the first command of a process may say where files go
        assert missing.exit_code != 0 and error.startswith("Error: no job") and all(n.startswith("Using local") for n in notes)


def test_html_page_links_the_local_mirror_relative_to_where_it_is_saved(local, tmp_path):
    page = tmp_path / "pages" / "groove.html"
    assert runner.invoke(app, ["--local", "show", JOB, "-f", "html", "-o", str(page)]).exit_code == 0
    html = page.read_text()
    audio = page_data(html)["audio"]
    assert not audio.startswith(("/", "file:")) and (page.parent / unquote(audio)).resolve().read_bytes()[:4] == b"RIFF"
    links = hrefs(html)
    assert (page.parent / unquote(links["MIDI"])).resolve().read_bytes()[:4] == b"MThd"
    assert json.loads((page.parent / unquote(links["JSON"])).resolve().read_text())["job_id"] == JOB


def test_embed_audio_puts_a_compressed_original_in_the_page(local, tmp_path):
    page = tmp_path / "page.html"
    assert runner.invoke(app, ["--local", "show", JOB, "-f", "html", "--embed-audio", "-o", str(page)]).exit_code == 0
    audio = page_data(page.read_text())["audio"]
    assert audio.startswith("data:audio/ogg;base64,") and len(audio) < len(wav_bytes(5.0)) / 4


def test_embed_audio_without_a_stored_original_says_so(local):
    t = groove().with_ids(source=groove().source.__class__(name="gone.wav", duration=5.0))
    store(local, t)
    result = runner.invoke(app, ["--local", "show", JOB, "-f", "html", "--embed-audio", "-o", "p.html"])
    assert result.exit_code == 2 and "original audio of job" in result.stderr and len(result.stderr.splitlines()) == 1
    html = drumscribe.job_page(JOB, storage=local)  # without --embed-audio the page just has no original
    assert page_data(html)["audio"] is None


def test_view_writes_the_page_and_opens_the_browser(local, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    quiet = runner.invoke(app, ["--local", "view", JOB, "--no-open"])
    assert quiet.exit_code == 0 and opened == []
    path = Path(quiet.stdout.strip())
    assert path.name == f"{JOB}.html" and path.read_text().startswith("<!DOCTYPE html>")
    assert runner.invoke(app, ["--local", "view", JOB]).exit_code == 0
    assert opened == [path.resolve().as_uri()]
    monkeypatch.setattr("webbrowser.open", lambda url: False)  # a server without a browser
    headless = runner.invoke(app, ["--local", "view", JOB])
    assert headless.exit_code == 0 and headless.stdout.strip() == str(path) and "No browser" in headless.stderr


def test_show_into_a_folder_names_the_file_after_the_song(local, tmp_path):
    folder = tmp_path / "songs"
    folder.mkdir()
    for fmt, name in (("midi", "groove.mid"), ("musicxml", "groove.musicxml"), ("png", "groove.png")):
        result = runner.invoke(app, ["--local", "show", JOB, "-f", fmt, "-o", str(folder)])
        assert result.exit_code == 0, result.output
        assert (folder / name).is_file() and f"Wrote {folder / name}" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["groove.mid", "groove.musicxml", "groove.png"]


def test_a_terminal_gets_no_midi_and_the_hint_names_the_song(local, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    from drumscribe.cli.jobs_cmd import _write_binary

    with pytest.raises(InputError, match=r"use -o groove\.mid \(or -o FOLDER\)"):
        _write_binary(b"MThd", None, "midi", suggested="groove.mid")
    with pytest.raises(InputError, match=r"use -o 'My Song\.mid'"):
        _write_binary(b"MThd", None, "midi", suggested="My Song.mid")


def test_the_local_page_names_its_downloads_after_the_song(local, tmp_path):
    page = tmp_path / "page.html"
    assert runner.invoke(app, ["--local", "show", JOB, "-f", "html", "-o", str(page)]).exit_code == 0
    assert re.findall(r'download="([^"]+)"[^>]*>(MIDI|JSON)</a>', page.read_text()) == [("groove.mid", "MIDI"), ("groove.json", "JSON")]


def test_on_s3_the_links_name_the_downloads_after_the_song(s3_mock, bucket_name, monkeypatch):
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    store(get_storage(load_settings(), announce=False))
    opened = runner.invoke(app, ["open", JOB])
    assert opened.exit_code == 0, opened.output
    links = dict(line.split("  ", 1) for line in opened.stdout.splitlines())
    disposition = {label: parse_qs(urlparse(url).query)["response-content-disposition"][0] for label, url in links.items()}
    assert disposition == {"midi": "attachment; filename=\"groove.mid\"; filename*=UTF-8''groove.mid",
                           "json": "attachment; filename=\"groove.json\"; filename*=UTF-8''groove.json"}
    html = drumscribe.job_page(JOB, storage=get_storage(load_settings(), announce=False))
    for label, url in hrefs(html).items():
        assert 'filename="groove.' in parse_qs(urlparse(url).query)["response-content-disposition"][0], label


def test_on_s3_the_page_uses_presigned_links(s3_mock, bucket_name, monkeypatch):
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    storage = get_storage(load_settings(), announce=False)
    store(storage, audio=wav_bytes(2.0))
    html = drumscribe.job_page(JOB, storage=storage, expires=600)
    for url in [page_data(html)["audio"], *hrefs(html).values()]:
        assert url.startswith("https://") and "X-Amz-Expires=600" in url and bucket_name in url
    assert "links valid until" in html
    embedded = drumscribe.job_page(JOB, storage=storage, embed_audio=True)
    assert page_data(embedded)["audio"].startswith("data:audio/ogg;base64,")


@pytest.mark.e2e
def test_page_of_an_s3_job_plays_the_original_through_its_presigned_url(moto_server, bucket_name, monkeypatch, tmp_path):
    """The real CLI against a moto S3 server on 127.0.0.1, and the page it writes in Chromium."""
    from headless_chromium import chromium_or_skip, open_page
    from storage_helpers import make_bucket

    chromium = chromium_or_skip()
    make_bucket(bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    store(get_storage(load_settings(), announce=False), audio=wav_bytes(4.0))
    page = tmp_path / "page.html"
    result = runner.invoke(app, ["show", JOB, "--format", "html", "--expires", "900", "-o", str(page)])
    assert result.exit_code == 0, result.output
    audio = page_data(page.read_text())["audio"]
    assert audio.startswith(moto_server) and "X-Amz-Expires=900" in audio
    with open_page(chromium, page) as opened:
        opened.page.click("#play")
        opened.wait_for("document.getElementById('original').currentTime > 0.3", timeout=10)
        assert opened.errors == []
        asked = list(dict.fromkeys(u.split("?")[0] for u in opened.requests))  # media may be fetched in ranges
        assert asked == [page.as_uri(), audio.split("?")[0]]
