"""A file or source name is untrusted text: printed, its control characters are made visible.

An escape sequence in a name would otherwise restyle or retitle the terminal of whoever runs
``drumscribe jobs`` (``--user '*'`` lists names other users chose), a carriage return would
hide the line before it, and a bidi override would disguise the extension. Stored data keeps the
name exactly as it was given.
"""

from __future__ import annotations

import json
import shutil

from drumscribe.keys import transcription_key
from drumscribe.storage.local import LocalStorage
from drumscribe.config import load_settings
from drumscribe.terminal import one_line, printable
from drumscribe.transcription.result import DrumEvent, SourceInfo, Transcription

HOSTILE = "take\x1b]0;owned\x07\x1b[31m\r\u202evaw.exe"
SHOWN = "take\\x1b]0;owned\\x07\\x1b[31m\\r\\u202evaw.exe"
JOB = "20261130T080000Z-abcdef12"


def test_printable_escapes_controls_and_bidi_and_keeps_the_rest():
    assert printable(HOSTILE) == SHOWN
    assert printable("line\nbreak\ttab\x7fdel\x9bcsi") == "line\\nbreak\\ttab\\x7fdel\\x9bcsi"
    assert printable("Café del Mar 🥁 [bold]x.wav") == "Café del Mar 🥁 [bold]x.wav"  # markup is the console's business
    assert one_line("bad\n  file\x1b[2J:\tgone") == "bad file\\x1b[2J: gone"


def _no_raw_controls(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\u202e" not in text


def test_jobs_and_show_print_a_stored_hostile_name_escaped(cli):
    storage = LocalStorage(load_settings().local_root)
    t = Transcription(events=(DrumEvent(0.5, "kick", 36, 90, 0.9),), tempo=None, beats=(), downbeats=(),
                      source=SourceInfo(name=HOSTILE, duration=2.0), job_id=JOB, user_id="tester",
                      created_at="2026-11-30T08:00:00Z")
    storage.put(transcription_key("tester", JOB), t.to_json().encode())

    listed = cli("--local", "jobs", "--user", "tester")
    assert listed.exit_code == 0, listed.output
    _no_raw_controls(listed.output)
    assert SHOWN[:20] in listed.output  # the table may fold the cell; its start is on the job's row

    shown = cli("--local", "show", JOB)
    assert shown.exit_code == 0, shown.output
    _no_raw_controls(shown.output)
    assert f"source   {SHOWN}" in shown.output
    as_json = cli("--local", "show", JOB, "--format", "json")
    assert json.loads(as_json.stdout)["source"]["name"] == HOSTILE  # the data is kept exactly


def test_transcribe_prints_a_hostile_input_name_escaped(cli, take, standin_model, tmp_path):
    hostile = tmp_path / "drum\x1b[2Jtake.wav"
    shutil.copy(take, hostile)
    done = cli("--local", "transcribe", hostile, "-o", tmp_path / "out")
    assert done.exit_code == 0, done.output
    _no_raw_controls(done.output)
    assert "drum\\x1b[2Jtake.wav: 0:09.0" in done.output
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["drum_2Jtake.json", "drum_2Jtake.mid"]  # safe names

    missing = cli("--local", "transcribe", tmp_path / "gone\x1b]52;c;cHduZWQ=\x07.wav")
    assert missing.exit_code != 0
    _no_raw_controls(missing.output)
    assert "gone\\x1b]52;c;cHduZWQ=\\x07.wav: no such file" in missing.output
    assert len(missing.output.strip().splitlines()) <= 2  # "Using local storage ..." and the error
