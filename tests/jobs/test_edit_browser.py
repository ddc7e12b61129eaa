"""The editor in a real browser (Debian's Chromium, driven by Playwright): add a hit, delete one, move one
to another lane, undo, save; the edited MIDI, MusicXML and tab show exactly those changes, and a save
from a page that has gone stale is refused. Through `drumscribe edit` and through serve's result page,
on the local mirror and on S3 (a moto server)."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import replace

import pytest

from drumscribe.config import load_settings
from drumscribe.jobs.edits import load_edited, save_edited
from drumscribe.keys import edited_key, transcription_key
from drumscribe.storage import get_storage
from drumscribe.transcription.result import DrumEvent
from drumscribe.views.musicxml import render_musicxml
from drumscribe.views.tab import render_tab
from headless_chromium import chromium_or_skip, open_page
from samples import wav_bytes
from test_edit_cli import EditProcess, notes
from test_edits import JOB, model_transcription

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
pytest.importorskip("playwright.sync_api")


def expected_edit():
    """What the page does below, done by hand: a floor tom at 1.75 s, the first hat gone, the last kick a crash."""
    model = model_transcription()
    events = [e for e in model.events if (e.time, e.instrument) != (0.5, "hihat_closed")]
    events = [DrumEvent(3.5, "crash", 49, 100, 0.9) if (e.time, e.instrument) == (3.5, "kick") else e for e in events]
    events.append(DrumEvent(1.75, "tom_low", 43, 100, 1.0))
    return replace(model, events=tuple(sorted(events, key=lambda e: (e.time, e.instrument))))


@pytest.fixture(params=["edit-local", "edit-s3", "serve-local", "serve-s3"])
def editor_page(request, tmp_path, monkeypatch, bucket_name):
    """(page, the frame the editor runs in, storage, how the page was opened) with the job stored."""
    how, backend = request.param.split("-")
    if how == "serve":
        pytest.importorskip("fastapi", reason="serve needs the `serve` extra")
    if backend == "s3":
        request.getfixturevalue("moto_server")
        from drumscribe.provision import setup

        setup(bucket=bucket_name, steps=["bucket", "encryption"])
        monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    storage = get_storage(load_settings(), announce=False)
    model = model_transcription()
    storage.put(transcription_key("tester", JOB), model.to_json().encode())
    storage.put(model.source.key, wav_bytes(5.0))
    chromium = chromium_or_skip()
    if how == "edit":
        editor = EditProcess()
        try:
            with open_page(chromium, editor.url) as opened:
                yield opened, opened.page.main_frame, storage, editor
        finally:
            if editor.proc.poll() is None:
                editor.proc.kill()
        return
    from service_helpers import free_port, serve_process

    with serve_process(tmp_path / "serve.log", free_port()) as origin, open_page(chromium, f"{origin}/jobs/{JOB}") as opened:
        opened.page.wait_for_selector("#result:not([hidden])")
        frame = opened.page.frame_locator("#result-frame")
        frame.locator("body[data-state=ready]").wait_for(timeout=10_000)
        yield opened, opened.page.query_selector("#result-frame").content_frame(), storage, None


def center(frame, selector):
    box = frame.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def wait_for(opened, frame, expression, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while not frame.evaluate(expression):
        assert time.monotonic() < deadline, expression + ": " + frame.evaluate("document.getElementById('status').textContent")
        opened.page.wait_for_timeout(50)


def test_edit_in_the_browser_save_and_every_export_shows_exactly_that(editor_page, cli, tmp_path):
    opened, frame, storage, editor = editor_page
    page = opened.page
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.accept()))
    assert frame.locator(".hit").count() == len(model_transcription().events)
    assert frame.evaluate("document.body.dataset.dirty") == "false"

    # add: double-click the (empty) floor-tom lane a little before 1.75 s: snapped to the 16th
    (x0, _), (x1, _) = center(frame, '.hit[data-lane="kick"][data-time="0.5"]'), center(frame, '.hit[data-lane="kick"][data-time="1.5"]')
    _, lane_y = center(frame, '.lane[data-lane="tom_low"]')
    page.mouse.dblclick(x0 + (1.74 - 0.5) * (x1 - x0), lane_y)
    frame.locator('.hit[data-lane="tom_low"][data-time="1.75"]').wait_for()
    assert frame.evaluate("document.body.dataset.dirty") == "true" and "Unsaved changes" in frame.locator("#edit-state").text_content()

    # delete: click the first hat (it plays, and is selected), Delete
    frame.locator('.hit[data-lane="hihat_closed"][data-time="0.5"]').click()
    page.keyboard.press("Delete")
    assert frame.locator('.hit[data-lane="hihat_closed"][data-time="0.5"]').count() == 0

    # move to another lane: drag the last kick up to the crash lane
    x, y = center(frame, '.hit[data-lane="kick"][data-time="3.5"]')
    _, crash_y = center(frame, '.lane[data-lane="crash"]')
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, crash_y, steps=6)
    page.mouse.up()
    frame.locator('.hit[data-lane="crash"][data-time="3.5"]').wait_for()
    assert frame.locator('.hit[data-lane="kick"][data-time="3.5"]').count() == 0

    # undo: remove a snare, then take it back (keyboard only: [ ] walk the hits, Ctrl+Z undoes)
    frame.locator('.hit[data-lane="snare"][data-time="2"]').click()
    page.keyboard.press("Delete")
    assert frame.locator('.hit[data-lane="snare"][data-time="2"]').count() == 0
    page.keyboard.press("Control+z")
    frame.locator('.hit[data-lane="snare"][data-time="2"]').wait_for()

    # save
    page.keyboard.press("Control+s")
    wait_for(opened, frame, "document.body.dataset.dirty === 'false' && document.body.dataset.saving === 'false'")
    assert frame.locator("#edit-state").text_content() == "Saved"
    assert "Showing the edited revision (1 added, 1 removed, 1 relabelled)" in frame.locator("#revision-note").text_content()
    edited = load_edited(JOB, storage=storage)
    assert dict(edited.summary) == {"added": 1, "removed": 1, "moved": 0, "relabelled": 1} and edited.via == "editor"
    want = expected_edit()
    assert [(e.time, e.instrument, e.velocity) for e in edited.transcription.events] == [
        (e.time, e.instrument, e.velocity) for e in want.events]

    # every export shows exactly those changes
    midi = tmp_path / "edited.mid"
    shown = cli("show", JOB, "-f", "midi", "-o", midi)
    assert shown.exit_code == 0 and "edited revision (1 added, 1 removed, 1 relabelled)" in shown.stderr
    assert notes(midi.read_bytes()) == notes(want.to_midi())
    assert Counter(notes(midi.read_bytes())) - Counter(notes(model_transcription().to_midi())) == Counter({(1.75, 43): 1, (3.5, 49): 1})
    xml = tmp_path / "edited.musicxml"
    assert cli("show", JOB, "-f", "musicxml", "-o", xml).exit_code == 0
    from test_musicxml import read_back

    assert read_back(xml.read_text())[0] == read_back(render_musicxml(want))[0] != read_back(render_musicxml(model_transcription()))[0]
    tab = cli("show", JOB).stdout
    assert render_tab(want) in tab and render_tab(model_transcription()) not in tab

    # a stale save: another page saves meanwhile; this one's next save is refused, and nothing is lost
    other = save_edited(JOB, want.events[:-1], parent_revision=edited.revision, storage=storage)
    frame.locator('.hit[data-lane="snare"][data-time="2"]').click()
    page.keyboard.press("ArrowRight")  # nudge it 10 ms
    assert frame.locator('.hit[data-lane="snare"][data-time="2.01"]').count() == 1
    page.keyboard.press("Control+s")
    wait_for(opened, frame, "document.body.dataset.saving === 'false'")
    assert frame.locator("#edit-state").text_content() == "Not saved: changed elsewhere"
    assert "was saved since this edit started" in frame.locator("#status").text_content()
    assert frame.evaluate("document.body.dataset.dirty") == "true"  # the change is still in the page
    assert load_edited(JOB, storage=storage).revision == other.revision
    assert storage.get(edited_key("tester", JOB))  # the other save stands

    # leaving with unsaved changes asks first; `drumscribe edit` stops once its page is gone
    if editor is not None:
        page.close(run_before_unload=True)
        for _ in range(50):  # the page asks first (beforeunload; accepted above), then goes
            try:
                page.wait_for_timeout(100)
            except Exception:  # closed
                break
        said = editor.finish()
        assert "beforeunload" in dialogs and "its page was closed" in said and "saved 1 time(s)" in said
    else:
        page.evaluate("location.href = '/'")  # leave the result page for the job list
        page.wait_for_selector("#jobs-section:not([hidden])", timeout=10_000)
        assert "beforeunload" in dialogs
    assert opened.errors == [] or all("409" in e for e in opened.errors), opened.errors


def test_a_page_from_disk_saves_by_download_and_edit_import_brings_it_home(cli, tmp_path):
    """`drumscribe view`'s page has no server: Save downloads edited.json, `edit --import` stores it."""
    storage = get_storage(load_settings(), announce=False)
    model = model_transcription()
    storage.put(transcription_key("tester", JOB), model.to_json().encode())
    page_path = tmp_path / "page.html"
    assert cli("show", JOB, "-f", "html", "-o", page_path).exit_code == 0
    with open_page(chromium_or_skip(), page_path) as opened:
        page = opened.page
        # keyboard only: ] selects (and focuses) the next hit in time, Shift+] adds the one after
        page.keyboard.press("]")
        focused = "[document.activeElement.dataset.lane, document.activeElement.dataset.time]"
        assert page.evaluate(focused) == ["hihat_closed", "0.5"] and page.locator(".hit.lit").count() == 1
        page.keyboard.press("Shift+]")
        assert page.evaluate(focused) == ["kick", "0.5"] and page.locator(".hit.lit").count() == 2
        page.keyboard.press("Escape")
        assert page.locator(".hit.lit").count() == 0 and page.evaluate("document.body.dataset.dirty") == "false"
        page.locator('.hit[data-lane="kick"][data-time="3.5"]').click()
        page.keyboard.press("c")  # the key of the crash
        assert page.locator('.hit[data-lane="crash"][data-time="3.5"]').count() == 1
        with page.expect_download() as download:
            page.keyboard.press("Control+s")
        assert download.value.suggested_filename == "edited.json"
        saved = tmp_path / "edited.json"
        download.value.save_as(saved)
        assert "--import edited.json" in page.locator("#status").text_content()
        assert page.evaluate("document.body.dataset.dirty") == "false" and opened.errors == []
    result = cli("edit", JOB, "--import", saved)
    assert result.exit_code == 0 and "edited revision (1 relabelled)" in result.stderr
    assert [e.instrument for e in load_edited(JOB, storage=storage).transcription.events if e.time == 3.5] == ["crash", "hihat_closed"]
