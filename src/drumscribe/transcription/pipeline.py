"""``transcribe()``: audio in, :class:`Transcription` out. Pure: no storage, no printing.

The signal is processed in overlapping chunks (``audio.windows``): per chunk we decode, resample,
compute features, run the network and keep only the core frames' activations and velocity
strength curves (100 fps x classes, float32: about 17 MB for an hour with 11 classes). Onsets,
velocities and beats are then found once on the whole-track curves. Memory therefore depends on
``chunk_seconds``, not on the length of the file.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import numpy as np

from drumscribe.errors import DrumscribeError, TranscriptionError
from drumscribe.transcription import audio, midi, subclass, velocity
from drumscribe.transcription.instruments import INSTRUMENTS
from drumscribe.transcription.result import DrumEvent, ModelInfo, SourceInfo, Transcription

DEFAULT_CHUNK_SECONDS = 60
STAGES = ("decode", "resample", "features", "network", "peaks", "velocity", "beats", "midi")

# model outputs that merge several instruments are played as one of them
_MERGED = {"tom": "tom_mid", "hihat": "hihat_closed", "hh": "hihat_closed", "cymbal": "crash", "cy": "crash", "bd": "kick", "sd": "snare"}

_models: dict[str | None, Any] = {}
_models_lock = threading.Lock()
_feature_processor_cache: list[Any] = []
# silence put before the audio: the spectral difference needs a frame before a hit at 0.000 s to see it
LEAD_IN_SECONDS = 0.04  # 4 frames; 0.02-0.2 s all find a hit at 0 (0.04 and 0.06: no dev figure changes but one false crash fewer)
# a hit this much of a beat before the first downbeat is played on it, not a pickup
PICKUP_BEATS = 0.25


def get_model(model: Any = None) -> Any:
    """The model to use: a loaded model as is; ``None`` (packaged default) or a path, loaded once."""
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model
    key = None if model is None else str(Path(model).expanduser().resolve())
    with _models_lock:
        if key not in _models:
            from drumscribe.transcription.network import load_model

            if key is not None and not Path(key).is_file():
                raise TranscriptionError(f"model file {model} not found")
            _models[key] = load_model(key)
        return _models[key]


def _feature_processor():
    from drumscribe.transcription.features import FeatureProcessor

    if not _feature_processor_cache:  # madmom processors are stateless: build once per process
        _feature_processor_cache.append(FeatureProcessor())
    return _feature_processor_cache[0]


def note_of(instrument: str) -> tuple[str, int]:
    """(instrument name from the table, GM note) for a model class name (merged outputs mapped)."""
    name = instrument if instrument in INSTRUMENTS else _MERGED.get(instrument.lower(), instrument)
    if name not in INSTRUMENTS:
        raise TranscriptionError(f"model class {instrument!r} is not a known drum instrument")
    return name, INSTRUMENTS[name].note


def _all_activations(model: Any, feats: np.ndarray) -> np.ndarray:
    """The model's classes and, if it has them, its finer outputs (``subclass.py``)."""
    if hasattr(model, "all_activations"):
        return model.all_activations(feats)
    return model.activations(feats)  # any object with the older interface (tests' stand-ins)


def margin_seconds(model: Any, with_beats: bool = True) -> int:
    """Chunk margin: the network's context, the STFT window and the spectral difference, rounded up.

    Beats come from the same activations (``beats.analyse``), so they need no margin of their own.
    """
    frames = int(getattr(model, "context_frames", 0) or 0) + 8
    seconds = math.ceil(frames / float(model.fps) + 0.1)
    return max(1, seconds)


def lead_in(model: Any) -> tuple[int, int]:
    """(samples at the model's rate, frames) of silence put before the first window: whole frames."""
    frames = int(round(LEAD_IN_SECONDS * float(model.fps)))
    samples = frames * int(model.sample_rate) / float(model.fps)
    if samples != int(samples):  # frame hops that are not whole samples would shift every frame
        return 0, 0
    return int(samples), frames


def bar_one_offset(tempo: float | None, anchor: float | None, first_hit: float | None) -> float:
    """``midi_offset`` that makes bar 1 of the MIDI start on the first downbeat (``anchor``).

    Only hits more than ``PICKUP_BEATS`` before it make a pickup: then the first downbeat is put on
    the first bar line that leaves room for them (bar 2 for a pickup shorter than a bar), else the
    audio before it is dropped from the grid (offset ``-anchor``, negative).
    """
    if tempo is None or anchor is None:
        return 0.0
    from drumscribe.transcription import midi

    grid = midi.make_grid(tempo, None)  # the tempo exactly as the file writes it
    beat = grid.tempo_us / 1e6
    bar = midi.BEATS_PER_BAR * beat
    lead = anchor - (anchor if first_hit is None else min(first_hit, anchor))
    if lead <= PICKUP_BEATS * beat:
        return -anchor
    return math.ceil(lead / bar - 1e-9) * bar - anchor


class Timer:
    """Accumulates CPU seconds (this process, all threads) per stage into a dict (the speed benchmark).

    CPU rather than wall time: the target is CPU seconds, and on a shared machine wall time
    measures the neighbours."""

    def __init__(self, into: dict[str, float] | None):
        self.into = into

    @contextmanager
    def __call__(self, stage: str):
        if self.into is None:
            yield
            return
        t0 = time.process_time()
        try:
            yield
        finally:
            self.into[stage] = self.into.get(stage, 0.0) + time.process_time() - t0


def file_sha256(source: Any) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        h = hashlib.sha256()
        try:
            with open(source, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except OSError:
            return None
        return h.hexdigest()
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha256(source).hexdigest()
    return None


def transcribe(
    path_or_array: Any,
    sample_rate: int | None = None,
    model: Any = None,
    *,
    beats: bool = True,
    chunk_seconds: int = DEFAULT_CHUNK_SECONDS,
    name: str | None = None,
    timings: dict[str, float] | None = None,
    progress: Callable[[float, float], None] | None = None,
    source_sha256: str | None = None,
) -> Transcription:
    """Transcribe drums from a file path, bytes, a binary file object or a numpy array.

    ``sample_rate`` is required for arrays (``(samples,)`` or ``(samples, channels)``).
    ``model``: a loaded model, a path to an exported model file, or None for the packaged one.
    ``beats=False`` skips beat tracking (tempo None, no beats; MIDI starts at 0 at 120 BPM).
    ``timings``: if given, filled with seconds spent per stage (see ``STAGES``).
    ``source_sha256``: the input's SHA-256 when the caller already has it (a job hashes its input
    once); otherwise a file or bytes input is hashed here.
    Raises ``InputError`` for unusable input, ``TranscriptionError`` if the model fails.
    """
    clock = Timer(timings)
    model = get_model(model)
    classes = list(model.classes)
    notes = [note_of(c) for c in classes]
    features = _feature_processor()
    from drumscribe.transcription import beats as beat_mod

    acts, curves = [], []
    lead_samples, lead_frames = lead_in(model)
    with clock("decode"):
        reader = audio.AudioReader(path_or_array, sample_rate=sample_rate, name=name)
    with reader:
        info = reader.info
        plan = audio.windows(info.duration, chunk_seconds=chunk_seconds, margin_seconds=margin_seconds(model, beats))
        for window in plan:
            lo, hi = window.source_range(info.sample_rate)
            with clock("decode"):
                source = reader.read(lo, hi)
            with clock("resample"):
                samples = audio.resample(source, info.sample_rate, model.sample_rate)
                first = window.start == 0
                if first and len(samples) < audio.min_samples(model.sample_rate):
                    samples = np.pad(samples, (0, audio.min_samples(model.sample_rate) - len(samples)))
                if first and lead_samples:
                    samples = np.concatenate([np.zeros(lead_samples, np.float32), samples])
            with clock("features"):
                feats = features(samples)
            with clock("network"):
                try:
                    act = np.asarray(_all_activations(model, feats), dtype=np.float32)
                except DrumscribeError:
                    raise
                except Exception as exc:  # a model bug must still be one line for the user
                    raise TranscriptionError(f"{info.name}: the model failed ({type(exc).__name__}: {exc})") from exc
            skip = lead_frames if first else 0  # the lead-in's rows: before the audio
            acts.append(window.core_rows(act[skip:], model.fps))
            with clock("velocity"):
                curves.append(window.core_rows(velocity.strength_curves(feats, classes)[skip:], model.fps))
            del source, samples, feats
            if progress is not None:
                done = info.duration if window.core_stop is None else min(window.core_stop, info.duration)
                progress(done, info.duration)

    outputs = np.concatenate(acts) if acts else np.zeros((0, len(classes)), np.float32)
    activations, fine = outputs[:, : len(classes)], outputs[:, len(classes) :]
    strength = np.concatenate(curves) if curves else np.zeros((0, len(classes)), np.float32)
    with clock("peaks"):
        from drumscribe.transcription.peaks import detect_onsets

        onsets = [o for o in detect_onsets(activations, model) if 0.0 <= o.time < info.duration]
    with clock("velocity"):
        index = {c: i for i, c in enumerate(classes)}
        vels = velocity.velocities(strength, [o.frame for o in onsets], [index[o.instrument] for o in onsets])
        names = subclass.play([o.instrument for o in onsets], [o.frame for o in onsets], fine, strength, model,
                              {c: name for c, (name, _) in zip(classes, notes)})
        played = [(name, INSTRUMENTS[name].note) for name in names]
    events = sorted(
        (
            DrumEvent(
                time=round(float(o.time), 4),
                instrument=name,
                note=note,
                velocity=int(v),
                confidence=round(float(o.confidence), 4),
            )
            for o, v, (name, note) in zip(onsets, vels, played)
        ),
        key=lambda e: (e.time, e.note),
    )
    with clock("beats"):
        result = beat_mod.BeatResult()
        if beats:
            result = beat_mod.analyse(activations, classes, fps=model.fps, offset=float(getattr(model, "offset", 0.0) or 0.0))
    first_hit = events[0].time if events else None
    midi_offset = bar_one_offset(result.tempo, midi.anchor_of(result.beats, result.downbeats), first_hit)
    return Transcription(
        events=tuple(events),
        tempo=result.tempo,
        beats=tuple(result.beats),
        downbeats=tuple(result.downbeats),
        source=SourceInfo(
            key=None,
            name=Path(info.name).name if info.name and not info.name.startswith("<") else None,
            sha256=source_sha256 or file_sha256(path_or_array),
            duration=round(info.duration, 6),
            sample_rate=info.sample_rate,
            channels=info.channels,
        ),
        model=ModelInfo(
            name=str(getattr(model, "name", "")),
            version=str(getattr(model, "version", "")),
            classes=tuple(classes),
            thresholds={str(k): float(v) for k, v in dict(getattr(model, "thresholds", {}) or {}).items()},
            offset=float(getattr(model, "offset", 0.0) or 0.0),
            profile=getattr(model, "profile", None),  # a user's tuned model (drumscribe.jobs.profiles)
            based_on=getattr(model, "based_on", None),
        ),
        midi_offset=round(midi_offset, 6),
        options={"beats": bool(beats)},
    )
