"""Where the tempo really changes: the stretches of steady tempo in a list of detected beats.

A beat tracker's beats wobble by some tens of milliseconds around the played pulse, so the
tempo from one beat to the next reads 99, 100, 101... for a drummer who holds 100 BPM. A tempo
map that follows every beat writes that wobble as a tempo change on every beat. Here a stretch
keeps one tempo for as long as it fits its beats:

- each stretch starts where the previous one ended and takes the tempo that fits its beats best
  (least squares, through its start);
- it grows beat by beat while every beat stays within ``TOLERANCE`` of a beat (a twelfth:
  a third of a 16th, 45 ms at 110 BPM) of where that tempo puts it; a single stray beat between
  two that fit is the tracker's slip, not a change (the first and last beat of a stretch must fit);
- the song's last beat may be such a stray too (no beat after it can say otherwise).

So a steady groove is one tempo; a drummer who speeds up gets a new tempo each time holding the
old one would put the beat more than the tolerance off, i.e. the map follows the real change
and the bar lines never drift from the played bars. On the development recordings (steady
songs, detected beats 102-118 BPM from one beat to the next) every song is one tempo; a
synthetic 100 -> 120 BPM accelerando over 32 beats becomes 100, 109, 119 BPM.

Plain data in and out: points are (seconds, tick) pairs, as the MIDI tempo map uses them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

TOLERANCE = 1 / 12  # of a beat: how far a beat may sit from where the held tempo puts it
PATIENCE = 8  # beats tried past the last fit before a stretch is closed


def steady_points(points: Sequence[tuple[float, int]], origin: tuple[float, int] = (0.0, 0), *,
                  ticks_per_beat: int = 480, tolerance: float = TOLERANCE) -> list[tuple[float, int]]:
    """The ends of the steady stretches through ``points`` (seconds, tick): a tempo map through
    ``origin`` and the returned points changes tempo only at them.

    The first point (the first beat) starts the first stretch. The lead-in from ``origin`` to it
    (silence before the first beat, or a pickup of whole 16ths) joins the first stretch when that
    stretch's beats all still fit a line from ``origin``; else it keeps a tempo of its own and the
    first point is returned too. Every other returned point is where its stretch's tempo puts the
    stretch's last beat, with that beat's tick. ``points`` must be in order, each later than
    ``origin`` in both seconds and ticks, except that the first may be ``origin`` itself (a first
    beat at 0).
    """
    if not points:
        return []
    seconds = np.array([p[0] for p in points], dtype=float)
    ticks = np.array([p[1] for p in points], dtype=float)
    ends: list[tuple[float, int, int]] = []  # (seconds, tick, index of the stretch's last point)
    s0, t0 = float(seconds[0]), float(ticks[0])
    i = 1  # first point not yet in a stretch
    while i < len(points):
        end, slope = _longest_fit(seconds, ticks, i, s0, t0, ticks_per_beat, tolerance)
        s0, t0 = s0 + slope * (ticks[end] - t0), float(ticks[end])
        ends.append((s0, int(ticks[end]), end))
        i = end + 1
    first = [] if ends and _lead_in_fits(seconds, ticks, origin, ends[0], ticks_per_beat, tolerance) \
        else [(float(seconds[0]), int(ticks[0]))]
    return first + [(s, t) for s, t, _ in ends]


def _fits(offsets: np.ndarray, slope: float, ticks_per_beat: int, tolerance: float, *, last: bool = False) -> bool:
    """Whether beats ``offsets`` (seconds off the line) fit: the first and last within the
    tolerance (the last may stray when it is the song's ``last``), and no two in a row outside
    it (a single stray beat is the tracker's slip)."""
    off = np.abs(offsets) > tolerance * slope * ticks_per_beat
    return not off[0] and (last or not off[-1]) and not (off[1:] & off[:-1]).any()


def _longest_fit(seconds: np.ndarray, ticks: np.ndarray, first: int, s0: float, t0: float,
                 ticks_per_beat: int, tolerance: float) -> tuple[int, float]:
    """The last point of the longest stretch from ``first`` that one tempo through (``s0``, ``t0``)
    fits, and that tempo (seconds per tick, least squares)."""
    best = (first, (seconds[first] - s0) / (ticks[first] - t0))  # one beat always fits
    misses = 0
    for end in range(first + 1, len(seconds)):
        ds, dt = seconds[first:end + 1] - s0, ticks[first:end + 1] - t0
        slope = float(dt @ ds) / float(dt @ dt)
        if _fits(ds - slope * dt, slope, ticks_per_beat, tolerance, last=end == len(seconds) - 1):
            best, misses = (end, slope), 0
        else:
            misses += 1
            if misses > PATIENCE:
                break
    return best


def _lead_in_fits(seconds: np.ndarray, ticks: np.ndarray, origin: tuple[float, int],
                  end: tuple[float, int, int], ticks_per_beat: int, tolerance: float) -> bool:
    """Whether the first stretch's beats, its first included, fit the line from ``origin`` to the
    stretch's end (so the lead-in needs no tempo of its own)."""
    (so, to), (se, te, last) = origin, end
    slope = (se - so) / (te - to)
    return _fits(seconds[:last + 1] - (so + slope * (ticks[:last + 1] - to)), slope, ticks_per_beat, tolerance,
                 last=last == len(seconds) - 1)
