"""What makes two jobs the same job: the one rule that decides whether an input is transcribed again.

Two jobs are the same when they have the same **content** (SHA-256 of the file the user gave),
the same **model** (name + version + the user's tuned profile, when there is one) and the same
**options** (beat tracking on or off, and the MIDI options that shape ``output.mid``: alignment,
tempo map, track layout, note map). Then the earlier, complete job answers, and nothing is transcribed or
stored again unless the caller forces it (``--force``, ``force=True``). Everything that makes a
job goes through this module: ``drumscribe transcribe`` with or without ``--cluster``,
``transcribe_and_store``, ``transcribe_many`` and the jobs ``drumscribe serve`` starts.

What is not in the identity: the chunk length (an internal setting whose windows overlap by the
network's context, so it does not change the result), the file name, the user's Settings.

Options are written into each job's ``transcription.json`` (``"options"``) so an index of the
user's complete jobs can be built from the documents alone (``jobs.store.complete_jobs``).
Documents written before that field existed answer nothing: their MIDI options (alignment, note
map, tracks) were not recorded, and guessing the defaults could hand back an ``output.mid`` laid
out for other options. At worst that is one more job per song, once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

DEFAULT_OPTIONS: dict[str, Any] = {"beats": True}


def model_identity(model: Any) -> dict[str, Any]:
    """Name, version and tuned profile of a loaded model or of a document's ``ModelInfo``.

    ``profile``: a user's tuned profile id, when the model (or the ModelInfo) carries one; a
    profile changes what the model finds, so it makes another model.
    """
    profile = getattr(model, "profile", None)
    return {
        "name": str(getattr(model, "name", "") or ""),
        "version": str(getattr(model, "version", "") or ""),
        "profile": None if profile in (None, "") else str(getattr(profile, "id", profile)),
    }


def _note_map_identity(value: Any) -> dict[str, int] | None:
    """The notes a note map changes from General MIDI (None: it is General MIDI)."""
    from drumscribe.transcription.instruments import INSTRUMENTS
    from drumscribe.transcription.notemap import load_note_map

    notes = load_note_map(value)
    changed = {name: notes.note(name, info.note) for name, info in INSTRUMENTS.items()}
    changed = {name: note for name, note in changed.items() if note != INSTRUMENTS[name].note}
    return dict(sorted(changed.items())) or None


def midi_identity(midi_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The MIDI options that change ``output.mid``, defaults left out (so ``{}`` == all defaults)."""
    from drumscribe.transcription import midi

    # each option's default, where this MIDI writer has it (an option it does not know is compared as given)
    defaults = {name: getattr(midi, f"DEFAULT_{name.upper()}") for name in ("align", "tracks", "tempo")
                if hasattr(midi, f"DEFAULT_{name.upper()}")}
    out: dict[str, Any] = {}
    for name, value in sorted(dict(midi_options or {}).items()):
        if value is None or defaults.get(name) == value:
            continue
        if name == "note_map":
            value = _note_map_identity(value)
            if value is None:
                continue
        elif not isinstance(value, (str, int, float, bool)):
            value = str(value)  # an option a newer MIDI writer takes: compared as written
        out[name] = value
    return out


def job_options(beats: bool = True, midi_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The options of a job, as its document records them (``"options"``)."""
    options: dict[str, Any] = {"beats": bool(beats)}
    midi = midi_identity(midi_options)
    if midi:
        options["midi"] = midi
    return options


def options_of(transcription: Any) -> dict[str, Any]:
    """A stored job's options; for a document older than the field, what it must have been made with."""
    recorded = getattr(transcription, "options", None)
    if recorded:
        return {"beats": bool(recorded.get("beats", True)), **({"midi": dict(recorded["midi"])} if recorded.get("midi") else {})}
    return {"beats": bool(transcription.beats) or transcription.tempo is not None}


def job_identity(content_sha256: str, model: Any, options: Mapping[str, Any] | None = None) -> str:
    """One hex digest for (content, model, options): equal digests mean the same job."""
    canonical = json.dumps(
        {"content": content_sha256, "model": model_identity(model), "options": dict(options or DEFAULT_OPTIONS)},
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def identity_of(transcription: Any) -> str | None:
    """The identity of a stored job (None when its document does not name its content, or not the
    options it was made with: written before they were recorded, it answers nothing)."""
    if not transcription.source.sha256 or not getattr(transcription, "options", None):
        return None
    return job_identity(transcription.source.sha256, transcription.model, options_of(transcription))
