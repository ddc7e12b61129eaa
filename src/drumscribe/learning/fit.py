"""Fitting a user's profile on corrected jobs, and judging it by leave-one-job-out cross-validation.

Kinds of fit, from the least to the most that changes (every kind includes the ones before it):

``thresholds``
    per class, the peak-picking threshold with the best F (±50 ms) over the corrected jobs, moved
    from the shipped one only where an inner leave-one-job-out agrees; then one time offset: the
    median distance from the detected hits to the corrected ones (users who nudge every hit later
    get their convention). Numpy only.
``last_layer``
    each detecting network's output layer (a dense sigmoid layer on its penultimate activations)
    refitted as a logistic regression on the corrected hits and the false peaks, jointly per class
    over the networks whose mean detects it, under a Gaussian prior centred on the shipped weights
    (a few songs must not unlearn 28 hours of training), and kept only for the classes where an
    inner leave-jobs-out says it helps. Numpy and scipy's L-BFGS only. Then ``thresholds`` on the
    refitted outputs.
``fine_tune``
    with the ``train`` extra: the networks fine-tuned on the recordings themselves
    (``finetune.py``), then ``thresholds``.

``cross_validate`` fits each kind on all jobs but one and scores the held-out job with it, for
every job in turn; the counts of the held-out jobs are summed per class. ``choose`` applies the
gate of issue 23: a kind is adopted only when the mean F rises and no class with at least
``MIN_HITS_GUARDED`` corrected hits loses more than ``MAX_CLASS_DROP`` of F.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from drumscribe.learning.examples import Example, detection_activations, detects, output_layer, networks
from drumscribe.learning.matching import WINDOW, Counts, match, mean_f

DEFAULTS, THRESHOLDS, LAST_LAYER, FINE_TUNE = "defaults", "thresholds", "last_layer", "fine_tune"
KINDS = (THRESHOLDS, LAST_LAYER, FINE_TUNE)
GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)  # candidate thresholds
FLOOR = float(GRID[0])
MAX_OFFSET = 0.05  # seconds: an offset beyond the matching window would be a mislabelled song, not a convention
MIN_OFFSET_PAIRS = 20  # fewer matched hits than this leave the offset as it is
THRESHOLD_TOLERANCE = 0.01  # F a threshold must gain over the shipped one to replace it
MIN_HITS_GUARDED = 20
MAX_CLASS_DROP = 0.01
L2 = 100.0  # last layer: precision of the prior on the shipped weights, against the summed loss (fit_last_layer)
ALIGN_FRAMES = 4  # a corrected hit is trained on its class's strongest frame within ±40 ms
MAX_INNER_FOLDS = 5  # inner cross-validations hold out one job at a time, or this many groups


@dataclass
class Fitted:
    """A fitted profile's content: detection thresholds, offset and (optionally) new weights."""

    kind: str
    thresholds: dict[str, float]
    offset: float
    layers: list[tuple[np.ndarray, np.ndarray]] | None = None  # last_layer: every network's output layer
    model: Any = None  # fine_tune: the tuned DrumModel (numpy), whose file is stored with the profile
    arrays: dict[str, np.ndarray] | None = None  # fine_tune: that model file's arrays

    def activations(self, example: Example, base: Any) -> np.ndarray:
        """The detection activations this fit gives for a job."""
        if self.model is not None:
            return np.asarray(self.model.activations(example.feats), np.float32)
        if self.layers is not None:
            return detection_activations(base, example.hidden, self.layers)
        return example.acts

    @property
    def changes_weights(self) -> bool:
        return self.layers is not None or self.model is not None


def defaults(model: Any) -> Fitted:
    return Fitted(DEFAULTS, {c: float(model.thresholds[c]) for c in model.classes}, float(model.offset))


# --- detection on activations ---------------------------------------------------------------


@dataclass
class Candidates:
    """Per class: every peak at or above ``FLOOR`` (times with the offset, heights)."""

    times: dict[str, np.ndarray]
    heights: dict[str, np.ndarray]

    def above(self, cls: str, threshold: float) -> np.ndarray:
        # peak picking keeps, at a threshold, exactly the peaks it keeps at a lower one that reach it:
        # a peak is only ever suppressed by a stronger one nearby, which a higher threshold also keeps
        return self.times[cls][self.heights[cls] >= threshold - 1e-9]


def candidates(acts: np.ndarray, model: Any, offset: float, duration: float) -> Candidates:
    from drumscribe.transcription.peaks import detect_onsets

    classes = list(model.classes)
    found = [o for o in detect_onsets(acts, model, thresholds={c: FLOOR for c in classes}, offset=offset)
             if 0.0 <= o.time < duration]
    times = {c: np.array([o.time for o in found if o.instrument == c]) for c in classes}
    heights = {c: np.array([o.confidence for o in found if o.instrument == c]) for c in classes}
    return Candidates(times, heights)


def estimates(acts: np.ndarray, model: Any, thresholds: Mapping[str, float], offset: float,
              duration: float) -> dict[str, np.ndarray]:
    """Detected onset times per class (what ``transcribe`` would write) for these settings."""
    cand = candidates(acts, model, offset, duration)
    return {c: cand.above(c, max(FLOOR, float(thresholds[c]))) for c in model.classes}


def score_fit(fit: Fitted, examples: Sequence[Example], base: Any) -> dict[str, Counts]:
    out = {c: Counts() for c in base.classes}
    for ex in examples:
        est = estimates(fit.activations(ex, base), base, fit.thresholds, fit.offset, ex.duration)
        for c in base.classes:
            out[c].add(ex.refs[c], est[c])
    return out


# --- thresholds and offset ------------------------------------------------------------------


def curves(acts: Sequence[np.ndarray], examples: Sequence[Example], model: Any, offset: float) -> np.ndarray:
    """(jobs, classes, thresholds, 3): true positives, false positives and misses of each job, class
    and grid threshold. Everything that chooses thresholds works from these counts."""
    out = np.zeros((len(examples), len(model.classes), len(GRID), 3), np.int64)
    for i, (a, ex) in enumerate(zip(acts, examples)):
        cand = candidates(a, model, offset, ex.duration)
        for c, cls in enumerate(model.classes):
            for t, th in enumerate(GRID):
                k = Counts().add(ex.refs[cls], cand.above(cls, th))
                out[i, c, t] = (k.tp, k.fp, k.fn)
    return out


def _f(counts: np.ndarray) -> np.ndarray:
    """F per row of (tp, fp, fn) counts (1 where there is nothing to find and nothing found)."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0)


def _pick(summed: np.ndarray, start: float, tolerance: float) -> int:
    """Index of the grid threshold to use given summed (thresholds, 3) counts: of those within
    ``tolerance`` of the best F, the one nearest ``start``."""
    f = _f(summed)
    good = np.flatnonzero(f >= f.max() - tolerance - 1e-9)
    return int(min(good, key=lambda t: (abs(GRID[t] - start), GRID[t])))


def fit_thresholds(acts: Sequence[np.ndarray], examples: Sequence[Example], model: Any, offset: float,
                   start: Mapping[str, float], tolerance: float = THRESHOLD_TOLERANCE) -> dict[str, float]:
    """Per class, a threshold from the grid, or the shipped one (``start``) where the jobs do not
    show that moving it helps.

    The candidate is, of the thresholds whose F summed over the jobs is within ``tolerance`` of the
    best, the one nearest ``start``: F is flat over a wide range of thresholds, and on a handful of
    songs its exact top is noise. It replaces ``start`` only if choosing it that way also wins when
    each job in turn is left out of the choice and scored with it (an inner leave-one-job-out):
    a threshold that one song pulls up and the others do not want stays where it was.
    """
    table = curves(acts, examples, model, offset)
    chosen = {}
    for c, cls in enumerate(model.classes):
        home = int(np.argmin(np.abs(GRID - start[cls])))
        pick = _pick(table[:, c].sum(axis=0), float(start[cls]), tolerance)
        if pick == home or len(examples) < 2:
            chosen[cls] = float(start[cls]) if pick == home or len(examples) < 2 else float(GRID[pick])
            continue
        held = np.zeros(3, np.int64)
        for i in range(len(examples)):
            rest = np.delete(table[:, c], i, axis=0).sum(axis=0)
            held += table[i, c, _pick(rest, float(start[cls]), tolerance)]
        shipped = table[:, c, home].sum(axis=0)
        chosen[cls] = float(GRID[pick]) if _f(held) > _f(shipped) + 1e-9 else float(start[cls])
    return chosen


def fit_offset(acts: Sequence[np.ndarray], examples: Sequence[Example], model: Any, thresholds: Mapping[str, float],
               offset: float) -> float:
    """``offset`` moved by the median (corrected - detected) time of the matched hits, within ±50 ms."""
    diffs: list[float] = []
    for a, ex in zip(acts, examples):
        est = estimates(a, model, thresholds, offset, ex.duration)
        for c in model.classes:
            diffs += [float(ex.refs[c][i] - est[c][j]) for i, j in match(ex.refs[c], est[c])]
    if len(diffs) < MIN_OFFSET_PAIRS:
        return offset
    return float(np.clip(round(offset + float(np.median(diffs)), 4), -MAX_OFFSET, MAX_OFFSET))


def fit_detection(kind: str, acts: Sequence[np.ndarray], examples: Sequence[Example], base: Any, **weights: Any) -> Fitted:
    """Thresholds, then the offset, on activations ``acts`` of ``examples``; ``weights``: the
    ``Fitted`` fields of the kind (``layers``, or ``model`` and ``arrays``)."""
    start = {c: float(base.thresholds[c]) for c in base.classes}
    thresholds = fit_thresholds(acts, examples, base, float(base.offset), start)
    offset = fit_offset(acts, examples, base, thresholds, float(base.offset))
    return Fitted(kind, thresholds, offset, **weights)


def fit_thresholds_kind(examples: Sequence[Example], model: Any) -> Fitted:
    return fit_detection(THRESHOLDS, [ex.acts for ex in examples], examples, model)


# --- the last layer -------------------------------------------------------------------------


def aligned_frames(times: np.ndarray, act: np.ndarray, fps: float, offset: float) -> np.ndarray:
    """The frame each corrected hit is trained on: its class's strongest frame within ±40 ms of it.

    A hit added in the editor sits on the 16th-note grid (or where a DAW put it), not on the
    attack; the network's own peak is where the attack is when it saw one at all."""
    out = []
    for t in times:
        f = int(round((t - offset) * fps))
        lo, hi = max(0, f - ALIGN_FRAMES), min(len(act), f + ALIGN_FRAMES + 1)
        if lo >= hi:
            continue
        window = act[lo:hi]
        out.append(lo + int(np.argmax(window)) if float(window.max()) >= 0.02 else min(max(f, 0), len(act) - 1))
    return np.asarray(out, int)


def hit_frames(ex: Example, c: int, cls: str, model: Any) -> tuple[np.ndarray, np.ndarray]:
    """(frame indexes, targets) of one job for one class's regression: each corrected hit's frame
    (target 1) and each peak the shipped model has there with no corrected hit within ±50 ms (0).

    Peak picking only ever reads peaks, so these are the frames whose values decide what is
    found: a missed hit must rise above the threshold, a false one fall below it."""
    act = ex.acts[:, c]
    hits = aligned_frames(ex.refs[cls], act, float(model.fps), float(model.offset))
    left = np.concatenate([[-1.0], act[:-1]])
    right = np.concatenate([act[1:], [-1.0]])
    peaks = np.flatnonzero((act >= FLOOR) & (act > left) & (act >= right))
    covered = np.zeros(len(act), bool)
    reach = int(round(WINDOW * float(model.fps)))
    for f in hits:
        covered[max(0, f - reach) : f + reach + 1] = True
    false = peaks[~covered[peaks]]
    return np.concatenate([hits, false]), np.concatenate([np.ones(len(hits), np.float32), np.zeros(len(false), np.float32)])


def fit_last_layer(examples: Sequence[Example], model: Any, l2: float = L2) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every network's output layer, with the columns of the classes it detects refitted.

    Per class ``c`` the detection is ``mean_j sigmoid(h_j . w_jc + b_jc)`` over the networks ``j``
    that detect it; (w, b) of those networks are fitted together by minimising the binary
    cross-entropy summed over the frames of ``hit_frames`` (corrected hits 1, false peaks 0) plus
    ``l2 / 2 * |(w, b) - shipped|^2``: the most likely weights under a Gaussian prior centred on
    the shipped ones, so a handful of hits moves them a little and hundreds move them more. A class
    with no corrected hit keeps its weights (its threshold can still silence it).
    """
    from scipy.optimize import minimize

    nets = networks(model)
    if nets is None or any(ex.hidden is None for ex in examples):
        raise ValueError("the model has no output layer to refit")
    base = [output_layer(n) for n in nets]
    layers = [(w.copy(), b.copy()) for w, b in base]
    mask = detects(model, len(nets))
    for c, cls in enumerate(model.classes):
        members = [j for j in range(len(nets)) if mask[j, c]]
        rows = [hit_frames(ex, c, cls, model) for ex in examples]
        positives = float(sum(y.sum() for _, y in rows))
        if positives == 0:
            continue
        hs = [np.concatenate([ex.hidden[j][idx] for ex, (idx, _) in zip(examples, rows)]) for j in members]
        y = np.concatenate([y for _, y in rows])
        s = np.float32(1.0)
        w0 = [base[j][0][:, c].astype(np.float64) for j in members]
        b0 = [float(base[j][1][c]) for j in members]
        sizes = [len(w) for w in w0]
        theta0 = np.concatenate([np.append(w, b) for w, b in zip(w0, b0)])
        anchor = theta0.copy()
        k = len(members)

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            parts, at = [], 0
            for size in sizes:
                parts.append((theta[at : at + size], theta[at + size]))
                at += size + 1
            # float32 products (the frames x width matrices dominate), float64 sums
            sig = [0.5 * (1.0 + np.tanh(0.5 * (h @ w.astype(np.float32) + np.float32(b)))) for h, (w, b) in zip(hs, parts)]
            p = np.clip(sum(sig) / k, 1e-6, 1 - 1e-6)
            data = float(np.sum(s * -(y * np.log(p) + (1 - y) * np.log(1 - p)), dtype=np.float64))
            dp = s * (p - y) / (p * (1 - p)) / k  # d data / d p, through the mean
            grad = []
            for h, g in zip(hs, sig):
                dz = (dp * g * (1 - g)).astype(np.float32)
                grad.append(np.append(h.T @ dz, dz.sum(dtype=np.float64)).astype(np.float64))
            delta = theta - anchor
            return data + 0.5 * l2 * float(delta @ delta), np.concatenate(grad) + l2 * delta

        theta = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 300}).x
        at = 0
        for j, size in zip(members, sizes):
            layers[j][0][:, c] = theta[at : at + size].astype(np.float32)
            layers[j][1][c] = np.float32(theta[at + size])
            at += size + 1
    return layers


def fit_last_layer_kind(examples: Sequence[Example], model: Any, l2: float = L2) -> Fitted:
    """The last layer refitted for the classes where an inner cross-validation says it helps, then
    thresholds and offset on the outputs."""
    layers = fit_last_layer(examples, model, l2)
    keep = refit_helps(examples, model, l2)
    base = [output_layer(n) for n in networks(model)]
    for c, cls in enumerate(model.classes):
        if cls not in keep:
            for (w, b), (w0, b0) in zip(layers, base):
                w[:, c], b[c] = w0[:, c], b0[c]
    if not keep:
        return fit_thresholds_kind(examples, model)
    acts = [detection_activations(model, ex.hidden, layers) for ex in examples]
    return fit_detection(LAST_LAYER, acts, examples, model, layers=layers)


def inner_folds(n: int) -> list[np.ndarray]:
    """Held-out groups of an inner cross-validation: one job each, or ``MAX_INNER_FOLDS`` groups."""
    return [g for g in np.array_split(np.arange(n), min(n, MAX_INNER_FOLDS)) if len(g)]


def refit_helps(examples: Sequence[Example], model: Any, l2: float = L2) -> set[str]:
    """The classes whose F over held-out jobs is higher with the refitted layer (and thresholds fitted
    on its outputs) than with the shipped layer (and thresholds fitted on its outputs)."""
    if len(examples) < 2:
        return set()
    classes = list(model.classes)
    refit = {c: Counts() for c in classes}
    plain = {c: Counts() for c in classes}
    for held in inner_folds(len(examples)):
        train = [ex for k, ex in enumerate(examples) if k not in set(held)]
        test = [examples[k] for k in held]
        layers = fit_last_layer(train, model, l2)
        tuned = fit_detection(LAST_LAYER, [detection_activations(model, ex.hidden, layers) for ex in train], train,
                              model, layers=layers)
        for c, k in score_fit(tuned, test, model).items():
            refit[c] += k
        for c, k in score_fit(fit_thresholds_kind(train, model), test, model).items():
            plain[c] += k
    return {c for c in classes if refit[c].f > plain[c].f + 1e-9}


# --- cross-validation and the gate ----------------------------------------------------------

Fitter = Callable[[Sequence[Example], Any], Fitted]


def fitters(model: Any, examples: Sequence[Example], torch_fit: Fitter | None = None) -> dict[str, Fitter]:
    """The kinds that apply: thresholds always, the last layer for a layered model, fine-tuning with torch."""
    out: dict[str, Fitter] = {THRESHOLDS: fit_thresholds_kind}
    if networks(model) is not None and all(ex.hidden is not None for ex in examples):
        out[LAST_LAYER] = fit_last_layer_kind
        if torch_fit is not None:
            out[FINE_TUNE] = torch_fit
    return out


@dataclass
class CrossValidation:
    """Held-out counts per class: the shipped model's, and each kind's."""

    classes: list[str]
    before: dict[str, Counts]
    after: dict[str, dict[str, Counts]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # fitting time per kind, all folds


def cross_validate(examples: Sequence[Example], model: Any, kinds: Mapping[str, Fitter],
                   progress: Callable[[str], None] | None = None) -> CrossValidation:
    import time

    classes = list(model.classes)
    cv = CrossValidation(classes, score_fit(defaults(model), examples, model))
    for kind, fit in kinds.items():
        counts = {c: Counts() for c in classes}
        start = time.perf_counter()
        for i, held in enumerate(examples):
            if progress is not None:
                progress(f"{kind}: fold {i + 1} of {len(examples)}")
            fitted = fit([ex for k, ex in enumerate(examples) if k != i], model)
            for c, k in score_fit(fitted, [held], model).items():
                counts[c] += k
        cv.after[kind] = counts
        cv.seconds[kind] = time.perf_counter() - start
    return cv


@dataclass
class Choice:
    kind: str  # DEFAULTS when nothing passed the gate
    reasons: dict[str, str]  # per kind: why it was or was not adopted


def gate(before: Mapping[str, Counts], after: Mapping[str, Counts], hits: Mapping[str, int]) -> str | None:
    """None when ``after`` may replace ``before``; else why not (one line)."""
    gain = mean_f(after) - mean_f(before)
    if gain <= 1e-9:
        return f"mean F {mean_f(before):.3f} -> {mean_f(after):.3f} does not rise"
    for c in before:
        drop = before[c].f - after[c].f
        if hits.get(c, 0) >= MIN_HITS_GUARDED and drop > MAX_CLASS_DROP:
            return f"{c} ({hits[c]} corrected hits) drops by {drop:.3f} F"
    return None


def choose(cv: CrossValidation, hits: Mapping[str, int]) -> Choice:
    """The kind with the best held-out mean F among those that pass the gate (DEFAULTS if none)."""
    reasons, passing = {}, []
    for kind, after in cv.after.items():
        why = gate(cv.before, after, hits)
        reasons[kind] = why or f"mean F {mean_f(cv.before):.3f} -> {mean_f(after):.3f}"
        if why is None:
            passing.append((mean_f(after), -list(cv.after).index(kind), kind))
    return Choice(max(passing)[2] if passing else DEFAULTS, reasons)
