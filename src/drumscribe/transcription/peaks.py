"""Onsets from the network's activations: per-class peak picking with the model's thresholds.

For each class: frames that are a local maximum of the activation (ties resolved to the first
frame), at or above the class threshold; of two peaks closer than the model's minimum distance
(~25 ms) only the stronger is kept. The time of a peak is refined to sub-frame precision with a
parabola through the peak and its neighbours, then the model's calibrated offset is added.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Onset:
    time: float  # seconds, model offset included
    instrument: str  # instrument name (drumscribe.transcription.instruments)
    confidence: float  # peak activation in [0, 1]
    frame: int  # frame index of the peak


def _peaks(act: np.ndarray, threshold: float, min_frames: int) -> np.ndarray:
    """Indices of thresholded local maxima, at least ``min_frames`` apart (stronger one wins)."""
    n = len(act)
    if n == 0:
        return np.zeros(0, int)
    left = np.concatenate([[-np.inf], act[:-1]])
    right = np.concatenate([act[1:], [-np.inf]])
    cand = np.flatnonzero((act >= threshold) & (act > left) & (act >= right))
    if len(cand) <= 1 or min_frames <= 1:
        return cand
    blocked = np.zeros(n, bool)
    keep = []
    for i in cand[np.argsort(-act[cand], kind="stable")]:
        if not blocked[i]:
            keep.append(i)
            blocked[max(0, i - min_frames + 1) : i + min_frames] = True
    return np.sort(np.array(keep, int))


def refine(act: np.ndarray, i: int) -> float:
    """Sub-frame position of the peak at ``i`` (-0.5..0.5): the vertex of a parabola through it and its neighbours."""
    if 0 < i < len(act) - 1:
        a, b, c = float(act[i - 1]), float(act[i]), float(act[i + 1])
        den = a - 2 * b + c
        if den < 0:
            return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return 0.0


def detect_onsets(activations: np.ndarray, model, *, thresholds: dict | None = None,
                  offset: float | None = None) -> list["Onset"]:
    """Onsets of all classes, sorted by time (then class order).

    ``model`` supplies ``classes``, ``thresholds``, ``offset``, ``fps`` and (optionally)
    ``min_distance`` in seconds; ``thresholds``/``offset`` override the model's (calibration).
    """
    act = np.asarray(activations, np.float32)
    classes = list(model.classes)
    if act.ndim != 2 or act.shape[1] != len(classes):
        raise ValueError(f"activations have shape {act.shape}, expected (frames, {len(classes)})")
    fps = float(model.fps)
    th = dict(model.thresholds)
    th.update(thresholds or {})
    off = float(model.offset if offset is None else offset)
    min_frames = max(1, int(round(float(getattr(model, "min_distance", 0.025)) * fps)))
    onsets: list[Onset] = []
    for c, name in enumerate(classes):
        a = act[:, c]
        for i in _peaks(a, float(th[name]), min_frames):
            t = (i + refine(a, int(i))) / fps + off
            onsets.append(Onset(time=max(0.0, float(t)), instrument=name, confidence=float(a[i]), frame=int(i)))
    onsets.sort(key=lambda o: (o.time, classes.index(o.instrument)))
    return onsets
