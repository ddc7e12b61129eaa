"""MusicXML drum notation, read back with music21: every hit in its bar at its beat position, on
its staff position and note head, with time signature, tempo, voices, beams, rests and triplets."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

music21 = pytest.importorskip("music21")  # in the `test` extra; pure Python
xmlschema = pytest.importorskip("xmlschema")

from drumscribe import render_musicxml  # noqa: E402
from drumscribe.errors import InputError  # noqa: E402
from drumscribe.transcription.result import DrumEvent, SourceInfo, Transcription  # noqa: E402

NOTES = {"kick": 36, "side_stick": 37, "snare": 38, "hihat_closed": 42, "hihat_pedal": 44, "hihat_open": 46,
         "tom_low": 43, "tom_mid": 45, "tom_high": 48, "crash": 49, "ride": 51}
# the drum-set key a drummer reads: (staff position, note head) -> drum; open and closed hats differ by a mark only
KEY = {("F4", "normal"): "kick", ("D4", "x"): "hihat_pedal", ("C5", "normal"): "snare", ("C5", "x"): "side_stick",
       ("E5", "normal"): "tom_high", ("D5", "normal"): "tom_mid", ("A4", "normal"): "tom_low",
       ("G5", "x"): "hihat", ("F5", "x"): "ride", ("A5", "x"): "crash"}
FEET = {"kick", "hihat_pedal"}


def drum(instrument: str) -> str:
    return "hihat" if instrument in ("hihat_closed", "hihat_open") else instrument


def performance(pattern, beats, jitter=0.012, seed=1):
    """Events for (bar, beat position, instrument, velocity) on detected ``beats`` (4 per bar,
    bar 1 on beats[0]), each played up to ``jitter`` seconds off."""
    rng = random.Random(seed)
    events = []
    for bar, pos, instrument, velocity in pattern:
        index = (bar - 1) * 4 + int(pos)
        a, b = beats[index], beats[index + 1]
        t = a + (b - a) * (pos - int(pos)) + rng.uniform(-jitter, jitter)
        events.append(DrumEvent(round(t, 4), instrument, NOTES[instrument], velocity, 0.9))
    return tuple(sorted(events, key=lambda e: e.time))


SCHEMA = Path(__file__).parent / "data" / "musicxml-4.0.xsd"


@pytest.fixture(scope="module")
def musicxml_schema():
    return xmlschema.XMLSchema(str(SCHEMA), allow="local")  # offline: no fetching of imports


def read_back(xml: str):
    """(measure, offset in quarters, drum) of every notated hit, and the parsed score."""
    score = music21.converter.parse(xml, format="musicxml")
    hits = []
    for measure in score.parts[0].getElementsByClass(music21.stream.Measure):
        for element in measure.recurse().notes:
            offset = Fraction(element.getOffsetInHierarchy(measure)).limit_denominator(12)
            for n in getattr(element, "notes", None) or [element]:
                hits.append((measure.number, offset, KEY[(f"{n.displayStep}{n.displayOctave}", n.notehead)]))
    return sorted(hits), score


def expected(pattern):
    return sorted((bar, Fraction(pos).limit_denominator(12), drum(instrument)) for bar, pos, instrument, _ in pattern)


ROCK = (
    [(bar, i / 2, "hihat_closed", 110 if i % 2 == 0 else 70) for bar in (1, 2) for i in range(7)]
    + [(1, 3.5, "hihat_open", 90), (2, 3.5, "hihat_closed", 70)]
    + [(bar, beat, "snare", 100) for bar in (1, 2) for beat in (1, 3)]
    + [(1, 0, "kick", 100), (1, 2, "kick", 100), (1, 2.75, "kick", 80), (2, 0, "kick", 100), (2, 2.5, "kick", 90)]
    + [(2, 3.25, "snare", 60), (2, 3.75, "tom_high", 90), (2, 3.5, "tom_low", 90), (2, 0, "crash", 120)]
)


def drifting_beats(n=12, start=0.5):
    """A band that drifts from 120 to 126 BPM: the grid follows the detected beats, not one tempo."""
    beats, t = [], start
    for i in range(n):
        beats.append(round(t, 4))
        t += 60.0 / (120 + 6 * i / (n - 1))
    return beats


def rock():
    beats = drifting_beats()
    return Transcription(events=performance(ROCK, beats), tempo=122.0, beats=tuple(beats), downbeats=(beats[0], beats[4], beats[8]),
                         source=SourceInfo(name="rock.wav"))


def test_every_hit_is_read_back_in_its_bar_at_its_position():
    xml = render_musicxml(rock())
    hits, _ = read_back(xml)
    assert hits == expected(ROCK)
    counts = Counter(drum for _, _, drum in hits)
    assert counts == Counter(drum(i) for _, _, i, _ in ROCK)


def test_staff_voices_stems_time_signature_and_tempo():
    _, score = read_back(render_musicxml(rock()))
    part = score.parts[0]
    assert [ts.ratioString for ts in part.recurse().getElementsByClass(music21.meter.TimeSignature)] == ["4/4"]
    assert part.recurse().getElementsByClass(music21.clef.Clef)[0].sign == "percussion"
    marks = part.recurse().getElementsByClass(music21.tempo.MetronomeMark)
    assert marks[0].number == 122
    for measure in part.getElementsByClass(music21.stream.Measure):
        voices = measure.getElementsByClass(music21.stream.Voice)
        assert len(voices) == 2  # hands and feet
        for voice in voices:
            assert voice.duration.quarterLength == 4.0  # every voice fills its bar (notes and rests)
            for n in voice.notes:
                parts = getattr(n, "notes", None) or [n]
                feet = {KEY[(f"{p.displayStep}{p.displayOctave}", p.notehead)] in FEET for p in parts}
                assert feet == {voice.id == "2"}
                stems = {p.stemDirection for p in parts} if len(parts) > 1 else {n.stemDirection}
                assert stems == {"down" if voice.id == "2" else "up"}


def test_beams_rests_accents_and_the_open_hi_hat():
    xml = render_musicxml(rock())
    _, score = read_back(xml)
    bar1 = score.parts[0].getElementsByClass(music21.stream.Measure)[0]
    hands, feet = bar1.getElementsByClass(music21.stream.Voice)
    # 8th-note hats: each beat a beamed pair
    starts = [n.beams.getTypes()[0] for n in hands.notes if len(n.beams)]
    assert starts == ["start", "stop"] * 4
    # feet in bar 1: kick 1, rest, kick 3 (dotted 8th) + kick on 3a (16th, hooked back), rest
    assert [(type(n).__name__, n.quarterLength) for n in feet.notesAndRests] == [
        ("Unpitched", 1.0), ("Rest", 1.0), ("Unpitched", 0.75), ("Unpitched", 0.25), ("Rest", 1.0)]
    assert [b.type for b in feet.notes[1].beams] == ["start"] and [b.type for b in feet.notes[2].beams] == ["stop", "partial"]
    accents = [n for n in hands.notes if any(isinstance(a, music21.articulations.Accent) for a in n.articulations)]
    assert len(accents) == 4  # the hats on the beat (velocity 110)
    # the open hat: an x head with the "o" above, its own instrument; written as <technical><open-string/>,
    # the mark MuseScore 3 and 4 show as their open hi-hat "o" and music21 reads (not 4.0's <open/>)
    root = ET.fromstring(xml.split("\n", 2)[2])
    opens = [n for n in root.iter("note") if n.find("notations/technical/open-string") is not None]
    assert len(opens) == 1 and opens[0].find("instrument").get("id") == "P1-I47"
    assert opens[0].find("notehead").text == "x" and not list(root.iter("open"))
    marked = [n for n in hands.notes for p in (getattr(n, "notes", None) or [n])
              if any(isinstance(a, music21.articulations.OpenString) for a in p.articulations + n.articulations)]
    assert [(float(n.getOffsetInHierarchy(bar1)), KEY[(f"{n.displayStep}{n.displayOctave}", n.notehead)]) for n in marked] == [(3.5, "hihat")]


def test_swung_bars_are_written_as_triplets():
    beats = [0.5 * i for i in range(9)]
    pattern = [(1, beat + third, "ride", 80) for beat in range(4) for third in (0, Fraction(2, 3))]
    pattern += [(1, 0, "kick", 100), (1, 2, "kick", 100), (1, 1, "snare", 100), (1, 3, "snare", 100)]
    pattern += [(2, beat, "ride", 80) for beat in range(4)] + [(2, Fraction(1, 2), "ride", 80)]
    t = Transcription(events=performance(pattern, beats, jitter=0.006), tempo=120.0, beats=tuple(beats), downbeats=(0.0, 2.0))
    hits, score = read_back(render_musicxml(t))
    assert hits == expected(pattern)
    bar1, bar2 = score.parts[0].getElementsByClass(music21.stream.Measure)
    rides = [n for n in bar1.recurse().notes if n.quarterLength < 1]
    assert rides and all(n.duration.tuplets and n.duration.tuplets[0].numberNotesActual == 3 for n in rides)
    assert not any(n.duration.tuplets for n in bar2.recurse().notes)  # straight 8ths stay straight


def test_a_drum_hit_twice_in_one_cell_keeps_both_as_a_grace_note(musicxml_schema):
    # a flam on the snare (quiet grace 30 ms before the loud hit) and a fast double on the kick (40 ms)
    beats = [0.5 * i for i in range(5)]
    events = (DrumEvent(0.0, "kick", 36, 100, 0.9), DrumEvent(0.97, "snare", 38, 40, 0.9), DrumEvent(1.0, "snare", 38, 110, 0.9),
              DrumEvent(1.5, "kick", 36, 70, 0.9), DrumEvent(1.54, "kick", 36, 100, 0.9), DrumEvent(1.0, "hihat_closed", 42, 80, 0.9))
    xml = render_musicxml(Transcription(events=events, tempo=120.0, beats=tuple(beats), downbeats=(0.0,)))
    assert not list(musicxml_schema.iter_errors(xml.split("\n", 2)[2]))
    hits, score = read_back(xml)
    assert Counter(d for _, _, d in hits) == Counter({"kick": 3, "snare": 2, "hihat": 1})  # nothing lost
    graces = [n for n in score.recurse().notes if n.duration.isGrace]
    assert [(KEY[(f"{n.displayStep}{n.displayOctave}", n.notehead)], n.getOffsetInHierarchy(score.parts[0].getElementsByClass(music21.stream.Measure)[0])) for n in graces] == [("snare", 2.0), ("kick", 3.0)]
    root = ET.fromstring(xml.split("\n", 2)[2])
    assert [float(n.get("dynamics")) for n in root.iter("note") if n.find("grace") is not None] == pytest.approx([100 * 40 / 90, 100 * 70 / 90], abs=0.01)  # the quieter hits


def test_a_pickup_is_bar_zero_cut_to_its_first_hit():
    beats = [2.0 + 0.5 * i for i in range(8)]
    events = (DrumEvent(1.5, "tom_high", 48, 90, 0.9), DrumEvent(1.75, "tom_low", 43, 90, 0.9),
              DrumEvent(2.0, "crash", 49, 120, 0.9), DrumEvent(2.0, "kick", 36, 120, 0.9))
    xml = render_musicxml(Transcription(events=events, tempo=120.0, beats=tuple(beats), downbeats=(2.0,)))
    hits, score = read_back(xml)
    pickup, bar1 = score.parts[0].getElementsByClass(music21.stream.Measure)
    assert (pickup.number, pickup.duration.quarterLength) == (0, 1.0)
    assert '<measure number="0" implicit="yes">' in xml
    assert hits == [(0, 0, "tom_high"), (0, Fraction(1, 2), "tom_low"), (1, 0, "crash"), (1, 0, "kick")]


def test_a_tempo_mark_where_the_tempo_changes_and_stays():
    beats, t = [], 0.0
    bar_bpm = [100, 100, 110, 110, 120, 120, 123, 120, 130, 130]  # bar 7 pushed for one bar only
    for bpm in bar_bpm:
        for _ in range(4):
            beats.append(round(t, 4))
            t += 60.0 / bpm
    beats.append(round(t, 4))
    pattern = [(bar, beat, "snare", 90) for bar in range(1, len(bar_bpm) + 1) for beat in range(4)]
    t = Transcription(events=performance(pattern, beats, jitter=0.0), tempo=115.0, beats=tuple(beats), downbeats=tuple(beats[::4]))
    xml = render_musicxml(t)
    root = ET.fromstring(xml.split("\n", 2)[2])
    marks = [(m.get("number"), d.find("direction-type/metronome/per-minute").text, round(float(d.find("sound").get("tempo"))))
             for m in root.iter("measure") for d in m.iter("direction")]
    assert marks == [("1", "100", 100), ("3", "110", 110), ("5", "120", 120), ("9", "130", 130)]
    assert len(list(root.iter("sound"))) == 4  # no other tempo for a notation program to show
    assert read_back(xml)[0] == expected(pattern)


def test_a_steady_groove_has_one_tempo_mark_however_the_beats_wobble():
    rng = random.Random(2)
    beats = [round(0.3 + 0.6 * i + rng.uniform(-0.012, 0.012), 4) for i in range(33)]  # 100 BPM, 8 bars
    per_bar = [240 / (b - a) for a, b in zip(beats[::4], beats[4::4])]
    assert max(per_bar) - min(per_bar) >= 1  # bars the old rule (1 BPM) marked again
    pattern = [(bar, beat, "kick" if beat % 2 == 0 else "snare", 90) for bar in range(1, 9) for beat in range(4)]
    t = Transcription(events=performance(pattern, beats), tempo=100.0, beats=tuple(beats), downbeats=tuple(beats[::4]))
    root = ET.fromstring(render_musicxml(t).split("\n", 2)[2])
    assert [m.text for m in root.iter("per-minute")] == ["100"] and len(list(root.iter("sound"))) == 1


def test_the_last_bar_ends_with_a_final_barline():
    _, score = read_back(render_musicxml(rock()))
    measures = score.parts[0].getElementsByClass(music21.stream.Measure)
    assert measures[-1].rightBarline is not None and measures[-1].rightBarline.type == "final"
    assert all(m.rightBarline is None for m in measures[:-1])


def test_no_hits_is_one_bar_of_rest_and_bad_bars_are_one_line():
    xml = render_musicxml(Transcription(events=(), tempo=100.0))
    _, score = read_back(xml)
    (measure,) = score.parts[0].getElementsByClass(music21.stream.Measure)
    assert measure.duration.quarterLength == 4.0 and not measure.recurse().notes
    with pytest.raises(InputError, match="outside"):
        render_musicxml(rock(), bars="7-9")
    assert read_back(render_musicxml(rock(), bars="2-2"))[0] == [h for h in expected(ROCK) if h[0] == 2]


def test_document_is_musicxml_4_partwise():
    xml = render_musicxml(rock())
    lines = xml.splitlines()
    assert lines[0] == '<?xml version="1.0" encoding="UTF-8"?>'
    assert lines[1].startswith('<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN"')
    root = ET.fromstring("\n".join(lines[2:]))
    assert root.tag == "score-partwise" and root.get("version") == "4.0"
    assert root.find("work/work-title").text == "rock.wav"
    instruments = {i.get("id"): i.find("instrument-name").text for i in root.iter("score-instrument")}
    assert instruments["P1-I37"] == "Bass Drum" and instruments["P1-I43"] == "Closed Hi-Hat"
    keys = {m.get("id"): int(m.find("midi-unpitched").text) for m in root.iter("midi-instrument")}
    assert keys == {"P1-I%d" % (NOTES[n] + 1): NOTES[n] + 1 for n in ("kick", "snare", "hihat_closed", "hihat_open", "tom_low", "tom_high", "crash")}
    used = {i.get("id") for i in root.iter("instrument")}
    assert used == set(instruments)  # every note names its instrument, every instrument is used


def test_every_document_is_valid_against_the_musicxml_4_schema(musicxml_schema):
    swung = [DrumEvent(i * 0.5 + off, "ride", 51, 80, 0.9) for i in range(4) for off in (0.0, 1 / 3)]
    pickup = (DrumEvent(1.5, "tom_high", 48, 90, 0.9), DrumEvent(2.0, "kick", 36, 120, 0.9), DrumEvent(2.25, "hihat_pedal", 44, 70, 0.9))
    everything = [DrumEvent(0.125 * i, name, note, 60 + i, 0.9) for i, (name, note) in enumerate(NOTES.items())]
    documents = [
        render_musicxml(rock()),
        render_musicxml(Transcription(events=tuple(swung), tempo=120.0, beats=(0.0, 0.5, 1.0, 1.5), downbeats=(0.0,))),
        render_musicxml(Transcription(events=pickup, tempo=120.0, beats=(2.0, 2.5, 3.0, 3.5), downbeats=(2.0,))),
        render_musicxml(Transcription(events=tuple(everything), tempo=97.0)),
        render_musicxml(Transcription(events=(), tempo=100.0)),
    ]
    for xml in documents:
        errors = list(musicxml_schema.iter_errors(xml.split("\n", 2)[2]))
        assert not errors, errors[0]
