"""Tempo, beats and downbeats with madmom's recurrent beat models.

Activations: the front end of ``madmom.features.downbeats.RNNDownBeatProcessor`` (three
log-filtered spectrograms + positive differences at 44.1 kHz, 100 fps) feeding ``N_NETWORKS`` of
madmom's eight downbeat BLSTMs. Each network outputs (no beat, beat, downbeat) per frame, so one
pass gives both a beat and a downbeat activation. On the development recordings one network
tracked beats as well as two or the eight-network ensemble (beat F 0.98 drum-only, 0.95 on
mixes), at about 45x real time on one core instead of 35x (two) or 12x (eight): the
spectrogram front end, not the networks, is most of the remaining cost.

Beats: ``DBNBeatTrackingProcessor`` on the beat activation (beat + downbeat columns). The DBN's
memory grows with frames x tempo states, so it runs on overlapping windows of
``WINDOW_SECONDS`` and keeps each window's beats in its core.

Downbeats: drumscribe writes 4/4 MIDI, so a downbeat is one beat in four. The phase (which of
the four beats starts the bar) is the one with the largest mean downbeat activation; it is
reported only when it clearly beats the other phases (``DOWNBEAT_MIN_RATIO``), otherwise
``downbeats`` is empty and the MIDI is aligned to the first beat.

Tempo: 60 / median inter-beat interval (robust to a few missed or extra beats); 120 BPM when
there are fewer than two beats (silence, very short clips).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from drumscribe._madmom import madmom  # noqa: F401  (must come before any madmom.* import)
from madmom.audio.signal import FramedSignalProcessor, SignalProcessor
from madmom.audio.spectrogram import (
    FilteredSpectrogramProcessor,
    LogarithmicSpectrogramProcessor,
    SpectrogramDifferenceProcessor,
)
from madmom.audio.stft import ShortTimeFourierTransformProcessor
from madmom.features.beats import DBNBeatTrackingProcessor
from madmom.ml.nn import NeuralNetworkEnsemble
from madmom.models import DOWNBEATS_BLSTM
from madmom.processors import ParallelProcessor, SequentialProcessor

SAMPLE_RATE = 44100  # madmom's beat models were trained on 44.1 kHz features
FPS = 100
N_NETWORKS = 1
BEATS_PER_BAR = 4
DEFAULT_TEMPO = 120.0
MIN_BPM, MAX_BPM = 55.0, 215.0
WINDOW_SECONDS = 60  # DBN window: its Viterbi memory is frames x ~5500 tempo states (~170 MB for 80 s)
WINDOW_MARGIN_SECONDS = 10
DOWNBEAT_MIN_RATIO = 2.0  # best phase's mean downbeat activation vs the next best
CONTEXT_SECONDS = 6  # chunk margin the BLSTMs need to match a whole-file run


class BeatActivationProcessor(SequentialProcessor):
    """signal (float32 mono in ±1 at 44.1 kHz) -> (frames, 2) float32: beat, downbeat activation."""

    def __init__(self, n_networks: int = N_NETWORKS):
        sig = SignalProcessor(num_channels=1, sample_rate=SAMPLE_RATE)
        multi = ParallelProcessor([])
        for frame_size, num_bands in zip((1024, 2048, 4096), (3, 6, 12)):
            frames = FramedSignalProcessor(frame_size=frame_size, fps=FPS)
            stft = ShortTimeFourierTransformProcessor()
            filt = FilteredSpectrogramProcessor(num_bands=num_bands, fmin=30, fmax=17000, norm_filters=True)
            spec = LogarithmicSpectrogramProcessor(mul=1, add=1)
            diff = SpectrogramDifferenceProcessor(diff_ratio=0.5, positive_diffs=True, stack_diffs=np.hstack)
            multi.append(SequentialProcessor((frames, stft, filt, spec, diff)))
        pre = SequentialProcessor((sig, multi, np.hstack))
        nn = NeuralNetworkEnsemble.load(DOWNBEATS_BLSTM[: max(1, min(n_networks, len(DOWNBEATS_BLSTM)))])
        drop_no_beat = partial(np.delete, obj=0, axis=1)
        super().__init__((pre, nn, drop_no_beat))

    def process(self, data, **kwargs):  # noqa: D401
        signal = np.asarray(data, dtype=np.float32)
        if len(signal) < 4096:  # the longest STFT window
            signal = np.pad(signal, (0, 4096 - len(signal)))
        out = super().process(madmom.audio.signal.Signal(signal, sample_rate=SAMPLE_RATE), **kwargs)
        return np.ascontiguousarray(out, dtype=np.float32)


@dataclass
class BeatResult:
    beats: list[float] = field(default_factory=list)
    downbeats: list[float] = field(default_factory=list)
    tempo: float = DEFAULT_TEMPO
    downbeat_confidence: float = 0.0


def track_beats(beat_activation: np.ndarray, *, fps: int = FPS) -> np.ndarray:
    """Beat times (s) from a 1-D beat activation, with the DBN run on overlapping windows."""
    act = np.asarray(beat_activation, dtype=np.float32)
    if len(act) < 2 or float(act.max(initial=0.0)) < 0.05:
        return np.zeros(0)
    dbn = DBNBeatTrackingProcessor(min_bpm=MIN_BPM, max_bpm=MAX_BPM, fps=fps)
    win, margin = WINDOW_SECONDS * fps, WINDOW_MARGIN_SECONDS * fps
    found: list[np.ndarray] = []
    for core_start in range(0, len(act), win):
        lo = max(0, core_start - margin)
        hi = min(len(act), core_start + win + margin)
        beats = np.asarray(dbn(act[lo:hi]), dtype=np.float64) + lo / fps
        core_end = (core_start + win) / fps if core_start + win < len(act) else np.inf
        found.append(beats[(beats >= core_start / fps) & (beats < core_end)])
    beats = np.concatenate(found) if found else np.zeros(0)
    # windows can each claim a beat a few frames apart at a seam: keep the first
    if len(beats) > 1:
        keep = np.concatenate([[True], np.diff(beats) > 0.5 * 60.0 / MAX_BPM])
        beats = beats[keep]
    return beats


def pick_downbeats(beats: np.ndarray, downbeat_activation: np.ndarray, *, fps: int = FPS) -> tuple[np.ndarray, float]:
    """(downbeat times, confidence ratio): every fourth beat, phase chosen by the activation."""
    if len(beats) < 2 * BEATS_PER_BAR:
        return np.zeros(0), 0.0
    frames = np.clip(np.round(np.asarray(beats) * fps).astype(int), 0, len(downbeat_activation) - 1)
    # the activation peaks within a frame or two of the beat: take the local max
    values = np.array([downbeat_activation[max(0, f - 2) : f + 3].max() for f in frames])
    means = np.array([values[p::BEATS_PER_BAR].mean() for p in range(BEATS_PER_BAR)])
    order = np.argsort(means)[::-1]
    best, second = means[order[0]], means[order[1]]
    ratio = float(best / max(second, 1e-6))
    return np.asarray(beats)[order[0] :: BEATS_PER_BAR], ratio


def tempo_of(beats) -> float:
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < 2:
        return DEFAULT_TEMPO
    ibi = float(np.median(np.diff(beats)))
    return float(60.0 / ibi) if ibi > 0 else DEFAULT_TEMPO


def analyse(activations: np.ndarray, *, fps: int = FPS) -> BeatResult:
    """Beats, downbeats and tempo from ``(frames, 2)`` beat/downbeat activations."""
    activations = np.asarray(activations, dtype=np.float32)
    if activations.ndim != 2 or len(activations) == 0:
        return BeatResult()
    beats = track_beats(activations.sum(axis=1), fps=fps)
    downbeats, ratio = pick_downbeats(beats, activations[:, 1], fps=fps)
    if ratio < DOWNBEAT_MIN_RATIO:
        downbeats = np.zeros(0)
    return BeatResult(
        beats=[round(float(b), 4) for b in beats],
        downbeats=[round(float(b), 4) for b in downbeats],
        tempo=round(tempo_of(beats), 3),
        downbeat_confidence=round(ratio, 3),
    )
