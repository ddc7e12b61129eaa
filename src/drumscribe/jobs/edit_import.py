"""Corrections made elsewhere, read back as events: a MIDI file from a DAW, or a transcription JSON.

MIDI: the notes on channel 10 (on every channel when the file has none there, as some DAWs
export a drum track on channel 1), in seconds through the file's own tempo map, read through a
note map (``show --note-map`` writes with one). General MIDI's other drum notes (acoustic bass
drum, electric snare, the six toms, second crash, china, splash, second ride, ride bell) fold
onto the nearest drumscribe instrument; notes no drum maps to are counted and left out.

Alignment: ``show`` writes MIDI aligned to the audio (MIDI time = audio time) or, with
``--midi-align bar``, shifted by the job's ``midi_offset``. ``auto`` picks the one under which
more notes land on a hit of the job of the same instrument (a fixed file keeps most hits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from drumscribe.errors import InputError
from drumscribe.transcription.result import Transcription

ALIGNS = ("auto", "audio", "bar")
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
MATCH_WINDOW = 0.05  # s: a note this close to a job's hit of the same drum lines up with it
SNAP = 0.003  # s: a note this close to a job's hit of the same drum IS that hit (MIDI ticks round times by ~1 ms)
EARLY = 0.05  # s: a note this far before 0 is put at 0 (rounding); earlier is a wrong alignment
DRUM_CHANNEL = 9
MAX_BYTES = 64 * 1024 * 1024

# General MIDI percussion notes drumscribe has no instrument of its own for
GM_EXTRA = {35: "kick", 40: "snare", 41: "tom_low", 47: "tom_mid", 50: "tom_high",
            52: "crash", 55: "crash", 57: "crash", 53: "ride", 59: "ride"}


@dataclass(frozen=True)
class Correction:
    name: str  # the file's name, for messages
    events: tuple[dict[str, Any], ...]  # time, instrument, velocity (confidence 1: a person said so)
    via: str  # "import-midi" or "import-json"
    parent: str | None = None  # JSON from an editor: the revision it was edited from
    job_id: str | None = None  # JSON: the job the document names
    ignored_notes: Mapping[int, int] = field(default_factory=dict)
    align: str | None = None


def note_to_instrument(note_map: Any = None) -> dict[int, str]:
    """MIDI note -> instrument for reading a file written with ``note_map`` (default General MIDI)."""
    from drumscribe.transcription.instruments import INSTRUMENTS
    from drumscribe.transcription.notemap import DEFAULT_NOTE_MAP, load_note_map

    notes = load_note_map(note_map)
    table: dict[int, str] = {}
    if notes.name == DEFAULT_NOTE_MAP:
        table.update(GM_EXTRA)
    for name, instrument in INSTRUMENTS.items():  # every instrument: the map's note, or its GM note
        table.setdefault(notes.note(name, instrument.note), name)
    return table


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{path.name} is {size / 1048576:.0f} MB: too big for a drum part")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a MIDI or JSON file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_correction(path: Any, model: Transcription, *, note_map: Any = None, midi_align: str = "auto") -> Correction:
    """The events of a MIDI or JSON file, in the job's audio time (``model``: the job's transcription)."""
    if midi_align not in ALIGNS:
        raise InputError(f"--midi-align must be one of {', '.join(ALIGNS)}, got {midi_align!r}")
    path = Path(path)
    data = _read_bytes(path)
    if data[:4] == b"MThd" or path.suffix.lower() in MIDI_SUFFIXES:
        return read_midi(data, model, name=path.name, note_map=note_map, midi_align=midi_align)
    if data.lstrip()[:1] == b"{":
        return read_json(data, name=path.name)
    raise InputError(f"{path.name} is neither a MIDI file nor a transcription JSON")


def read_json(data: bytes, *, name: str = "the file") -> Correction:
    t = Transcription.from_json(data)  # one-line InputError for anything that is not one
    edit = json.loads(data).get("edit")
    parent = None
    if isinstance(edit, Mapping):  # the job's edited.json, or an editor page's download (no revision: unsaved)
        parent = edit.get("revision") or edit.get("parent") or None
        parent = parent if isinstance(parent, str) else None
    events = tuple({"time": e.time, "instrument": e.instrument, "velocity": e.velocity, "confidence": e.confidence}
                   for e in t.events)
    return Correction(name, events, "import-json", parent=parent, job_id=t.job_id)


def midi_notes(data: bytes, *, name: str = "the file") -> list[tuple[float, int, int]]:
    """(MIDI seconds, note, velocity) of every drum note-on, through the file's tempo map."""
    import io

    import mido

    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
        if mid.type == 2:
            raise InputError(f"{name} is a type 2 MIDI file (independent patterns): export it as type 0 or 1")
        found, now = [], 0.0
        for msg in mid:  # merged tracks, delta times in seconds through every set_tempo
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                found.append((now, msg.channel, msg.note, msg.velocity))
    except InputError:
        raise
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InputError(f"{name} is not a readable MIDI file ({exc})") from None
    on_drums = [n for n in found if n[1] == DRUM_CHANNEL]
    return [(t, note, vel) for t, _, note, vel in (on_drums or found)]


def _times_by_instrument(model: Transcription) -> dict[str, list[float]]:
    by_instrument: dict[str, list[float]] = {}
    for e in sorted(model.events, key=lambda e: e.time):
        by_instrument.setdefault(e.instrument, []).append(e.time)
    return by_instrument


def _nearest(times: list[float], t: float) -> float | None:
    import bisect

    i = bisect.bisect_left(times, t)
    near = [times[j] for j in (i - 1, i) if 0 <= j < len(times)]
    return min(near, key=lambda x: abs(x - t)) if near else None


def _lined_up(events: list[tuple[float, str]], model: Transcription, shift: float) -> int:
    import bisect

    by_instrument = _times_by_instrument(model)
    hits = 0
    for t, instrument in events:
        times = by_instrument.get(instrument, [])
        i = bisect.bisect_left(times, t + shift - MATCH_WINDOW)
        hits += i < len(times) and times[i] <= t + shift + MATCH_WINDOW
    return hits


def read_midi(data: bytes, model: Transcription, *, name: str = "the file", note_map: Any = None,
              midi_align: str = "auto") -> Correction:
    table = note_to_instrument(note_map)
    notes = midi_notes(data, name=name)
    ignored: dict[int, int] = {}
    kept = []
    for t, note, velocity in notes:
        if note in table:
            kept.append((t, table[note], velocity))
        else:
            ignored[note] = ignored.get(note, 0) + 1
    if not kept:
        raise InputError(f"{name} has no drum notes drumscribe knows" + (f" (notes {', '.join(map(str, sorted(ignored)))})" if ignored else ""),
                         hint="--note-map names the map it was written with")
    align = midi_align
    if align == "auto":
        pairs = [(t, i) for t, i, _ in kept]
        align = "bar" if model.midi_offset and _lined_up(pairs, model, -model.midi_offset) > _lined_up(pairs, model, 0.0) else "audio"
    shift = -model.midi_offset if align == "bar" else 0.0
    by_instrument = _times_by_instrument(model)
    confidence = {(e.instrument, e.time): e.confidence for e in model.events}
    events = []
    for t, instrument, velocity in kept:
        time = t + shift
        if time < -EARLY:
            raise InputError(f"{name}: a note at {time:.3f} s falls before the recording starts",
                             hint="try the other --midi-align (audio or bar)")
        near = _nearest(by_instrument.get(instrument, []), time)
        if near is not None and abs(near - time) <= SNAP:  # the job's own hit, through MIDI's ticks and back
            events.append({"time": near, "instrument": instrument, "velocity": velocity,
                           "confidence": confidence[(instrument, near)]})
        else:
            events.append({"time": max(0.0, time), "instrument": instrument, "velocity": velocity, "confidence": 1.0})
    return Correction(name, tuple(events), "import-midi", ignored_notes=ignored, align=align)
