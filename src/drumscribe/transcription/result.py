"""The result of a transcription and its versioned JSON document.

``Transcription.to_json()`` writes the document described field by field in
``docs/transcription.md``; ``Transcription.from_json()`` reads it back (equal to the original).
The ``schema`` field names the format and its major version: a reader accepts every document
of the same major version and refuses a newer one with a one-line error.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from drumscribe import __version__
from drumscribe.errors import InputError
from drumscribe.transcription.instruments import INSTRUMENTS

SCHEMA_NAME = "drumscribe.transcription"
SCHEMA_VERSION = 1
SCHEMA = f"{SCHEMA_NAME}/{SCHEMA_VERSION}"


@dataclass(frozen=True)
class DrumEvent:
    time: float  # seconds from the start of the audio (the onset, model offset applied)
    instrument: str  # a name from drumscribe.transcription.instruments
    note: int  # General MIDI percussion note
    velocity: int  # 1-127
    confidence: float  # the model's activation at the onset, 0-1


@dataclass(frozen=True)
class SourceInfo:
    key: str | None = None  # storage key of the original (uploads/...), when stored
    name: str | None = None  # the file name the user gave
    sha256: str | None = None  # hex SHA-256 of the original bytes
    duration: float = 0.0  # seconds
    sample_rate: int = 0  # of the original
    channels: int = 0  # of the original
    stored_as: str | None = None  # "flac": ``key`` holds a lossless FLAC of the WAV the user gave (``sha256`` is the WAV's)


@dataclass(frozen=True)
class ModelInfo:
    name: str = ""
    version: str = ""
    classes: tuple[str, ...] = ()
    thresholds: Mapping[str, float] = field(default_factory=dict)
    offset: float = 0.0  # seconds added to every onset (calibrated with the model)
    # a user's tuning profile (``drumscribe tune``): its id, and the shipped model it was tuned from
    # ("name version"); both absent (None) for the shipped model, and then not written at all
    profile: str | None = None
    based_on: str | None = None


def _known(cls: type, fields_: Mapping[str, Any]):
    """A dataclass from a mapping, ignoring keys a newer drumscribe added (same schema major version)."""
    from dataclasses import fields

    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in dict(fields_).items() if k in names})


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Transcription:
    events: tuple[DrumEvent, ...]
    tempo: float | None  # BPM; None when there is no steady pulse (or beats were not tracked)
    beats: tuple[float, ...] = ()
    downbeats: tuple[float, ...] = ()
    source: SourceInfo = field(default_factory=SourceInfo)
    model: ModelInfo = field(default_factory=ModelInfo)
    midi_offset: float = 0.0  # MIDI time = audio time + midi_offset (first downbeat on a bar line)
    # what the job was asked for: {"beats": bool, "midi": {...non-default MIDI options}} (jobs.identity)
    options: Mapping[str, Any] | None = None
    job_id: str | None = None
    user_id: str | None = None
    created_at: str = field(default_factory=utc_now)
    drumscribe_version: str = __version__
    schema: str = SCHEMA

    @property
    def duration(self) -> float:
        return self.source.duration

    def counts(self) -> dict[str, int]:
        """Hits per instrument, in the order of the instrument table (only instruments present)."""
        c = Counter(e.instrument for e in self.events)
        order = list(INSTRUMENTS) + sorted(set(c) - set(INSTRUMENTS))
        return {name: c[name] for name in order if c[name]}

    def with_ids(self, **changes: Any) -> "Transcription":
        """A copy with some fields replaced (job_id, user_id, source...)."""
        from dataclasses import replace

        return replace(self, **changes)

    # -- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        model = asdict(self.model)
        model["classes"] = list(self.model.classes)
        model["thresholds"] = dict(self.model.thresholds)
        for optional in ("profile", "based_on"):  # documents without a profile stay as older readers know them
            if model[optional] is None:
                del model[optional]
        return {
            "schema": self.schema,
            "job_id": self.job_id,
            "user_id": self.user_id,
            "created_at": self.created_at,
            "drumscribe_version": self.drumscribe_version,
            "source": asdict(self.source),
            "model": model,
            "options": None if self.options is None else dict(self.options),
            "tempo": self.tempo,
            "time_signature": [4, 4],
            "beats": list(self.beats),
            "downbeats": list(self.downbeats),
            "midi_offset": self.midi_offset,
            "events": [asdict(e) for e in self.events],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        if indent != 2:
            return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
        # a job stores the document and hands it to its caller: encoded once (an indented dump is
        # pure Python, a few ms per song). Frozen, so the text cannot go stale; a changed copy
        # (``with_ids``, ``dataclasses.replace``) is a new object without it.
        text = self.__dict__.get("_json")
        if text is None:
            text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)
            object.__setattr__(self, "_json", text)
        return text

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Transcription":
        schema = doc.get("schema") if isinstance(doc, Mapping) else None
        if not isinstance(schema, str) or not schema.startswith(SCHEMA_NAME + "/"):
            raise InputError(f"not a drumscribe transcription (schema {schema!r})")
        try:
            major = int(schema.rsplit("/", 1)[1].split(".")[0])
        except ValueError:
            raise InputError(f"unreadable schema version {schema!r}") from None
        if major > SCHEMA_VERSION:
            raise InputError(f"transcription schema {schema} is newer than this drumscribe ({SCHEMA}); upgrade drumscribe")
        try:
            model = dict(doc.get("model") or {})
            model["classes"] = tuple(model.get("classes") or ())
            model["thresholds"] = dict(model.get("thresholds") or {})
            return cls(
                events=tuple(DrumEvent(**e) for e in doc.get("events") or ()),
                tempo=None if doc["tempo"] is None else float(doc["tempo"]),
                beats=tuple(doc.get("beats") or ()),
                downbeats=tuple(doc.get("downbeats") or ()),
                source=_known(SourceInfo, doc.get("source") or {}),
                model=_known(ModelInfo, model),
                midi_offset=float(doc.get("midi_offset") or 0.0),
                options=dict(doc["options"]) if isinstance(doc.get("options"), Mapping) else None,
                job_id=doc.get("job_id"),
                user_id=doc.get("user_id"),
                created_at=doc.get("created_at") or "",
                drumscribe_version=doc.get("drumscribe_version") or "",
                schema=schema,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed transcription document ({type(exc).__name__}: {exc})") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> "Transcription":
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"transcription is not valid JSON ({exc})") from None
        return cls.from_dict(doc)

    # -- MIDI ----------------------------------------------------------------------------------
    def to_midi(
        self,
        path: str | os.PathLike | None = None,
        *,
        align: str = "audio",
        tracks: str = "single",
        note_map: Any = None,
        tempo: str = "follow",
    ) -> bytes | Path:
        """The Standard MIDI File as bytes, or written atomically to ``path`` (returns the Path).

        ``align``: ``"audio"`` (MIDI time = audio time, lines up with the song from 0) or ``"bar"``
        (shifted by ``midi_offset`` so the first downbeat sits on a 4/4 bar line). ``tempo``:
        ``"follow"`` (a tempo map that follows the detected beats, changing only where the tempo
        really changes) or ``"fixed"`` (one tempo, ``self.tempo``, for the whole file); the hits keep
        their times either way. ``tracks``: ``"single"`` or ``"per-instrument"``
        (one named track per drum). ``note_map``: a packaged map name, a JSON file, a dict or a
        ``NoteMap`` (default General MIDI). See ``transcription/midi.py`` and ``docs/views-notation-midi.md``.
        """
        from drumscribe.transcription import midi
        from drumscribe.transcription.notemap import load_note_map

        midi.check_options(align, tracks, tempo)
        notes = load_note_map(note_map)
        tempo_map = midi.beat_tempo_map(self.beats, self.downbeats, self.tempo or 120.0, align=align,
                                        midi_offset=self.midi_offset, tempo_map=tempo)
        events = ((e.time, notes.note(e.instrument, e.note), e.velocity, e.instrument) for e in self.events)
        data = midi.midi_bytes(midi.build_midi(events, tempo_map, tracks=tracks))
        if path is None:
            return data
        return write_atomic(Path(path), data)


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write a file via a temporary sibling and rename, so readers never see half a file.

    The file gets the mode ``open()`` would give it (0666 less the umask): results are not
    secrets, and mkstemp's private 0600 would follow them into shared folders.
    """
    from drumscribe.storage._common import _FILE_MODE

    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            os.fchmod(fh.fileno(), _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
