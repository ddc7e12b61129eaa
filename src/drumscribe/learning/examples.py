"""One corrected job as arrays: what the shipped model sees and says, and what the user says is there.

Computed once per job and shared by every fold and every kind of fit (``fit.py``): the features,
each network's penultimate activations (the input of its output layer), the detection
activations, and the corrected onsets per model class. Features and activations are made as
``pipeline.transcribe`` makes them (same lead-in of silence, same feature processor), so the
"before" figures are exactly what ``transcribe`` would find; the whole file is processed at once
(a tuning set is a handful of songs; ``MAX_SECONDS`` bounds one job).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from drumscribe.transcription.instruments import INSTRUMENTS

MAX_SECONDS = 20 * 60  # a job longer than this is tuned on its first 20 minutes (memory: ~0.3 GB of activations)


@dataclass
class Example:
    """A corrected job, ready to fit on."""

    job_id: str
    duration: float  # seconds of audio used
    refs: dict[str, np.ndarray]  # model class -> sorted corrected onset times (s)
    acts: np.ndarray  # (frames, classes): the shipped model's detection activations
    hidden: list[np.ndarray] | None  # per network: (frames, width) input of its output layer; None: not a layered model
    feats: np.ndarray | None = None  # (frames, features): kept for fine-tuning
    audio: Path | None = None  # the original, for fine-tuning's augmented copies
    fine_refs: dict[str, np.ndarray] = field(default_factory=dict)  # finer instrument -> times (fine-tuning's naming targets)
    cache: dict = field(default_factory=dict, repr=False, compare=False)  # what fine-tuning computes once per job

    @property
    def n_hits(self) -> int:
        return int(sum(len(v) for v in self.refs.values()))


def class_of_instrument(classes: Sequence[str]) -> dict[str, str]:
    """Instrument name -> the model class that detects it (by evaluation class: every tom is the
    tom class, ride and crash the cymbal class); instruments no class covers (side stick) are absent."""
    from drumscribe.transcription.pipeline import note_of

    by_eval = {INSTRUMENTS[note_of(c)[0]].eval_class: c for c in classes}
    return {name: by_eval[i.eval_class] for name, i in INSTRUMENTS.items() if i.eval_class in by_eval}


def reference_times(events: Sequence[Any], classes: Sequence[str], duration: float | None = None) -> dict[str, np.ndarray]:
    """Corrected events (``DrumEvent``-like: ``.time``, ``.instrument``) -> sorted times per model class.

    Two hits of one class closer than 1 ms (a tom pair struck together) are one onset of the class,
    as the model can only report one."""
    mapping = class_of_instrument(classes)
    out: dict[str, list[float]] = {c: [] for c in classes}
    for e in events:
        c = mapping.get(e.instrument)
        if c is not None and (duration is None or float(e.time) < duration):
            out[c].append(float(e.time))
    return {c: _dedupe(np.sort(np.asarray(v, float))) for c, v in out.items()}


def _dedupe(times: np.ndarray) -> np.ndarray:
    if len(times) < 2:
        return times
    keep = np.concatenate([[True], np.diff(times) > 0.001])
    return times[keep]


def networks(model: Any) -> list[Any] | None:
    """The madmom networks of a ``DrumModel`` (one, or an ensemble's members); None for other models."""
    net = getattr(model, "network", None)
    if net is None:
        return None
    from drumscribe._madmom import madmom  # noqa: F401
    from madmom.ml.nn import NeuralNetwork, NeuralNetworkEnsemble

    if isinstance(net, NeuralNetworkEnsemble):
        return list(net.processors[0])
    if isinstance(net, NeuralNetwork):
        return [net]
    return None


def output_layer(network: Any) -> tuple[np.ndarray, np.ndarray]:
    """(weights (width, outputs), bias (outputs,)) of a network's dense sigmoid output layer."""
    last = network.layers[-1]
    return np.asarray(last.weights, np.float32), np.asarray(last.bias, np.float32)


def penultimate(network: Any, feats: np.ndarray) -> np.ndarray:
    """The activations a network feeds its output layer."""
    x = np.asarray(feats, np.float32)
    for layer in network.layers[:-1]:
        x = layer(x)
    return np.ascontiguousarray(x, dtype=np.float32)


def features_of(path: str | Path, model: Any, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, float]:
    """(features, seconds of audio) of a file, as ``pipeline.transcribe`` computes them (one pass)."""
    from drumscribe.transcription import audio, pipeline

    decoded = audio.load(path, int(model.sample_rate))
    samples = decoded.samples[: int(max_seconds * model.sample_rate)]
    return features_of_samples(samples, model), min(decoded.duration, max_seconds)


def features_of_samples(samples: np.ndarray, model: Any) -> np.ndarray:
    from drumscribe.transcription import pipeline

    lead_samples, lead_frames = pipeline.lead_in(model)
    if lead_samples:
        samples = np.concatenate([np.zeros(lead_samples, np.float32), samples])
    feats = pipeline._feature_processor()(samples)
    return np.ascontiguousarray(feats[lead_frames:])


def build(job_id: str, audio_path: str | Path, events: Sequence[Any], model: Any, *, keep_features: bool = False,
          max_seconds: float = MAX_SECONDS) -> Example:
    """An ``Example`` from a job's original audio and its corrected events."""
    feats, duration = features_of(audio_path, model, max_seconds)
    classes = list(model.classes)
    nets = networks(model)
    if nets is None:  # a model without layers (tests' stand-ins): thresholds and offset only
        acts, hidden = np.asarray(model.activations(feats), np.float32), None
    else:
        hidden = [penultimate(n, feats) for n in nets]
        acts = detection_activations(model, hidden, [output_layer(n) for n in nets])
    fine = {}
    if keep_features:
        for e in events:
            if float(e.time) < duration:
                fine.setdefault(e.instrument, []).append(float(e.time))
    return Example(job_id=job_id, duration=duration, refs=reference_times(events, classes, duration), acts=acts,
                   hidden=hidden, feats=feats if keep_features else None, audio=Path(audio_path) if keep_features else None,
                   fine_refs={k: np.sort(np.asarray(v)) for k, v in fine.items()})


def detects(model: Any, n_networks: int) -> np.ndarray:
    """(networks, classes) 0/1: which network detects which class (``DrumModel.detects``)."""
    masks = getattr(model, "detects", None)
    if masks is None:
        return np.ones((n_networks, len(model.classes)), np.float32)
    return np.asarray(masks, np.float32)


def detection_activations(model: Any, hidden: Sequence[np.ndarray],
                          layers: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The model's detection activations from the penultimate activations and output layers:
    each class is the mean of the sigmoid outputs of the networks that detect it (``network.ensemble_outputs``)."""
    n = len(model.classes)
    mask = detects(model, len(hidden))
    total = np.zeros((len(hidden[0]), n), np.float32)
    for j, (h, (w, b)) in enumerate(zip(hidden, layers)):
        if mask[j].any():
            total += _sigmoid(h @ w[:, :n] + b[:n]) * mask[j]
    return total / mask.sum(axis=0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)


def class_counts(examples: Sequence[Example], classes: Sequence[str]) -> dict[str, int]:
    return {c: int(sum(len(e.refs.get(c, ())) for e in examples)) for c in classes}


def refs_of(example: Example) -> Mapping[str, np.ndarray]:
    return example.refs
