"""Onset matching and per-class precision / recall / F, without mir_eval.

Two onsets match when they are at most ``WINDOW`` (50 ms, the MIREX drum-transcription
tolerance) apart, each onset matched at most once. On a line, every reference's admissible
estimates form a contiguous run of the sorted estimates and those runs move right together, so
matching each reference, in time order, to the earliest unmatched estimate in its window gives a
largest matching: the same number of hits as mir_eval's Hopcroft-Karp (``mir_eval.util.
match_events``), which ``tests/learning`` checks, at a cost linear in the number of onsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

WINDOW = 0.05  # seconds


def match(reference: Sequence[float], estimate: Sequence[float], window: float = WINDOW) -> list[tuple[int, int]]:
    """(reference index, estimate index) pairs of a largest matching; both inputs sorted ascending."""
    ref = np.asarray(reference, float)
    est = np.asarray(estimate, float)
    pairs: list[tuple[int, int]] = []
    j = 0
    for i, r in enumerate(ref):
        while j < len(est) and est[j] < r - window - 1e-9:
            j += 1  # too early for this reference, and so for every later one
        if j < len(est) and est[j] <= r + window + 1e-9:
            pairs.append((i, j))
            j += 1
    return pairs


def hits(reference: Sequence[float], estimate: Sequence[float], window: float = WINDOW) -> int:
    """How many references are matched (true positives)."""
    return len(match(reference, estimate, window))


@dataclass
class Counts:
    """True positives, false positives and misses of one class, summed over tracks ("micro")."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, reference: Sequence[float], estimate: Sequence[float], window: float = WINDOW) -> "Counts":
        k = hits(reference, estimate, window)
        self.tp += k
        self.fp += len(estimate) - k
        self.fn += len(reference) - k
        return self

    def __iadd__(self, other: "Counts") -> "Counts":
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        return self

    @property
    def references(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        n = self.tp + self.fp
        return self.tp / n if n else (1.0 if self.references == 0 else 0.0)

    @property
    def recall(self) -> float:
        return self.tp / self.references if self.references else (1.0 if self.tp + self.fp == 0 else 0.0)

    @property
    def f(self) -> float:
        """F1; a class with neither references nor estimates scores 1 (nothing to find, nothing found)."""
        if self.tp + self.fp + self.fn == 0:
            return 1.0
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)

    def as_dict(self) -> dict[str, float | int]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "P": round(self.precision, 4),
                "R": round(self.recall, 4), "F": round(self.f, 4)}


def score(pairs: Iterable[tuple[Mapping[str, Sequence[float]], Mapping[str, Sequence[float]]]],
          classes: Sequence[str], window: float = WINDOW) -> dict[str, Counts]:
    """[(reference per class, estimate per class)] -> Counts per class, summed over the tracks."""
    out = {c: Counts() for c in classes}
    for ref, est in pairs:
        for c in classes:
            out[c].add(ref.get(c, ()), est.get(c, ()), window)
    return out


def mean_f(counts: Mapping[str, Counts]) -> float:
    return float(np.mean([c.f for c in counts.values()])) if counts else 0.0
