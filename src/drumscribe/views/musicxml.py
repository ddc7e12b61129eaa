"""A transcription as MusicXML 4.0 (partwise): one drum-set part in standard drum notation.

Opens in MuseScore, Dorico, Sibelius, Finale... The hits are laid on the detected beats bar by
bar and quantised as in the tab (``views.grid``: 16ths, or 8th-note triplets where they fit);
bar numbers are the tab's (a pickup before the first downbeat is bar 0, cut to its first hit).

Staff positions follow the common drum-set key (Weinberg / MuseScore's default drum set), in a
percussion clef: kick F4 and hi-hat pedal D4 (x) in voice 2, stems down (feet); snare C5, side
stick C5 (x), toms E5 / D5 / A4 (high, mid, low), hi-hat G5 (x; open hats marked with the
"o" above), ride F5 (x), crash A5 (x) in voice 1, stems up (hands). Each instrument is an
unpitched note with its own ``score-instrument`` and General MIDI key on channel 10, so players
sound the right drum. A note or chord with a hit at or above ``tab.ACCENT`` velocity carries an
accent; each note's velocity goes in its ``dynamics`` attribute for playback. The open hi-hat's
"o" is ``<technical><open-string/>``: MuseScore 3 and 4 read it as their open mark (the one
MuseScore 3 itself writes), music21 as ``OpenString``; the MusicXML 4.0 ``<open/>`` is ignored by
MuseScore 3 and music21, so it would leave the open hats looking closed.

Within a beat a note lasts until the next hit of its voice (16th, 8th, dotted 8th, quarter, or
triplet 8th / quarter), silence is written as rests, and 8ths and 16ths are beamed per beat.
The tempo is a metronome mark (and the same ``<sound tempo>`` for playback) at the start and
wherever the tempo really changes: two bars in a row more than 2 % off the tempo marked so far
(``_tempo_marks``), so the beat tracker's jitter writes no marks (MuseScore shows every
``<sound tempo>`` as a tempo mark). The last bar ends with a final barline. When a drum is hit twice within one cell (a
flam, or 32nds), the quieter hits become grace notes.
Built with ``xml.etree`` (no dependency); the tests read it back with music21.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Sequence

from drumscribe import __version__
from drumscribe.errors import InputError
from drumscribe.transcription.instruments import INSTRUMENTS
from drumscribe.views.grid import Bar, quantize
from drumscribe.views.tab import ACCENT, parse_bars

DIVISIONS = 12  # per quarter note: 16ths (3) and triplet 8ths (4) are whole numbers
DOCTYPE = '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" "http://www.musicxml.org/dtds/partwise.dtd">'
PART = "P1"
HANDS, FEET = 1, 2
TEMPO_CHANGE = 0.02  # a bar this far off the marked tempo (and the next bar too) gets a new tempo mark


@dataclass(frozen=True)
class Placement:
    step: str
    octave: int
    head: str | None  # notehead other than the normal one
    voice: int
    name: str  # shown by notation programs in the instrument list


STAFF: dict[str, Placement] = {
    "kick": Placement("F", 4, None, FEET, "Bass Drum"),
    "hihat_pedal": Placement("D", 4, "x", FEET, "Pedal Hi-Hat"),
    "snare": Placement("C", 5, None, HANDS, "Snare Drum"),
    "side_stick": Placement("C", 5, "x", HANDS, "Side Stick"),
    "tom_high": Placement("E", 5, None, HANDS, "High Tom"),
    "tom_mid": Placement("D", 5, None, HANDS, "Mid Tom"),
    "tom_low": Placement("A", 4, None, HANDS, "Low Tom"),
    "hihat_closed": Placement("G", 5, "x", HANDS, "Closed Hi-Hat"),
    "hihat_open": Placement("G", 5, "x", HANDS, "Open Hi-Hat"),
    "ride": Placement("F", 5, "x", HANDS, "Ride Cymbal"),
    "crash": Placement("A", 5, "x", HANDS, "Crash Cymbal"),
}
OTHER = Placement("B", 4, None, HANDS, "Percussion")  # an instrument this table does not know

# (cells at the bar's division) -> (divisions, type, dotted, triplet)
LENGTHS = {
    4: {1: (3, "16th", False, False), 2: (6, "eighth", False, False), 3: (9, "eighth", True, False), 4: (12, "quarter", False, False)},
    3: {1: (4, "eighth", False, True), 2: (8, "quarter", False, True), 3: (12, "quarter", False, False)},
}


def instrument_id(instrument: str) -> str:
    """MuseScore's convention: P1-I<MIDI key + 1>."""
    note = INSTRUMENTS[instrument].note if instrument in INSTRUMENTS else 0
    return f"{PART}-I{note + 1}"


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrib: Any) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.replace("_", "-"): str(v) for k, v in attrib.items()})
    if text is not None:
        element.text = str(text)
    return element


@dataclass
class Item:
    """One note, chord or rest of a voice: ``hits`` empty for a rest."""

    cells: int
    division: int
    hits: list[Any]
    beam: list[tuple[int, str]] | None = None  # (level, begin|continue|end|forward hook|backward hook)
    tuplet: str | None = None  # start | stop
    graces: list[Any] = field(default_factory=list)  # quieter hits of a drum in the same cell (flams, 32nds)


def _beat_items(slots: dict[int, list[Any]], beat: int, division: int, graces: dict[int, list[Any]] | None = None) -> list[Item]:
    """The notes and rests of one beat of one voice."""
    first = beat * division
    onsets = sorted(s for s in slots if first <= s < first + division)
    if not onsets:
        return [Item(division, division, [])]
    items = [Item(onsets[0] - first, division, [])] if onsets[0] > first else []
    for s, nxt in zip(onsets, onsets[1:] + [first + division]):
        items.append(Item(nxt - s, division, slots[s], graces=(graces or {}).get(s, [])))
    if division == 3 and len(items) > 1:
        items[0].tuplet, items[-1].tuplet = "start", "stop"
    # beams: runs of 8ths and 16ths not broken by a rest
    run: list[Item] = []
    for item in items + [Item(0, division, [])]:
        if item.hits and LENGTHS[division][item.cells][1] in ("eighth", "16th"):
            run.append(item)
            continue
        if len(run) >= 2:
            for i, it in enumerate(run):
                it.beam = [(1, "begin" if i == 0 else "end" if i == len(run) - 1 else "continue")]
            sixteenth = [LENGTHS[division][it.cells][1] == "16th" for it in run]
            for i, it in enumerate(run):
                if not sixteenth[i]:
                    continue
                before = i > 0 and sixteenth[i - 1]
                after = i + 1 < len(run) and sixteenth[i + 1]
                kind = ("continue" if before and after else "end" if before else "begin" if after
                        else "forward hook" if i == 0 else "backward hook")
                it.beam.append((2, kind))
        run = []
    return items


def _voice_items(bar: Bar, voice: int, first_beat: int) -> list[Item]:
    """Notes, chords and rests of one voice; a drum hit twice in one cell is written as a grace
    note (the quieter hits, in time order) before its loudest hit, as a flam or a drag is."""
    same_cell: dict[tuple[int, str], list[Any]] = {}
    for slot, event in bar.hits:
        if STAFF.get(event.instrument, OTHER).voice == voice:
            same_cell.setdefault((slot, event.instrument), []).append(event)
    slots: dict[int, list[Any]] = {}
    graces: dict[int, list[Any]] = {}
    for (slot, _), events in sorted(same_cell.items(), key=lambda kv: (kv[0][0], _order(kv[0][1]))):
        main = max(events, key=lambda e: e.velocity)
        slots.setdefault(slot, []).append(main)
        graces.setdefault(slot, []).extend(sorted((e for e in events if e is not main), key=lambda e: e.time))
    items: list[Item] = []
    for beat in range(first_beat, bar.beat_count):
        items += _beat_items(slots, beat, bar.division, graces)
    return items


def _order(instrument: str) -> tuple[int, str]:
    """Chord members from the bottom of the staff up (how notation programs list them)."""
    place = STAFF.get(instrument, OTHER)
    return (place.octave * 7 + "CDEFGAB".index(place.step), instrument)


def _write_item(measure: ET.Element, item: Item, voice: int) -> None:
    divisions, kind, dotted, triplet = LENGTHS[item.division][item.cells]
    if not item.hits:
        note = _sub(measure, "note")
        _sub(note, "rest")
        _sub(note, "duration", divisions)
        _sub(note, "voice", voice)
        _sub(note, "type", kind)
        _extras(note, dotted, triplet, item)
        return
    for event in item.graces:
        _write_grace(measure, event, voice, many=len(item.graces) > 1)
    for index, event in enumerate(item.hits):
        place = STAFF.get(event.instrument, OTHER)
        note = _sub(measure, "note", dynamics=f"{100 * event.velocity / 90:.2f}")
        if index:
            _sub(note, "chord")
        unpitched = _sub(note, "unpitched")
        _sub(unpitched, "display-step", place.step)
        _sub(unpitched, "display-octave", place.octave)
        _sub(note, "duration", divisions)
        _sub(note, "instrument", id=instrument_id(event.instrument))
        _sub(note, "voice", voice)
        _sub(note, "type", kind)
        _dot_and_triplet(note, dotted, triplet)
        _sub(note, "stem", "up" if voice == HANDS else "down")
        if place.head:
            _sub(note, "notehead", place.head)
        for level, value in (item.beam or []) if index == 0 else []:
            _sub(note, "beam", value, number=level)
        notations = None
        if item.tuplet and index == 0:
            notations = _sub(note, "notations")
            _sub(notations, "tuplet", type=item.tuplet, **({"bracket": "yes"} if item.tuplet == "start" else {}))
        if index == 0 and any(h.velocity >= ACCENT for h in item.hits):  # one accent for the chord
            notations = notations if notations is not None else _sub(note, "notations")
            _sub(_sub(notations, "articulations"), "accent", placement="above" if voice == HANDS else "below")
        if event.instrument == "hihat_open":  # the "o" every reader shows (see the module docstring)
            notations = notations if notations is not None else _sub(note, "notations")
            _sub(_sub(notations, "technical"), "open-string", placement="above")


def _write_grace(measure: ET.Element, event: Any, voice: int, *, many: bool) -> None:
    """A grace note (no duration): one slashed 8th for a flam, 16ths for a drag or more."""
    place = STAFF.get(event.instrument, OTHER)
    note = _sub(measure, "note", dynamics=f"{100 * event.velocity / 90:.2f}")
    _sub(note, "grace", **({} if many else {"slash": "yes"}))
    unpitched = _sub(note, "unpitched")
    _sub(unpitched, "display-step", place.step)
    _sub(unpitched, "display-octave", place.octave)
    _sub(note, "instrument", id=instrument_id(event.instrument))
    _sub(note, "voice", voice)
    _sub(note, "type", "16th" if many else "eighth")
    _sub(note, "stem", "up" if voice == HANDS else "down")
    if place.head:
        _sub(note, "notehead", place.head)


def _dot_and_triplet(note: ET.Element, dotted: bool, triplet: bool) -> None:
    """The dot and the 3-in-the-time-of-2 of a note or rest (after its type, in schema order)."""
    if dotted:
        _sub(note, "dot")
    if triplet:
        modification = _sub(note, "time-modification")
        _sub(modification, "actual-notes", 3)
        _sub(modification, "normal-notes", 2)


def _extras(note: ET.Element, dotted: bool, triplet: bool, item: Item) -> None:
    """dot, time-modification and tuplet of a rest, in schema order."""
    _dot_and_triplet(note, dotted, triplet)
    if item.tuplet:
        _sub(_sub(note, "notations"), "tuplet", type=item.tuplet, **({"bracket": "yes"} if item.tuplet == "start" else {}))


def _tempo_marks(grid: Sequence[Bar]) -> dict[int, float]:
    """The tempo (BPM) to mark at each bar where it really changes, and at the first bar.

    A bar's tempo is its detected beats' (4 beats average out most of the tracker's jitter). A
    change is a bar more than ``TEMPO_CHANGE`` off the tempo marked so far whose next bar is off
    the same way (a change that stays; one bar's push is the drummer's, not the song's); each
    mark shows the median tempo of the bars it covers. A pickup takes the first mark."""
    tempos = [60.0 * bar.beat_count / (bar.beats[-1] - bar.beats[0]) for bar in grid]
    full = [i for i, bar in enumerate(grid) if bar.number > 0] or list(range(len(grid)))
    starts = [0]
    for k, i in enumerate(full[1:], 1):
        mark = median(tempos[j] for j in full if starts[-1] <= j < i)
        off = [(tempos[j] - mark) / mark for j in full[k:k + 2]]
        if len(off) == 2 and all(abs(o) > TEMPO_CHANGE for o in off) and off[0] * off[1] > 0:
            starts.append(i)
    marks: dict[int, float] = {}
    shown = None
    for start, end in zip(starts, starts[1:] + [len(grid)]):
        covered = [tempos[j] for j in full if start <= j < end] or [tempos[start]]
        tempo = median(covered)
        if shown is None or round(tempo) != round(shown):  # a mark that would read the same is left out
            marks[start] = shown = tempo
    return marks


def _measure(part: ET.Element, bar: Bar, *, first: bool, last: bool, tempo: float | None, beats_shown: int | None) -> None:
    first_beat = min((slot // bar.division for slot, _ in bar.hits), default=0) if bar.number == 0 else 0
    measure = _sub(part, "measure", number=bar.number, **({"implicit": "yes"} if bar.number == 0 else {}))
    if first or beats_shown != bar.beat_count:
        attributes = _sub(measure, "attributes")
        if first:
            _sub(attributes, "divisions", DIVISIONS)
            _sub(_sub(attributes, "key", print_object="no"), "fifths", 0)
        time = _sub(attributes, "time")
        _sub(time, "beats", bar.beat_count)
        _sub(time, "beat-type", 4)
        if first:
            _sub(_sub(attributes, "clef"), "sign", "percussion")
            _sub(_sub(attributes, "staff-details"), "staff-lines", 5)
    if tempo:
        direction = _sub(measure, "direction", placement="above")
        metronome = _sub(_sub(direction, "direction-type"), "metronome", parentheses="no")
        _sub(metronome, "beat-unit", "quarter")
        _sub(metronome, "per-minute", f"{tempo:.0f}")
        _sub(direction, "sound", tempo=f"{tempo:.2f}")
    length = (bar.beat_count - first_beat) * DIVISIONS
    hands = _voice_items(bar, HANDS, first_beat)
    feet = _voice_items(bar, FEET, first_beat)
    if all(not item.hits for item in hands):
        note = _sub(measure, "note")
        _sub(note, "rest", measure="yes")
        _sub(note, "duration", length)
        _sub(note, "voice", HANDS)
    else:
        for item in hands:
            _write_item(measure, item, HANDS)
    if any(item.hits for item in feet):
        _sub(_sub(measure, "backup"), "duration", length)
        for item in feet:
            _write_item(measure, item, FEET)
    if last:
        _sub(_sub(measure, "barline", location="right"), "bar-style", "light-heavy")


def render_musicxml(transcription: Any, bars: str | Sequence[int] | None = None) -> str:
    """MusicXML 4.0 (partwise) text of ``transcription``, optionally only bars ``"A-B"``."""
    grid = quantize(transcription)
    chosen = parse_bars(bars) if bars is not None and not isinstance(bars, tuple) else bars
    if chosen and grid:
        grid = [bar for bar in grid if chosen[0] <= bar.number <= chosen[1]]
        if not grid:
            raise InputError(f"bars {chosen[0]}-{chosen[1]} are outside this transcription")
    if not grid:  # no hits: one bar of rest at the detected tempo
        period = 60.0 / (transcription.tempo or 120.0)
        grid = [Bar(1, [i * period for i in range(5)])]

    root = ET.Element("score-partwise", version="4.0")
    title = transcription.source.name or transcription.job_id or "drumscribe transcription"
    _sub(_sub(root, "work"), "work-title", title)
    encoding = _sub(_sub(root, "identification"), "encoding")
    _sub(encoding, "software", f"drumscribe {__version__}")
    if (transcription.created_at or "")[:4].isdigit():
        _sub(encoding, "encoding-date", transcription.created_at[:10])
    score_part = _sub(_sub(root, "part-list"), "score-part", id=PART)
    _sub(score_part, "part-name", "Drum Set")
    _sub(score_part, "part-abbreviation", "Dr.")
    present = sorted({e.instrument for e in transcription.events}, key=instrument_id)
    for name in present:
        _sub(_sub(score_part, "score-instrument", id=instrument_id(name)), "instrument-name", STAFF.get(name, OTHER).name)
    for name in present:
        midi = _sub(score_part, "midi-instrument", id=instrument_id(name))
        _sub(midi, "midi-channel", 10)
        _sub(midi, "midi-unpitched", int(instrument_id(name).rsplit("I", 1)[1]))

    part = _sub(root, "part", id=PART)
    marks = _tempo_marks(grid)
    beats_shown = None
    for index, bar in enumerate(grid):
        _measure(part, bar, first=index == 0, last=index == len(grid) - 1, tempo=marks.get(index), beats_shown=beats_shown)
        beats_shown = bar.beat_count
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"
