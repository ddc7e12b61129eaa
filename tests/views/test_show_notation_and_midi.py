"""``drumscribe show JOB --format musicxml`` and ``--format midi`` with the MIDI options, on the
local mirror; bad options are one line on stderr."""

from __future__ import annotations

import io
import json

import mido
import pytest
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.keys import midi_key, transcription_key
from drumscribe.storage.local import LocalStorage
from drumscribe.transcription.result import DrumEvent, SourceInfo, Transcription

runner = CliRunner()
JOB = "20261201T070000Z-0badf00d"


def groove():
    beats = tuple(0.62 + 0.5 * i for i in range(16))
    events = []
    for i, b in enumerate(beats):
        events.append(DrumEvent(round(b, 4), "kick" if i % 2 == 0 else "snare", 36 if i % 2 == 0 else 38, 100, 0.9))
        events.append(DrumEvent(round(b, 4), "hihat_closed", 42, 80, 0.9))
    events.append(DrumEvent(round(beats[3] + 0.25, 4), "hihat_open", 46, 90, 0.9))
    return Transcription(events=tuple(events), tempo=120.0, beats=beats, downbeats=beats[::4], midi_offset=1.38,
                         source=SourceInfo(name="groove.wav", duration=9.0), job_id=JOB, user_id="tester")


@pytest.fixture
def stored():
    storage = LocalStorage(load_settings().local_root)
    t = groove()
    storage.put(transcription_key("tester", JOB), t.to_json().encode())
    storage.put(midi_key("tester", JOB), b"MThd stored output.mid")  # tells the stored file from a re-render
    return t


def show(*args):
    return runner.invoke(app, ["--local", "show", JOB, *map(str, args)])


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output
    return lines[0]


def test_show_musicxml_to_a_file_and_to_stdout(stored, tmp_path):
    path = tmp_path / "groove.musicxml"
    result = show("--format", "musicxml", "-o", path)
    assert result.exit_code == 0, result.output
    assert f"Wrote {path}" in result.stderr
    text = path.read_text()
    assert "<score-partwise" in text and "<work-title>groove.wav</work-title>" in text
    assert text.count("<unpitched>") == len(stored.events)
    piped = show("-f", "musicxml", "--bars", "2-2")
    assert piped.exit_code == 0 and piped.stdout.count('<measure number="') == 1


def test_show_midi_without_options_is_the_stored_file(stored, tmp_path):
    path = tmp_path / "stored.mid"
    assert show("-f", "midi", "-o", path).exit_code == 0
    assert path.read_bytes() == b"MThd stored output.mid"


def test_show_midi_with_options_re_renders_from_the_json(stored, tmp_path):
    path = tmp_path / "ad2.mid"
    result = show("-f", "midi", "--midi-align", "bar", "--midi-tracks", "per-instrument", "--note-map", "addictive-drums-2", "-o", path)
    assert result.exit_code == 0, result.output
    mid = mido.MidiFile(file=io.BytesIO(path.read_bytes()))
    assert [t.name for t in mid.tracks[1:]] == ["Kick", "Snare", "Hi-hat"]
    hats = {m.note for m in mid.tracks[3] if m.type == "note_on"}
    assert hats == {51, 56}  # AD2's closed and open hats
    assert path.read_bytes() == stored.to_midi(align="bar", tracks="per-instrument", note_map="addictive-drums-2")


def test_show_midi_with_a_note_map_file(stored, tmp_path):
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"name": "mine", "notes": {"snare": 40}}))
    path = tmp_path / "mine.mid"
    assert show("-f", "midi", "--note-map", mine, "-o", path).exit_code == 0
    notes = {m.note for m in mido.MidiFile(path).tracks[1] if m.type == "note_on"}
    assert notes == {36, 40, 42, 46}


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--midi-align", "start"], "--midi-align must be one of audio, bar, got 'start'"),
        (["--midi-tracks", "all"], "--midi-tracks must be one of single, per-instrument, got 'all'"),
        (["--note-map", "ezdrumer"], "unknown note map 'ezdrumer': not a file, and not one of addictive-drums-2, general-midi"),
        (["--format", "pdf"], "unknown format 'pdf'; valid formats: tab, json, midi, musicxml, html, png, svg"),
    ],
)
def test_bad_options_are_one_line(stored, args, fragment):
    assert fragment in one_error_line(show("-f", "midi", *args) if args[0] != "--format" else show(*args))


def test_an_invalid_note_map_file_is_one_line(stored, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"notes": {"kick": 128}}')
    line = one_error_line(show("-f", "midi", "--note-map", bad, "-o", tmp_path / "x.mid"))
    assert line == f"Error: note map {bad}: note for 'kick' must be an integer 0-127, got 128"
    assert not (tmp_path / "x.mid").exists()
