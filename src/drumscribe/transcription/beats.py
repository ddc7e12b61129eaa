"""Tempo, beats and downbeats from the drum network's own activations (no second network).

Beats: the drums *are* the pulse of most music, and the drum network already says, per frame,
how likely each drum is struck. Their weighted sum (kick and snare 1, the other classes 0.3:
hi-hats and cymbals often play every eighth note and would pull the tempo up an octave) is the
observation of madmom's ``DBNBeatTrackingProcessor`` (a bar-pointer HMM over 55-215 BPM). The
DBN's memory grows with frames x tempo states, so it runs on overlapping windows of
``WINDOW_SECONDS`` and keeps each window's beats in its core. Each beat is then moved to the
sub-frame peak of the activation and given the model's onset offset, so a beat sits exactly on
the drum hit that marks it (madmom's own beat networks put it about 10 ms early).

No pulse: fewer than ``MIN_BEATS`` beats, beats that mostly fall where nothing is struck
(``MIN_SUPPORT``), or fewer than ``MIN_BEATS`` beats with a kick or snare on them (noise sets off
the cymbal output, not a pulse) mean there is no steady pulse to report: no beats, no downbeats,
tempo ``None`` (silence, a single hit, two hits, a 0.1 s clip, noise). Hits struck at random can
still get one: the DBN finds a slow, smooth pulse through a good share of them, and a test of how
many hits sit on its grid would also reject shuffles and 16th-note ghost notes.

Octave: a slow groove's eighth-note hi-hats can carry the DBN to twice the tempo; tracked at
130 BPM or faster with the kick and snare on every other beat only, every other beat is dropped
(``eighth_note_parity``).

Downbeats (4/4): which of every four beats starts the bar is read from the drum pattern, the
classic rock/pop cue. Per position in the bar, the mean kick, snare and crash activations on the
beats give two contrasts: *backbeat* (kick minus snare on beats 1 and 3 against 2 and 4) decides
between the two pairs of phases, *accent* (kick plus crash on one beat of the pair against the
other) decides between beat 1 and beat 3. A contrast weaker than ``PHASE_MARGIN`` is no
evidence; then the first beat that carries a kick (or, without kicks, any hit) of the right
parity is taken as beat 1: music starts on a bar line unless it has a pickup, and a pickup is
lead-in *before* the first kick on one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

BEATS_PER_BAR = 4
MIN_BPM, MAX_BPM = 55.0, 215.0
DBN_FPS = 50  # the DBN's frame rate: beats are put back on the 100 fps activation afterwards
NUM_TEMPI = 60  # log-spaced beat periods (at most one per whole-frame period)
OBSERVATION_LAMBDA = 16  # madmom's default: the beat region is the first 1/16 of each beat period
WINDOW_SECONDS = 60  # DBN window: its Viterbi memory is frames x ~3000 tempo states (~100 MB for 80 s)
WINDOW_MARGIN_SECONDS = 10
BEAT_WEIGHTS = {"kick": 1.0, "snare": 1.0}  # every other class counts OTHER_WEIGHT
OTHER_WEIGHT = 0.3
ACTIVATION_CEILING = 0.9  # the DBN takes log(p) and log(1 - p): the observation must stay inside (0, 1)
ACTIVATION_FLOOR = 1e-4
MIN_ACTIVITY = 0.05  # below this everywhere: nothing is played
MIN_BEATS = 4  # fewer beats than a bar: no steady pulse
MIN_SUPPORT = 0.4  # at least this fraction of the beats must fall on a hit ...
HIT_LEVEL = 0.15  # ... i.e. a weighted activation this high within SUPPORT_FRAMES of the beat
SUPPORT_FRAMES = 3
EDGE_TOLERANCE = 0.1  # a beat added at either end may sit this fraction of a period off the grid
FIRST_HIT_LEVEL = 0.4  # a kick this likely (about the model's thresholds) on a beat starts bar 1
PHASE_MARGIN = 0.25  # contrast (in activation units) below which the drum pattern is no evidence
HALVE_FROM_BPM = 130.0  # tracked this fast or faster (half: 65 BPM or more), a kick/snare on only every other beat halves it
HALVE_SHARE = 0.9  # ... on at least this share of one half of the beats and at most 1 - it of the other
PEAK_FRAMES = 2  # a beat's strength per class: the largest activation within this many frames


@dataclass
class BeatResult:
    beats: list[float] = field(default_factory=list)
    downbeats: list[float] = field(default_factory=list)
    tempo: float | None = None  # None: no steady pulse (or beats not tracked)
    phase_from: str = ""  # what chose the downbeat phase: "pattern", "first kick", "first hit"


def _groups(classes: Sequence[str]) -> dict[str, list[int]]:
    """Columns of the model's classes that play kick, snare and crash (merged outputs mapped)."""
    from drumscribe.transcription.pipeline import note_of

    out: dict[str, list[int]] = {"kick": [], "snare": [], "crash": []}
    for i, c in enumerate(classes):
        name = note_of(c)[0]
        if name in out:
            out[name].append(i)
    return out


def beat_activation(activations: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """(frames, classes) drum activations -> (frames,) weighted sum: how strongly a beat is struck."""
    from drumscribe.transcription.pipeline import note_of

    weights = np.array([BEAT_WEIGHTS.get(note_of(c)[0], OTHER_WEIGHT) for c in classes], np.float32)
    return np.asarray(activations, np.float32) @ weights


_dbns: dict[int, object] = {}


def _dbn(fps: int):
    """madmom's beat DBN, built once per process (its state space and transitions take a while)."""
    if fps not in _dbns:
        from drumscribe._madmom import madmom  # noqa: F401  (before any madmom.* import)
        from madmom.features.beats import DBNBeatTrackingProcessor

        _dbns[fps] = DBNBeatTrackingProcessor(min_bpm=MIN_BPM, max_bpm=MAX_BPM, fps=fps, num_tempi=NUM_TEMPI,
                                              observation_lambda=OBSERVATION_LAMBDA, threshold=MIN_ACTIVITY)
    return _dbns[fps]


def track_beats(activation: np.ndarray, *, fps: float) -> np.ndarray:
    """Beat frames (float, sub-frame refined) of a 1-D beat activation at ``fps``.

    The DBN runs at ``DBN_FPS`` (the activation max-pooled: a fifth of the cost, the tempo states
    scale with the frame rate too), window by window; each beat is then put back on the
    activation's own peak within a pooled frame, refined to sub-frame precision, and beats the
    DBN left out at either end are added where the drums carry on at the same period.
    """
    act = np.asarray(activation, dtype=np.float32)
    peak = float(act.max(initial=0.0))
    if len(act) < 2 or peak < MIN_ACTIVITY:
        return np.zeros(0)
    pool = max(1, int(round(fps / DBN_FPS)))
    n = len(act) // pool * pool
    pooled = act[:n].reshape(-1, pool).max(axis=1) if pool > 1 else act
    # scaled by the loudest moment so that quiet and loud recordings look alike to the DBN
    obs = np.clip(pooled * (ACTIVATION_CEILING / peak), ACTIVATION_FLOOR, ACTIVATION_CEILING).astype(np.float32)
    dbn_fps = int(round(fps / pool))
    dbn = _dbn(dbn_fps)
    win, margin = WINDOW_SECONDS * dbn_fps, WINDOW_MARGIN_SECONDS * dbn_fps
    found: list[np.ndarray] = []
    for core_start in range(0, len(obs), win):
        lo = max(0, core_start - margin)
        hi = min(len(obs), core_start + win + margin)
        frames = np.round(np.asarray(dbn(obs[lo:hi]), dtype=np.float64) * dbn_fps).astype(int) + lo
        core_end = core_start + win if core_start + win < len(obs) else np.inf
        found.append(frames[(frames >= core_start) & (frames < core_end)])
    pooled_frames = np.concatenate(found) if found else np.zeros(0, int)
    frames = [_peak_near(act, f * pool + pool // 2, pool) for f in pooled_frames]
    # windows can each claim a beat a few frames apart at a seam: keep the first
    frames = [f for i, f in enumerate(frames) if i == 0 or f - frames[i - 1] > 0.5 * 60.0 * fps / MAX_BPM]
    frames = _extend_edges(act, _trim_edges(act, frames))
    from drumscribe.transcription.peaks import refine

    return np.array([f + refine(act, int(f)) for f in frames], dtype=np.float64)


def _peak_near(act: np.ndarray, frame: int, reach: int) -> int:
    lo, hi = max(0, frame - reach), min(len(act), frame + reach + 1)
    return lo + int(np.argmax(act[lo:hi])) if hi > lo else min(max(frame, 0), len(act) - 1)


def _has_hit(act: np.ndarray, frame: int) -> bool:
    return float(act[max(0, frame - SUPPORT_FRAMES) : frame + SUPPORT_FRAMES + 1].max(initial=0.0)) >= HIT_LEVEL


def _trim_edges(act: np.ndarray, frames: list[int]) -> list[int]:
    """Drop beats before the first and after the last one that falls on a hit: the DBN carries the
    pulse on through silence at either end (a fade, a file's last frame), where no one hears one."""
    hit = [i for i, f in enumerate(frames) if _has_hit(act, int(f))]
    return list(frames[hit[0] : hit[-1] + 1]) if hit else []


def _extend_edges(act: np.ndarray, frames: list[int]) -> list[int]:
    """Add beats one period before the first and after the last while a hit is there (the DBN's
    bar pointer often starts a beat late: a downbeat at 0.000 s would be lost, and bar 1 with it)."""
    if len(frames) < MIN_BEATS:
        return frames
    frames = list(frames)
    head, tail = float(np.median(np.diff(frames[:MIN_BEATS]))), float(np.median(np.diff(frames[-MIN_BEATS:])))
    reach = max(SUPPORT_FRAMES, int(round(EDGE_TOLERANCE * head)))  # beats drift: look a little either side
    while frames[0] - head >= -reach:
        f = _peak_near(act, int(round(frames[0] - head)), reach)
        if act[f] < HIT_LEVEL or f >= frames[0]:
            break
        frames.insert(0, f)
    reach = max(SUPPORT_FRAMES, int(round(EDGE_TOLERANCE * tail)))
    while frames[-1] + tail <= len(act) - 1 + reach:
        f = _peak_near(act, int(round(frames[-1] + tail)), reach)
        if act[f] < HIT_LEVEL or f <= frames[-1]:
            break
        frames.append(f)
    return frames


def supported(activation: np.ndarray, frames: np.ndarray) -> float:
    """Fraction of beats with a hit (activation >= HIT_LEVEL) within SUPPORT_FRAMES."""
    if len(frames) == 0:
        return 0.0
    act = np.asarray(activation)
    idx = np.clip(np.round(frames).astype(int), 0, len(act) - 1)
    return float(np.mean([_has_hit(act, int(i)) for i in idx]))


def strengths_at(activations: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """(beats, classes): each class's largest activation within PEAK_FRAMES of each beat."""
    act = np.asarray(activations, np.float32)
    idx = np.clip(np.round(frames).astype(int), 0, len(act) - 1)
    return np.array([act[max(0, i - PEAK_FRAMES) : i + PEAK_FRAMES + 1].max(axis=0) for i in idx]).reshape(len(idx), -1)


def downbeat_phase(kick: np.ndarray, snare: np.ndarray, crash: np.ndarray) -> tuple[int, str]:
    """(index of the first downbeat among the beats, what decided it) from per-beat drum strengths."""
    n = len(kick)
    position = np.arange(n) % BEATS_PER_BAR

    def mean_at(values: np.ndarray) -> np.ndarray:
        return np.array([values[position == j].mean() if np.any(position == j) else 0.0 for j in range(BEATS_PER_BAR)])

    k, s, c = mean_at(kick), mean_at(snare), mean_at(crash)
    backbeat = ((k[0] + k[2] - s[0] - s[2]) - (k[1] + k[3] - s[1] - s[3])) / 2
    parity = None if abs(backbeat) < PHASE_MARGIN else (0 if backbeat > 0 else 1)
    if parity is not None:
        accent = (k[parity] + c[parity]) - (k[parity + 2] + c[parity + 2])
        if abs(accent) >= PHASE_MARGIN:
            return (parity if accent > 0 else parity + 2), "pattern"
    # no clear evidence: the first beat that carries a kick (of the right parity) starts bar 1
    for values, how in ((kick, "first kick"), (np.maximum(np.maximum(kick, snare), crash), "first hit")):
        for i in range(n):
            if values[i] >= FIRST_HIT_LEVEL and (parity is None or i % 2 == parity):
                return i % BEATS_PER_BAR, how
    return (parity or 0), "first beat"


def eighth_note_parity(backbone: np.ndarray, bpm: float) -> int | None:
    """Which half of the beats to keep (0 or 1) when the tracked "beats" are eighth notes, else None.

    A slow groove's hi-hat eighth notes can carry the DBN to double tempo (75 BPM tracked at 150).
    The sign: at ``HALVE_FROM_BPM`` or faster, every other beat carries the kick or snare and the
    beats between carry neither (``backbone``: per beat, a kick or snare on it). A real fast beat
    has its backbone on every beat (a kick or snare on each) or on an irregular share of them.
    """
    if bpm < HALVE_FROM_BPM or len(backbone) < 2 * MIN_BEATS:
        return None
    share = [float(np.mean(backbone[p::2])) for p in (0, 1)]
    for p in (0, 1):
        if share[p] >= HALVE_SHARE and share[1 - p] <= 1.0 - HALVE_SHARE:
            return p
    return None


def tempo_of(beats) -> float | None:
    """60 / the median inter-beat interval (robust to a few missed or extra beats); None without two beats."""
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 2:
        return None
    ibi = float(np.median(np.diff(beats)))
    return float(60.0 / ibi) if ibi > 0 else None


def analyse(activations: np.ndarray, classes: Sequence[str], *, fps: float, offset: float = 0.0) -> BeatResult:
    """Beats, downbeats and tempo from the drum network's ``(frames, classes)`` activations.

    ``offset``: the model's onset offset (seconds), added like it is to every onset.
    """
    activations = np.asarray(activations, dtype=np.float32)
    if activations.ndim != 2 or len(activations) == 0:
        return BeatResult()
    act = beat_activation(activations, classes)
    frames = track_beats(act, fps=fps)
    if len(frames) < MIN_BEATS or supported(act, frames) < MIN_SUPPORT:
        return BeatResult()
    groups = _groups(classes)
    at = strengths_at(activations, frames)
    per_beat = {g: (at[:, cols].max(axis=1) if cols else np.zeros(len(frames))) for g, cols in groups.items()}
    if groups["kick"] or groups["snare"]:  # a pulse is carried by the kick and snare, not by cymbals alone
        backbone = np.maximum(per_beat["kick"], per_beat["snare"]) >= FIRST_HIT_LEVEL
        if np.sum(backbone) < MIN_BEATS:
            return BeatResult()
        keep = eighth_note_parity(backbone, 60.0 * fps / float(np.median(np.diff(frames))))
        if keep is not None:  # the DBN followed the hi-hat's eighth notes: the beat is every other one
            frames = frames[keep::2]
            per_beat = {g: v[keep::2] for g, v in per_beat.items()}
    first, how = downbeat_phase(per_beat["kick"], per_beat["snare"], per_beat["crash"])
    times = np.maximum(frames / float(fps) + offset, 0.0)
    beats = [round(float(b), 4) for b in times]
    return BeatResult(
        beats=beats,
        downbeats=beats[first::BEATS_PER_BAR],
        tempo=round(float(tempo_of(times)), 3),
        phase_from=how,
    )
