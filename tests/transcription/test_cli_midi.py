"""``drumscribe transcribe`` with the MIDI options: they shape the stored output.mid and the -o copy."""

from __future__ import annotations

import io

import mido
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.storage.local import LocalStorage
from drumscribe.transcription.result import Transcription


def run(*args):
    return CliRunner().invoke(app, ["transcribe", *map(str, args)])


def test_midi_options_shape_the_stored_and_the_written_file(groove_wav, default_model, tmp_path):
    result = run(groove_wav, "-o", tmp_path / "out", "--jobs", "1", "--midi-align", "bar",
                 "--midi-tracks", "per-instrument", "--note-map", "superior-drummer-3")
    assert result.exit_code == 0, result.stderr
    doc = Transcription.from_json((tmp_path / "out" / "groove.json").read_text())
    written = (tmp_path / "out" / "groove.mid").read_bytes()
    stored = LocalStorage(load_settings().local_root).get(f"processed/tester/{doc.job_id}/output.mid")
    assert written == stored == doc.to_midi(align="bar", tracks="per-instrument", note_map="superior-drummer-3")
    names = [t.name for t in mido.MidiFile(file=io.BytesIO(written)).tracks[1:]]
    assert names and names[0] == "Kick" and "Drums" not in names


def test_a_bad_note_map_fails_once_before_anything_is_stored(groove_wav, default_model, tmp_path):
    bad = tmp_path / "map.json"
    bad.write_text("{not json")
    result = run(groove_wav, "--note-map", bad)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"Error: note map {bad}: not valid JSON (Expecting property name enclosed in double quotes at line 1)"]
    assert list(LocalStorage(load_settings().local_root).list("")) == []


def tempos(data: bytes) -> list[int]:
    return [m.tempo for m in mido.MidiFile(file=io.BytesIO(data)).tracks[0] if m.type == "set_tempo"]


def test_midi_tempo_fixed_writes_one_tempo_from_transcribe_and_from_show(groove_wav, default_model, tmp_path):
    result = run(groove_wav, "-o", tmp_path / "out", "--jobs", "1", "--midi-tempo", "fixed")
    assert result.exit_code == 0, result.stderr
    doc = Transcription.from_json((tmp_path / "out" / "groove.json").read_text())
    written = (tmp_path / "out" / "groove.mid").read_bytes()
    stored = LocalStorage(load_settings().local_root).get(f"processed/tester/{doc.job_id}/output.mid")
    assert written == stored == doc.to_midi(tempo="fixed")
    assert tempos(written) == [int(mido.bpm2tempo(doc.tempo))]
    shown = CliRunner().invoke(app, ["show", doc.job_id, "-f", "midi", "--midi-tempo", "fixed", "-o", tmp_path / "shown.mid"])
    assert shown.exit_code == 0, shown.stderr
    assert (tmp_path / "shown.mid").read_bytes() == written
    bad = CliRunner().invoke(app, ["show", doc.job_id, "-f", "midi", "--midi-tempo", "wobbly"])
    assert bad.exit_code == 2 and "--midi-tempo must be one of follow, fixed, got 'wobbly'" in bad.stderr
