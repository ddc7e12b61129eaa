"""Which hi-hat, tom or cymbal: naming the hits of a class with the model's finer outputs.

A model from 2.0 on detects hits on five classes (kick, snare, hi-hat, tom, cymbal: the outputs
every figure in ``docs/model.md`` is measured on) and has finer outputs that say which one of its
class a hit is: closed or open hi-hat, high, mid or low (floor) tom, crash or ride
(``network.DrumModel.fine_classes``, ``fine_groups``). Detection stays on the class output; the
name of a hit is the finer output of its class that is strongest within one frame of the peak.
Naming never adds or removes a hit, so it cannot cost a class its precision or recall.

Models without finer outputs (1.x) keep their class names; open hats then come from the ringing
rule in ``hihat.py``, which also stays in charge of open hats when the model says so
(``open_hat == "rule"``: the rule scored better than the learnt output).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from drumscribe.transcription import hihat

WINDOW = 1  # frames each side of the peak


def learnt_open_hats(model) -> bool:
    """Whether the model's own open-hat output names open hats (else the ringing rule does)."""
    return getattr(model, "open_hat", "rule") == "learnt" and "hihat_open" in getattr(model, "fine_classes", [])


def name_hits(names: Sequence[str], classes: Sequence[str], frames: Sequence[int], fine: np.ndarray,
              model) -> list[str]:
    """Per hit, its instrument: ``names`` (the class's instrument) refined by the finer outputs.

    ``classes``: each hit's model class; ``fine``: ``(frames, len(model.fine_classes))`` activations.
    """
    names = list(names)
    groups = dict(getattr(model, "fine_groups", {}) or {})
    if not groups or fine is None or fine.size == 0:
        return names
    if not learnt_open_hats(model):
        groups = {c: g for c, g in groups.items() if "hihat_open" not in g}
    columns = {c: [model.fine_classes.index(n) for n in g] for c, g in groups.items()}
    n = len(fine)
    for k, (cls, f) in enumerate(zip(classes, frames)):
        if cls not in groups:
            continue
        lo, hi = max(0, int(f) - WINDOW), min(n, int(f) + WINDOW + 1)
        if lo >= hi:
            continue
        scores = fine[lo:hi, columns[cls]].max(axis=0)
        names[k] = groups[cls][int(np.argmax(scores))]
    return names


def play(classes: Sequence[str], frames: Sequence[int], fine: np.ndarray, strength: np.ndarray, model,
         class_instruments: dict[str, str]) -> list[str]:
    """Per hit, the instrument it is played as: its class's instrument, refined by the finer outputs,
    and (unless the model names open hats itself) hats that ring 80 ms called open (``hihat.py``).

    ``strength``: the classes' band curves (``velocity.strength_curves``); ``class_instruments``:
    model class -> instrument name (merged outputs mapped, ``pipeline.note_of``).
    """
    names = name_hits([class_instruments[c] for c in classes], classes, frames, fine, model)
    if learnt_open_hats(model):
        return names
    return hihat.play_open_hats(names, frames, strength, [class_instruments[c] for c in model.classes])
