"""Open or closed: a detected hi-hat hit is *open* when it still rings 80 ms after its attack.

The network has one hi-hat output (open, closed and pedal hats share it, see ``docs/model.md``).
What tells an open hat from a closed one is its decay: the closed cymbals are damped within a few
tens of milliseconds, open ones ring for hundreds. So, on the hi-hat band curve the velocity stage
already keeps (``velocity.strength_curves``: mean magnitude over 5-11 kHz, 100 frames per second):

    rise    = max(curve[f-1 .. f+2]) - min(curve[f-4 .. f-2])       (the attack, as for velocity)
    sustain = curve[f + lag] - min(curve[f-4 .. f-2])               (what is left of it)
    open    = sustain >= OPEN_RATIO * rise

with ``lag`` = 8 frames (80 ms), shortened when the next hi-hat hit comes sooner (its attack must
not count as ringing), and the hit called closed when fewer than 3 frames are left to look at or
the attack barely rises. Measuring from the level before the hit keeps a crash ringing underneath
from making every hat look open.

``SUSTAIN_LAG`` and ``OPEN_RATIO`` were chosen on synthetic validation clips, whose labels say which
hits are open (``python -m drumscribe.training.hihat_sweep``; lags 4-16 frames, ratios 0.3-0.8).
On the 220 clips of ``val``, ``valv2`` and ``valv3``, lag 8 / ratio 0.5 and lag 12 / ratio 0.3 tie
(balanced accuracy 0.643; many synthetic "open" hats are choked early); on ``val`` alone lag 8 /
0.5 is best (0.657). We keep the shorter look, which fast hi-hat patterns leave room for more often.
On the MDB development recordings, of the detected hats matched to annotated ones, 28 of 28 open
ones are called open and 196 of 214 closed ones closed (``benchmarks/accuracy.py`` prints these counts).
"""

from __future__ import annotations

import numpy as np

SUSTAIN_LAG = 8  # frames after the attack (80 ms at 100 fps)
OPEN_RATIO = 0.5  # the sustain must keep half the attack's rise (-6 dB)
MIN_LAG = 3  # with fewer frames before the next hat, there is no telling: closed
MIN_RISE = 1e-4  # an attack that does not rise above its background cannot be judged: closed


def open_hits(curve: np.ndarray, frames, lag: int = SUSTAIN_LAG, ratio: float = OPEN_RATIO) -> np.ndarray:
    """For hi-hat hits at ``frames`` (any order) on a hi-hat band curve: True where the hat is open.

    ``lag`` and ``ratio`` are for the calibration sweep (``drumscribe.training.hihat_sweep``).
    """
    curve = np.asarray(curve, dtype=np.float64)
    frames = np.asarray(frames, dtype=np.int64)
    result = np.zeros(len(frames), dtype=bool)
    n = len(curve)
    if n == 0 or len(frames) == 0:
        return result
    ordered = np.sort(frames)
    # the next hat strictly after each hit (two at one frame are one hit's duplicates, not its end)
    after = np.searchsorted(ordered, frames, side="right")
    for i, f in enumerate(frames.tolist()):
        gap = int(ordered[after[i]] - f) if after[i] < len(ordered) else n
        look = min(lag, gap - 2)
        if look < MIN_LAG or f + look >= n or f < 0:
            continue
        base_window = curve[max(0, f - 4) : max(0, f - 1)]
        base = float(base_window.min()) if len(base_window) else 0.0
        rise = float(curve[max(0, f - 1) : f + 3].max()) - base
        if rise < MIN_RISE:
            continue
        result[i] = curve[f + look] - base >= ratio * rise
    return result


def split(instruments, frames, hat_curve: np.ndarray) -> list[str]:
    """Instrument names with every ringing ``hihat_closed`` hit renamed ``hihat_open``."""
    names = list(instruments)
    hats = [k for k, name in enumerate(names) if name == "hihat_closed"]
    for k, is_open in zip(hats, open_hits(hat_curve, [frames[k] for k in hats])):
        if is_open:
            names[k] = "hihat_open"
    return names


def play_open_hats(names, frames, strength: np.ndarray, class_instruments) -> list[str]:
    """Per hit, its instrument name; hits of a model's shared hi-hat output that ring become open.

    ``strength``: the band curves of the model's classes (``velocity.strength_curves``), one column
    per class in ``class_instruments`` order. A model that has its own open-hat output, or no
    hi-hat, is left as it is.
    """
    class_instruments = list(class_instruments)
    if "hihat_open" in class_instruments or "hihat_closed" not in class_instruments:
        return list(names)
    return split(names, frames, strength[:, class_instruments.index("hihat_closed")])
