"""`drumscribe edit`: --import from a DAW's MIDI or a JSON, the loopback editor server, and every view
and export following the edited revision; on the local mirror and on S3 (a moto server)."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import mido
import pytest

from drumscribe.config import load_settings
from drumscribe.keys import edited_key, edited_midi_key, midi_key, transcription_key
from drumscribe.storage import get_storage
from drumscribe.transcription.result import DrumEvent, Transcription
from job_helpers import error_lines
from test_edits import JOB, model_transcription, with_changes

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["local", "s3"])
def where(request, monkeypatch):
    """The job on the local mirror (no bucket) or in a bucket on the moto HTTP server."""
    if request.param == "s3":
        request.getfixturevalue("bucket")
    import drumscribe.storage

    monkeypatch.setattr(drumscribe.storage, "_announced", True)
    storage = get_storage(load_settings(), announce=False)
    t = model_transcription()
    storage.put(transcription_key("tester", JOB), t.to_json().encode())
    storage.put(midi_key("tester", JOB), t.to_midi())
    return storage


def fixed_midi(tmp_path, **options) -> Path:
    """The model's MIDI as a DAW user fixed it: a floor tom added, a hat removed, a snare moved, a kick made a crash."""
    model = model_transcription()
    path = tmp_path / "fixed.mid"
    replace(model, events=tuple(with_changes(model))).to_midi(path, **options)
    return path


def notes(data: bytes) -> list[tuple[float, int]]:
    found, now = [], 0.0
    for msg in mido.MidiFile(file=io.BytesIO(data)):
        now += msg.time
        if msg.type == "note_on" and msg.velocity:
            found.append((round(now, 2), msg.note))
    return sorted(found)


def test_import_a_daws_midi_and_every_view_follows_it(where, cli, tmp_path):
    result = cli("edit", JOB, "--import", fixed_midi(tmp_path, align="bar", note_map="superior-drummer-3"),
                 "--note-map", "superior-drummer-3")
    assert result.exit_code == 0, result.output
    assert re.search(r"Stored fixed.mid as job \S+'s edited revision \(1 added, 1 removed, 1 moved, 1 relabelled\), "
                     r"read as aligned to the bar grid \(midi_offset undone\); revision [0-9a-f]{20}\.", result.stderr)
    revision = json.loads(where.get(edited_key("tester", JOB)))["edit"]["revision"]
    assert where.get(transcription_key("tester", JOB)) == model_transcription().to_json().encode()  # never overwritten

    said = "edited revision (1 added, 1 removed, 1 moved, 1 relabelled) - --revision model for the model's"
    tab = cli("show", JOB)
    assert tab.exit_code == 0 and said in tab.stderr
    rows = {line.split("|")[0].strip(): line for line in tab.stdout.splitlines() if "|" in line}
    assert "LT" in rows and "LT" not in cli("show", JOB, "--revision", "model").stdout  # the added floor tom

    out = tmp_path / "edited.mid"
    assert cli("show", JOB, "-f", "midi", "-o", out).exit_code == 0
    got = notes(out.read_bytes())
    assert (1.75, 43) in got and (0.5, 42) not in got and (2.02, 38) in got and (3.5, 49) in got and (3.5, 36) not in got
    model_out = tmp_path / "model.mid"
    assert cli("show", JOB, "-f", "midi", "-o", model_out, "--revision", "model").exit_code == 0
    assert model_out.read_bytes() == where.get(midi_key("tester", JOB))  # the stored output.mid, untouched

    doc = json.loads(cli("show", JOB, "-f", "json").stdout)
    assert doc["edit"]["revision"] == revision and doc["edit"]["via"] == "import-midi"
    assert "edit" not in json.loads(cli("show", JOB, "-f", "json", "--revision", "model").stdout)

    links = cli("open", JOB)
    assert links.exit_code == 0 and said in links.stderr
    assert "edited.json" in links.stdout and "edited.mid" in links.stdout and "transcription.json" not in links.stdout
    assert where.head(edited_midi_key("tester", JOB)).metadata["revision"] == revision



def test_the_jobs_list_counts_the_edited_hits(where, cli, tmp_path):
    assert cli("edit", JOB, "--import", fixed_midi(tmp_path)).exit_code == 0
    listed = cli("jobs", "--json")
    (job,) = json.loads(listed.stdout)
    assert job["edited"] is True and job["counts"]["tom_low"] == 1 and job["counts"]["crash"] == 1
    assert "(edited)" in cli("jobs").stdout


def test_a_stale_json_is_refused_with_exit_3_and_force_imports_it(where, cli, tmp_path):
    assert cli("edit", JOB, "--import", fixed_midi(tmp_path)).exit_code == 0
    page_download = json.loads(where.get(edited_key("tester", JOB)))
    page_download["edit"] = {"parent": page_download["edit"]["based_on"], "revision": None}  # a page opened before that import
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(page_download))
    before = where.get(edited_key("tester", JOB))
    stale = cli("edit", JOB, "--import", path)
    assert stale.exit_code == 3
    (line,) = error_lines(stale)
    assert "has been saved since" in line and "nothing was imported" in line and "--force" in line
    assert where.get(edited_key("tester", JOB)) == before
    assert cli("edit", JOB, "--import", path, "--force").exit_code == 0


def test_bad_imports_are_one_line_and_store_nothing(where, cli, tmp_path):
    junk = tmp_path / "take.wav"
    junk.write_bytes(b"RIFF....WAVEfmt ")
    for args, code, message in (
        (["--import", junk], 2, "neither a MIDI file nor a transcription JSON"),
        (["--import", tmp_path / "none.mid"], 2, "file not found"),
        (["--import", fixed_midi(tmp_path), "--midi-align", "sideways"], 2, "--midi-align must be one of auto, audio, bar"),
        (["--note-map", "general-midi"], 2, "go with --import FILE"),
    ):
        result = cli("edit", JOB, *args)
        assert result.exit_code == code, result.output
        (line,) = error_lines(result)
        assert message in line
    assert cli("edit", "20260309T100000Z-abcdef09", "--import", fixed_midi(tmp_path)).exit_code == 2
    assert not where.exists(edited_key("tester", JOB))


def test_sync_carries_the_edited_revision(cli, tmp_path, bucket, s3):
    """Made on the local mirror (--local), pushed: the bucket has edited.json and edited.mid next to the job."""
    from drumscribe.storage import LocalStorage

    local = LocalStorage(load_settings().local_root)
    t = model_transcription()
    local.put(transcription_key("tester", JOB), t.to_json().encode())
    assert cli("--local", "edit", JOB, "--import", fixed_midi(tmp_path)).exit_code == 0
    assert cli("sync", "push").exit_code == 0
    from job_helpers import bucket_keys

    assert {edited_key("tester", JOB), edited_midi_key("tester", JOB)} <= set(bucket_keys(s3, bucket))
    said = cli("show", JOB)
    assert "edited revision (1 added, 1 removed, 1 moved, 1 relabelled)" in said.stderr  # now read from the bucket


# --- the editor's server, driven as a browser would (the browser itself: test_edit_browser.py) --------


class EditProcess:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "drumscribe", "edit", JOB, "--no-browser", *args],
                                     env=dict(os.environ), stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        deadline = time.monotonic() + 30
        while True:
            line = self.proc.stderr.readline()
            assert line or self.proc.poll() is None, "".join(self.lines)
            self.lines.append(line)
            found = re.search(r"at (http://127\.0\.0\.1:(\d+)/\?token=\S+)", line)
            if found:
                self.url, self.port = found.group(1), int(found.group(2))
                break
            assert time.monotonic() < deadline, "".join(self.lines)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, host: str | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, path, body=body, headers={"Host": host or f"127.0.0.1:{self.port}", **(headers or {})})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response, data

    def finish(self, timeout: float = 15) -> str:
        self.proc.wait(timeout=timeout)
        return "".join(self.lines) + self.proc.stderr.read()


@pytest.mark.parametrize("where", ["local"], indirect=True)  # on S3 too, with a browser: test_edit_browser.py
def test_the_editor_server_saves_for_its_page_only_and_stops_when_the_page_is_gone(where, tmp_path):
    editor = EditProcess()
    try:
        token_path = editor.url.split(f":{editor.port}", 1)[1]
        evil, _ = editor.request("GET", token_path, host=f"evil.example:{editor.port}")
        assert evil.status == 403  # DNS rebinding: only the loopback address is served
        first, _ = editor.request("GET", token_path)
        assert first.status == 303 and first.getheader("Location") == "/"
        cookie = first.getheader("Set-Cookie").split(";")[0]
        assert "HttpOnly" in first.getheader("Set-Cookie") and "SameSite=Strict" in first.getheader("Set-Cookie")
        again, _ = editor.request("GET", token_path)
        assert again.status == 403  # the link works once
        no_cookie, _ = editor.request("GET", "/")
        assert no_cookie.status == 403

        page, html = editor.request("GET", "/", headers={"Cookie": cookie})
        assert page.status == 200 and "connect-src 'self'" in html.decode()  # only this page may call its server
        data = json.loads(re.search(rb'id="drumscribe-data">(.*?)</script>', html, re.S).group(1))
        edit = data["edit"]
        assert edit["mode"] == "server" and edit["revision"] == edit["based_on"]

        model = model_transcription()
        events = [{"time": e.time, "instrument": e.instrument, "velocity": e.velocity} for e in with_changes(model)]
        body = json.dumps({"events": events}).encode()
        headers = {"Cookie": cookie, "Content-Type": "application/json"}
        forged, _ = editor.request("PUT", "/api/edited", body, {**headers, "If-Match": f'"{edit["revision"]}"'})
        assert forged.status == 403  # a cookie alone (a form from another page) is not enough
        headers["X-Drumscribe-Session"] = edit["session"]
        missing, _ = editor.request("PUT", "/api/edited", body, headers)
        assert missing.status == 428
        saved, answer = editor.request("PUT", "/api/edited", body, {**headers, "If-Match": f'"{edit["revision"]}"'})
        assert saved.status == 200, answer
        answer = json.loads(answer)
        assert answer["summary"] == {"added": 1, "removed": 1, "moved": 1, "relabelled": 1}
        stale, detail = editor.request("PUT", "/api/edited", body, {**headers, "If-Match": f'"{edit["revision"]}"'})
        assert stale.status == 409 and b"nothing was saved" in detail
        midi, data = editor.request("GET", "/files/midi", headers={"Cookie": cookie})
        assert midi.status == 200 and (1.75, 43) in notes(data)

        for page in ("first", "reloaded"):  # a reload: the new page says hello before the old one's goodbye
            beat, _ = editor.request("POST", f"/api/heartbeat?page={page}", b"", {**headers, "Content-Length": "0"})
            assert beat.status == 204
        bye, _ = editor.request("POST", f"/api/closed?session={edit['session']}&page=first", b"", {"Cookie": cookie})
        assert bye.status == 204
        time.sleep(5)
        assert editor.proc.poll() is None  # the reloaded page is still there
        late, _ = editor.request("POST", "/api/heartbeat?page=first", b"", {**headers, "Content-Length": "0"})  # in flight before
        bye, _ = editor.request("POST", f"/api/closed?session={edit['session']}&page=reloaded", b"", {"Cookie": cookie})
        assert bye.status == 204
        said = editor.finish()  # stops by itself once the page has said goodbye
        assert editor.proc.returncode == 0
        assert f"saved 1 time(s): job {JOB} now shows its edited revision (1 added, 1 removed, 1 moved, 1 relabelled)" in said
        assert "its page was closed" in said
    finally:
        if editor.proc.poll() is None:
            editor.proc.kill()
    assert json.loads(where.get(edited_key("tester", JOB)))["edit"]["revision"] == answer["revision"]
