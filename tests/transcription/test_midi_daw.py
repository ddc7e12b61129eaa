"""MIDI files as a DAW reads them: ticks turned into seconds through the tempo map, segment by
segment (mido.tick2second), must give back each hit's time within one tick; a tempo change only
where the tempo really changes, yet detected beats near MIDI beats and downbeats near bar lines;
one fixed tempo on request; tracks and note maps."""

from __future__ import annotations

import io
import json
import random

import mido
import pytest

from drumscribe.errors import InputError
from drumscribe.transcription import midi
from drumscribe.transcription.notemap import builtin_note_maps, load_note_map
from drumscribe.transcription.result import DrumEvent, Transcription

TPB = midi.TICKS_PER_BEAT
GM = {"kick": 36, "side_stick": 37, "snare": 38, "hihat_closed": 42, "hihat_pedal": 44, "hihat_open": 46,
      "tom_low": 43, "tom_mid": 45, "tom_high": 48, "crash": 49, "ride": 51}


# -- a DAW-style reader ----------------------------------------------------------------------
class Reader:
    """What a DAW sees in the file: tempo segments from track 0, notes per track, bar lines."""

    def __init__(self, data: bytes):
        self.mid = mido.MidiFile(file=io.BytesIO(data))
        self.tempos: list[tuple[int, int]] = []  # (tick, us per beat)
        self.signatures: list[tuple[int, int, int]] = []
        for tick, msg in self.absolute(self.mid.tracks[0]):
            if msg.type == "set_tempo":
                self.tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                self.signatures.append((tick, msg.numerator, msg.denominator))

    @staticmethod
    def absolute(track):
        now = 0
        for msg in track:
            now += msg.time
            yield now, msg

    def seconds(self, tick: int) -> float:
        """Ticks -> seconds, one tempo segment at a time, with mido.tick2second."""
        total, (start, tempo) = 0.0, self.tempos[0]
        assert start == 0, "a tempo at tick 0"
        for next_tick, next_tempo in self.tempos[1:]:
            if next_tick > tick:
                break
            total += mido.tick2second(next_tick - start, self.mid.ticks_per_beat, tempo)
            start, tempo = next_tick, next_tempo
        return total + mido.tick2second(tick - start, self.mid.ticks_per_beat, tempo)

    def tick_seconds(self, tick: int) -> float:
        """How long one tick lasts at ``tick``."""
        tempo = [t for start, t in self.tempos if start <= tick][-1]
        return tempo / 1e6 / self.mid.ticks_per_beat

    def notes(self, track: int | None = None) -> list[tuple[int, int, int]]:
        """(tick, note, velocity) of every note_on (all drum tracks, or one)."""
        tracks = self.mid.tracks[1:] if track is None else [self.mid.tracks[track]]
        return sorted((tick, m.note, m.velocity) for t in tracks for tick, m in self.absolute(t) if m.type == "note_on")

    def bar_lines(self, until: int) -> list[int]:
        lines, tick, sigs = [], 0, self.signatures + [(10**12, 4, 4)]
        for (start, num, den), (end, _, _) in zip(sigs, sigs[1:]):
            tick = start
            while tick < min(end, until):
                lines.append(tick)
                tick += num * TPB * 4 // den
        return lines


def hit(t, instrument, velocity=90):
    return DrumEvent(round(t, 4), instrument, GM[instrument], velocity, 0.9)


def groove(beats, downbeat_index=0):
    """Kick on 1 and 3, snare on 2 and 4 (bars from the downbeat), 8th-note hats a little late."""
    events = []
    for i, b in enumerate(beats):
        nxt = beats[i + 1] if i + 1 < len(beats) else b + (b - beats[i - 1])
        phase = (i - downbeat_index) % 4
        events.append(hit(b, "kick" if phase in (0, 2) else "snare", 100))
        events += [hit(b + 0.006, "hihat_closed", 80), hit((b + nxt) / 2 + 0.004, "hihat_closed", 60)]
    return events


def transcription(beats, downbeat_index=0, events=None, tempo=None):
    beats = tuple(round(b, 4) for b in beats)
    downbeats = beats[downbeat_index::4]
    tempo = tempo or 60.0 / sorted(b - a for a, b in zip(beats, beats[1:]))[len(beats) // 2]
    grid = midi.make_grid(tempo, downbeats[0] if downbeats else None)
    return Transcription(events=tuple(events if events is not None else groove(beats, downbeat_index)), tempo=tempo,
                         beats=beats, downbeats=downbeats, midi_offset=round(grid.offset, 6))


def speeding_up(n=48, start=0.83, bpm_from=96.0, bpm_to=132.0):
    """Beats of a band that speeds up from 96 to 132 BPM, with a little human jitter."""
    rng = random.Random(7)
    beats, t = [], start
    for i in range(n):
        beats.append(t + rng.uniform(-0.004, 0.004))
        t += 60.0 / (bpm_from + (bpm_to - bpm_from) * i / (n - 1))
    return beats


def assert_hits_at_their_times(reader: Reader, t: Transcription, shift: float = 0.0):
    got = reader.notes()
    want = sorted((e.time, e.note) for e in t.events)
    assert len(got) == len(want)
    by_note: dict[int, list[float]] = {}
    for tick, note, _ in got:
        by_note.setdefault(note, []).append((reader.seconds(tick), reader.tick_seconds(tick)))
    for note in {n for _, n in want}:
        times = sorted(time for time, n in want if n == note)
        for time, (seconds, one_tick) in zip(times, sorted(by_note[note])):
            assert abs(seconds - (time + shift)) <= one_tick, (note, time, seconds)


# -- alignment -------------------------------------------------------------------------------
def test_audio_alignment_puts_every_hit_at_its_audio_time():
    t = transcription([0.7 + 0.5 * i for i in range(16)])
    reader = Reader(t.to_midi(align="audio"))
    assert_hits_at_their_times(reader, t)


def test_audio_alignment_starts_with_a_pickup_bar_so_the_first_downbeat_is_on_a_bar_line():
    # 0.7 s before the first downbeat at 120 BPM: 6 sixteenths (a 3/8 bar), then 4/4
    t = transcription([0.7 + 0.5 * i for i in range(16)])
    reader = Reader(t.to_midi(align="audio"))
    assert reader.signatures == [(0, 3, 8), (720, 4, 4)]
    first_kick = reader.notes()[0]
    assert first_kick[:2] == (720, 36) and 720 in reader.bar_lines(10_000)


def test_bar_alignment_is_todays_layout_shifted_by_midi_offset():
    t = transcription([0.7 + 0.5 * i for i in range(16)])
    reader = Reader(t.to_midi(align="bar"))
    assert reader.signatures == [(0, 4, 4)]
    assert t.midi_offset == pytest.approx(1.3)
    assert reader.notes()[0][:2] == (1920, 36)  # the first downbeat on bar 2's line
    assert_hits_at_their_times(reader, t, shift=t.midi_offset)


def steady(bpm=100.0, seconds=20.0, start=0.6, jitter=0.012, seed=5):
    """Beats of a drummer who holds ``bpm``, as a beat tracker reports them: each a little off
    (``jitter`` s), so that beat to beat the tempo reads 98..102."""
    rng = random.Random(seed)
    period = 60.0 / bpm
    return [start + i * period + rng.uniform(-jitter, jitter) for i in range(int((seconds - start) / period))]


def near(tick: int, grid: int, within: int) -> bool:
    return min(tick % grid, grid - tick % grid) <= within


@pytest.mark.parametrize("align", ["audio", "bar"])
def test_a_steady_groove_is_one_tempo(align):
    beats = steady()
    per_beat = [60 / (b - a) for a, b in zip(beats, beats[1:])]
    assert min(per_beat) < 98.5 and max(per_beat) > 101.5  # the tracker's wobble is there
    t = transcription(beats)
    reader = Reader(t.to_midi(align=align))
    ((_, us),) = reader.tempos  # one tempo event, not one per beat
    assert mido.tempo2bpm(us) == pytest.approx(100, abs=0.3)
    assert_hits_at_their_times(reader, t, t.midi_offset if align == "bar" else 0.0)


@pytest.mark.parametrize("align", ["audio", "bar"])
def test_tempo_map_follows_a_band_that_speeds_up(align):
    beats = speeding_up()
    t = transcription(beats, downbeat_index=2)
    reader = Reader(t.to_midi(align=align))
    lead_in, *bpms = [mido.tempo2bpm(us) for _, us in reader.tempos]  # the lead-in before the first beat has its own
    # a tempo for each step of the way, faster each time, from about 96 to about 132; not one per beat
    assert 3 <= len(bpms) <= 12 and bpms == sorted(bpms)
    assert bpms[0] < 101 and bpms[-1] > 124
    shift = t.midi_offset if align == "bar" else 0.0
    assert_hits_at_their_times(reader, t, shift)
    # every detected beat within a twelfth of a beat of a MIDI beat (the song's last may stray: no
    # beat after it tells a change from a slip), every downbeat that near a bar line
    kicks_snares = [tick - reader.signatures[-1][0] for tick, note, _ in reader.notes() if note in (36, 38)]
    assert len(kicks_snares) == len(beats)
    assert all(near(tick, TPB, TPB // 12) for tick in kicks_snares[:-1])
    beat_numbers = [round(tick / TPB) for tick in kicks_snares]
    assert all(b - a == 1 for a, b in zip(beat_numbers, beat_numbers[1:]))
    bar_lines = {tick - reader.signatures[-1][0] for tick in reader.bar_lines(10**6)}
    assert [n * TPB in bar_lines for n in beat_numbers] == [i % 4 == 2 for i in range(len(beats))]


@pytest.mark.parametrize("align", ["audio", "bar"])
def test_a_fixed_tempo_is_one_tempo_and_keeps_every_hit_at_its_time(align):
    t = transcription(speeding_up(), downbeat_index=2, tempo=114.0)
    reader = Reader(t.to_midi(align=align, tempo="fixed"))
    assert [(tick, round(mido.tempo2bpm(us), 3)) for tick, us in reader.tempos] == [(0, 114.0)]
    assert reader.signatures == [(0, 4, 4)]
    assert_hits_at_their_times(reader, t, t.midi_offset if align == "bar" else 0.0)


def test_no_drift_over_a_long_song_with_a_wobbling_tempo():
    rng = random.Random(3)
    beats, t = [], 0.42
    for _ in range(2000):  # ~17 minutes
        beats.append(t)
        t += 60.0 / rng.uniform(112, 128)
    events = [hit(b + 0.003, "ride", 70) for b in beats]
    tr = transcription(beats, events=events)
    for align, shift in (("audio", 0.0), ("bar", tr.midi_offset)):
        assert_hits_at_their_times(Reader(tr.to_midi(align=align)), tr, shift)


def test_mido_playback_times_agree():
    # mido's own player merges the tracks and follows every set_tempo: a second opinion
    t = transcription(speeding_up(24), downbeat_index=1)
    mid = mido.MidiFile(file=io.BytesIO(t.to_midi(align="audio")))
    now, played = 0.0, []
    for msg in mid:
        now += msg.time
        if msg.type == "note_on":
            played.append(now)
    assert played == pytest.approx(sorted(e.time for e in t.events), abs=0.0011)


def test_without_beats_both_alignments_are_one_tempo_from_zero():
    events = [hit(0.25 * i + 0.1, "hihat_closed") for i in range(8)]
    t = Transcription(events=tuple(events), tempo=120.0)
    for align in ("audio", "bar"):
        reader = Reader(t.to_midi(align=align))
        assert reader.tempos == [(0, 500000)] and reader.signatures == [(0, 4, 4)]
        assert_hits_at_their_times(reader, t)


def test_a_first_beat_at_zero_needs_no_pickup():
    t = transcription([0.5 * i for i in range(8)])
    reader = Reader(t.to_midi(align="audio"))
    assert reader.signatures == [(0, 4, 4)]
    assert [tick for tick, note, _ in reader.notes() if note == 36] == [0, 960, 1920, 2880]


# -- tracks ----------------------------------------------------------------------------------
def test_per_instrument_tracks_are_named_one_per_drum():
    beats = [0.5 * i for i in range(8)]
    events = groove(beats) + [hit(0.25, "hihat_open"), hit(1.0, "side_stick"), hit(2.0, "crash", 120), hit(3.5, "tom_low")]
    t = transcription(beats, events=events)
    single = Reader(t.to_midi(tracks="single"))
    assert len(single.mid.tracks) == 2 and single.mid.tracks[1].name == "Drums"
    per = Reader(t.to_midi(tracks="per-instrument"))
    assert per.mid.type == 1
    assert [track.name for track in per.mid.tracks[1:]] == ["Kick", "Snare", "Hi-hat", "Tom low", "Crash"]
    notes = {track.name: {note for _, note, _ in per.notes(i + 1)} for i, track in enumerate(per.mid.tracks[1:])}
    assert notes == {"Kick": {36}, "Snare": {37, 38}, "Hi-hat": {42, 46}, "Tom low": {43}, "Crash": {49}}
    assert per.notes() == single.notes()  # the same hits, only split
    assert {m.channel for track in per.mid.tracks[1:] for m in track if m.type == "note_on"} == {9}


# -- note maps -------------------------------------------------------------------------------
def test_packaged_note_maps_load_and_say_where_they_come_from():
    names = builtin_note_maps()
    assert {"general-midi", "superior-drummer-3", "addictive-drums-2", "steven-slate-drums-5"} <= set(names)
    for name in names:
        m = load_note_map(name)
        assert m.layout and set(m.notes) == set(GM)  # every instrument, explicitly
    assert dict(load_note_map("general-midi").notes) == GM


def test_note_map_changes_the_notes_and_nothing_else():
    beats = [0.5 * i for i in range(8)]
    events = groove(beats) + [hit(1.0, "side_stick"), hit(2.0, "crash", 120), hit(2.5, "tom_high")]
    t = transcription(beats, events=events)
    gm, ad2 = Reader(t.to_midi()), Reader(t.to_midi(note_map="addictive-drums-2"))
    table = load_note_map("addictive-drums-2").notes
    expected = sorted((tick, table[{v: k for k, v in GM.items()}[note]], vel) for tick, note, vel in gm.notes())
    assert ad2.notes() == expected
    assert {note for _, note, _ in ad2.notes()} == {36, 38, 42, 51, 77, 71}  # side stick is 42 in AD2


def test_a_note_map_file_may_change_only_some_notes(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "comment": "kick on 35", "notes": {"kick": 35}}))
    t = transcription([0.5 * i for i in range(4)])
    notes = {note for _, note, _ in Reader(t.to_midi(note_map=str(path))).notes()}
    assert notes == {35, 38, 42}


@pytest.mark.parametrize(
    "content, problem",
    [
        ("{not json", "not valid JSON"),
        ("[36, 38]", "expected a JSON object"),
        ('{"name": "x"}', 'missing the "notes" object'),
        ('{"notes": {"hihat": 42}}', "unknown instrument 'hihat'"),
        ('{"notes": {"kick": 200}}', "note for 'kick' must be an integer 0-127, got 200"),
        ('{"notes": {"kick": "C1"}}', "must be an integer 0-127"),
        ('{"note": {"kick": 36}}', "unknown key 'note'"),
        ('{"comment": 3, "notes": {}}', "'comment' must be"),
    ],
)
def test_an_invalid_note_map_file_is_a_one_line_error_naming_the_problem(tmp_path, content, problem):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        load_note_map(str(path))
    message = str(info.value)
    assert problem in message and str(path) in message and "\n" not in message


def test_unknown_note_map_and_options_are_one_line_errors():
    t = transcription([0.5 * i for i in range(4)])
    with pytest.raises(InputError, match="unknown note map 'ezdrumer'.*general-midi"):
        t.to_midi(note_map="ezdrumer")
    with pytest.raises(InputError, match="--midi-align must be one of audio, bar, got 'start'"):
        t.to_midi(align="start")
    with pytest.raises(InputError, match="--midi-tracks must be one of single, per-instrument"):
        t.to_midi(tracks="multi")
    with pytest.raises(InputError, match="--midi-tempo must be one of follow, fixed, got 'steady'"):
        t.to_midi(tempo="steady")
