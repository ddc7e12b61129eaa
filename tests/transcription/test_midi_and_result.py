"""MIDI files read back with mido, and the JSON document round trip."""

from __future__ import annotations

import io
import json

import mido
import pytest

from drumscribe.errors import InputError
from drumscribe.transcription import midi
from drumscribe.transcription.result import SCHEMA, DrumEvent, ModelInfo, SourceInfo, Transcription


def make_transcription(**changes):
    events = (
        DrumEvent(0.70, "kick", 36, 100, 0.93),
        DrumEvent(0.70, "hihat_closed", 42, 64, 0.81),
        DrumEvent(1.20, "snare", 38, 110, 0.88),
        DrumEvent(1.45, "side_stick", 37, 40, 0.55),
        DrumEvent(1.70, "kick", 36, 90, 0.9),
    )
    grid = midi.make_grid(120.0, 0.7)
    base = dict(
        events=events,
        tempo=120.0,
        beats=(0.7, 1.2, 1.7, 2.2),
        downbeats=(0.7,),
        source=SourceInfo(key="uploads/tester/x_0123456789ab_take.wav", name="take.wav", sha256="ab" * 32, duration=3.0, sample_rate=44100, channels=2),
        model=ModelInfo(name="drums", version="1.0", classes=("kick", "snare", "hihat_closed", "side_stick"), thresholds={"kick": 0.5, "snare": 0.4}, offset=0.008),
        midi_offset=round(grid.offset, 6),
        job_id="20261125T190000Z-0123abcd",
        user_id="tester",
        created_at="2026-11-25T19:00:00Z",
    )
    base.update(changes)
    return Transcription(**base)


def read_midi(data: bytes) -> mido.MidiFile:
    return mido.MidiFile(file=io.BytesIO(data))


def test_midi_has_tempo_time_signature_and_drums_on_channel_10():
    # bar alignment: 4/4 from tick 0 at the detected tempo (audio alignment starts with a pickup bar)
    mid = read_midi(make_transcription().to_midi(align="bar"))
    assert mid.type == 1 and mid.ticks_per_beat == 480
    meta = [m for m in mid.tracks[0] if m.is_meta]
    tempo = next(m for m in meta if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(120.0)
    sig = next(m for m in meta if m.type == "time_signature")
    assert (sig.numerator, sig.denominator) == (4, 4)
    notes = [m for m in mid.tracks[1] if m.type == "note_on"]
    assert {m.channel for m in notes} == {9}  # channel 10 in 1-based numbering
    assert [(m.note, m.velocity) for m in notes] == [(36, 100), (42, 64), (38, 110), (37, 40), (36, 90)]


def absolute_ticks(track):
    now, out = 0, []
    for m in track:
        now += m.time
        if m.type == "note_on":
            out.append((now, m.note))
    return out


def test_first_downbeat_lands_on_a_bar_line_and_the_offset_is_recorded():
    t = make_transcription()
    ticks = absolute_ticks(read_midi(t.to_midi(align="bar")).tracks[1])
    # first downbeat 0.7 s -> shifted to the next bar line (bar 1 at 2.0 s, tick 1920)
    assert ticks[0] == (1920, 36)
    assert t.midi_offset == pytest.approx(1.3)
    # half a second later at 120 BPM is exactly one beat later
    assert ticks[2] == (1920 + 480, 38)
    assert ticks[3] == (1920 + 720, 37)


def test_ticks_do_not_drift_over_a_long_performance():
    grid = midi.make_grid(97.0, None)
    seconds_per_tick = grid.tempo_us / 1e6 / midi.TICKS_PER_BEAT
    times = [i * 0.623457 for i in range(4000)]  # ~41 minutes, an awkward interval
    mid = midi.build_midi(((t, 42, 80) for t in times), grid)
    got = absolute_ticks(read_midi(midi.midi_bytes(mid)).tracks[1])
    for (tick, _), t in zip(got, times):
        assert abs(tick * seconds_per_tick - t) <= seconds_per_tick / 2 + 1e-9


def test_a_note_never_outlasts_the_next_hit_of_the_same_drum():
    grid = midi.make_grid(120.0, None)
    mid = midi.build_midi([(1.0, 42, 80), (1.01, 42, 80)], grid)  # 10 ms apart: ~10 ticks
    on = off = None
    now = 0
    for m in mid.tracks[1]:
        now += m.time
        if m.type == "note_on" and on is None:
            on = now
        elif m.type == "note_off" and off is None:
            off = now
    assert on < off <= on + 10


def test_without_beats_the_midi_starts_at_zero():
    t = make_transcription(beats=(), downbeats=(), midi_offset=0.0)
    ticks = absolute_ticks(read_midi(t.to_midi()).tracks[1])
    assert ticks[0] == (round(0.7 * 960), 36)  # 960 ticks per second at 120 BPM


def test_to_midi_writes_a_file(tmp_path):
    path = make_transcription().to_midi(tmp_path / "out.mid")
    assert path.read_bytes()[:4] == b"MThd"


def test_json_round_trip_is_exact():
    t = make_transcription()
    assert Transcription.from_json(t.to_json()) == t
    assert Transcription.from_json(t.to_json().encode()) == t


def test_json_document_fields():
    doc = json.loads(make_transcription().to_json())
    assert doc["schema"] == SCHEMA == "drumscribe.transcription/1"
    assert set(doc) == {
        "schema", "job_id", "user_id", "created_at", "drumscribe_version", "source", "model", "options",
        "tempo", "time_signature", "beats", "downbeats", "midi_offset", "events",
    }
    assert set(doc["source"]) == {"key", "name", "sha256", "duration", "sample_rate", "channels", "stored_as"}
    assert set(doc["model"]) == {"name", "version", "classes", "thresholds", "offset"}
    assert doc["events"][0] == {"time": 0.7, "instrument": "kick", "note": 36, "velocity": 100, "confidence": 0.93}


def test_counts_follow_the_instrument_table_order():
    assert make_transcription().counts() == {"kick": 2, "side_stick": 1, "snare": 1, "hihat_closed": 1}


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("{not json", "not valid JSON"),
        ('{"schema": "something/1"}', "not a drumscribe transcription"),
        ('{"schema": "drumscribe.transcription/2", "tempo": 1}', "newer"),
        ('{"schema": "drumscribe.transcription/1"}', "malformed"),
    ],
)
def test_bad_documents_are_one_line_errors(text, fragment):
    with pytest.raises(InputError) as exc:
        Transcription.from_json(text)
    assert fragment in str(exc.value) and "\n" not in str(exc.value)
