"""Input features of the drum model: log-filtered spectrogram + positive difference (madmom).

Used identically by training (``drumscribe.training``) and inference. Input: a float32 mono
signal in ±1 at :data:`SAMPLE_RATE`. Output: ``(frames, N_FEATURES)`` float32, frame ``i``
centred at ``i / FPS`` seconds (madmom frames are centred on their hop position).

The first ``N_BANDS`` columns are the log-magnitude of a logarithmic filterbank (12 bands per
octave, 30 Hz - 10 kHz); the last ``N_BANDS`` are its half-wave rectified first difference
(ratio 0.5), stacked horizontally. 22.05 kHz input with a 1024-sample window (46 ms) gives the
same frequency resolution as 44.1 kHz / 2048 at half the cost.
"""

from __future__ import annotations

import numpy as np

from drumscribe._madmom import madmom  # noqa: F401  (must come before any madmom.* import)
from madmom.audio.filters import LogarithmicFilterbank
from madmom.audio.signal import FramedSignalProcessor, SignalProcessor
from madmom.audio.spectrogram import (
    FilteredSpectrogramProcessor,
    LogarithmicSpectrogramProcessor,
    SpectrogramDifferenceProcessor,
)
from madmom.audio.stft import ShortTimeFourierTransform, ShortTimeFourierTransformProcessor
from madmom.processors import SequentialProcessor
from numpy.lib.stride_tricks import sliding_window_view

SAMPLE_RATE = 22050
FPS = 100
FRAME_SIZE = 1024
BANDS_PER_OCTAVE = 12
FMIN = 30.0
FMAX = 10000.0


_STFT_BLOCK = 128  # frames per FFT call: small enough (1 MB of float64) to stay in cache


class BlockSTFTProcessor(ShortTimeFourierTransformProcessor):
    """madmom's STFT of a ``FramedSignal``, computed a block of frames at a time.

    madmom's ``stft()`` cuts, windows and transforms one frame per Python iteration (about a
    quarter of the feature cost); this gathers the same frames (``signal_frame``: the frame of
    index ``i`` starts at ``int(i * hop) - frame_size // 2 - origin``, zeros outside the signal)
    from a strided view and transforms them together. Same window, same bins, same ``complex64``
    result object, so everything downstream (and what the model was trained on) is unchanged.
    """

    def process(self, data, **kwargs):
        frames = data
        size = int(frames.frame_size)
        signal = np.asarray(frames.signal)
        if signal.ndim != 1 or np.issubdtype(signal.dtype, np.integer) or self.window is None or not callable(self.window):
            return super().process(data, **kwargs)  # not our case: madmom's own path
        window = self.window(size)
        n = int(frames.num_frames)
        starts = (np.arange(n) * float(frames.hop_size)).astype(np.int64) - size // 2 - int(frames.origin)
        lead = max(0, -int(starts.min(initial=0)))
        tail = max(0, int(starts.max(initial=0)) + size - len(signal))
        padded = np.concatenate([np.zeros(lead, signal.dtype), signal, np.zeros(tail, signal.dtype)])
        view = sliding_window_view(padded, size)
        bins = size >> 1
        out = np.empty((n, bins), np.complex64)
        for s in range(0, n, _STFT_BLOCK):
            block = view[starts[s : s + _STFT_BLOCK] + lead] * window  # float64, like np.multiply(frame, window)
            out[s : s + _STFT_BLOCK] = np.fft.rfft(block, axis=1)[:, :bins]
        obj = out.view(ShortTimeFourierTransform)
        obj.frames, obj.window, obj.fft_window = frames, window, window
        obj.fft_size, obj.circular_shift, obj.include_nyquist = size, False, False
        return obj


class FeatureProcessor(SequentialProcessor):
    """signal (float32 mono, ±1, SAMPLE_RATE) -> features (frames, n_features) float32."""

    def __init__(self):
        sig = SignalProcessor(num_channels=1, sample_rate=SAMPLE_RATE)
        frames = FramedSignalProcessor(frame_size=FRAME_SIZE, fps=FPS)
        stft = BlockSTFTProcessor()
        filt = FilteredSpectrogramProcessor(
            filterbank=LogarithmicFilterbank,
            num_bands=BANDS_PER_OCTAVE,
            fmin=FMIN,
            fmax=FMAX,
            norm_filters=True,
            unique_filters=True,
        )
        log = LogarithmicSpectrogramProcessor(mul=1, add=1)
        diff = SpectrogramDifferenceProcessor(diff_ratio=0.5, positive_diffs=True, stack_diffs=np.hstack)
        super().__init__([sig, frames, stft, filt, log, diff])

    def process(self, data, **kwargs):  # noqa: D401
        signal = np.asarray(data, dtype=np.float32)
        if signal.ndim != 1:
            raise ValueError(f"expected a mono signal, got shape {signal.shape}")
        if len(signal) < FRAME_SIZE // 2:
            signal = np.pad(signal, (0, FRAME_SIZE // 2 - len(signal)))
        out = super().process(madmom.audio.signal.Signal(signal, sample_rate=SAMPLE_RATE), **kwargs)
        return np.ascontiguousarray(out, dtype=np.float32)


def n_features() -> int:
    """Number of feature columns (2 x number of filterbank bands)."""
    return int(FeatureProcessor()(np.zeros(SAMPLE_RATE // 10, dtype=np.float32)).shape[1])


def compute(signal: np.ndarray) -> np.ndarray:
    """Convenience: features of one signal (builds a processor each call)."""
    return FeatureProcessor()(signal)
