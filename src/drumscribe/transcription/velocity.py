"""MIDI velocities estimated from the signal, per hit.

Strength of a hit: the model's own input features already hold a log-magnitude filterbank and its
positive first difference (spectral flux, in natural-log units of ``log(1 + |X|)``). For each
instrument we average the flux over the bands where that instrument's attack lives (kick 30-160 Hz,
snare 150 Hz-6 kHz, hats 5-10 kHz, ...) and take the largest value in the frames ``[f-1, f+2]``
around the onset frame ``f``. Flux rather than level so that a hat played over a ringing crash,
or a kick under a sustained bass, is measured by its own attack.

Mapping to 1-127 (per track, per instrument, because bands of different instruments are not
comparable and a drummer's "loud hat" is quieter than a loud kick)::

    velocity = clip(round(REFERENCE_VELOCITY + VELOCITY_PER_LOG_UNIT * (s - s_ref)), 1, 127)

``s_ref`` is the 90th percentile of that instrument's strengths in the track (so the loud hits
of each instrument land near ``REFERENCE_VELOCITY``, with headroom for accents).
``VELOCITY_PER_LOG_UNIT`` = 28: one natural-log unit is 8.7 dB, and a sampler's usual
127-step dynamic range spans about 40 dB (~3.2 steps per dB). Halving the amplitude of a loud hit
therefore lowers its velocity by about 19.
"""

from __future__ import annotations

import numpy as np

REFERENCE_VELOCITY = 100
VELOCITY_PER_LOG_UNIT = 28.0
REFERENCE_PERCENTILE = 90
WINDOW = (-1, 3)  # frames around the onset frame, [f-1, f+2]

# where each instrument's attack carries its energy (Hz)
BANDS_HZ: dict[str, tuple[float, float]] = {
    "kick": (30.0, 160.0),
    "side_stick": (1000.0, 6000.0),
    "snare": (150.0, 6000.0),
    "hihat_closed": (5000.0, 11000.0),
    "hihat_pedal": (5000.0, 11000.0),
    "hihat_open": (5000.0, 11000.0),
    "tom_low": (60.0, 300.0),
    "tom_mid": (80.0, 400.0),
    "tom_high": (100.0, 500.0),
    "crash": (3000.0, 11000.0),
    "ride": (3000.0, 11000.0),
}


def band_frequencies(n_bands: int) -> np.ndarray | None:
    """Centre frequencies of the feature filterbank, or None if the features are not ours."""
    from drumscribe.transcription import features as F

    from drumscribe._madmom import madmom  # noqa: F401
    from madmom.audio.filters import LogarithmicFilterbank
    from madmom.audio.stft import fft_frequencies

    fb = LogarithmicFilterbank(
        fft_frequencies(F.FRAME_SIZE // 2, F.SAMPLE_RATE),
        num_bands=F.BANDS_PER_OCTAVE,
        fmin=F.FMIN,
        fmax=F.FMAX,
        norm_filters=True,
        unique_filters=True,
    )
    centres = np.asarray(fb.center_frequencies, dtype=np.float64)
    return centres if len(centres) == n_bands else None


_BAND_CACHE: dict[tuple[int, tuple[str, ...]], list[np.ndarray]] = {}


def _band_columns(n_bands: int, classes: tuple[str, ...]) -> list[np.ndarray]:
    key = (n_bands, classes)
    if key not in _BAND_CACHE:
        centres = band_frequencies(n_bands)
        columns = []
        for name in classes:
            lo, hi = BANDS_HZ.get(name, (0.0, np.inf))
            idx = np.arange(n_bands) if centres is None else np.flatnonzero((centres >= lo) & (centres <= hi))
            columns.append(idx if len(idx) else np.arange(n_bands))
        _BAND_CACHE[key] = columns
    return _BAND_CACHE[key]


def strength_curves(features: np.ndarray, classes: list[str] | tuple[str, ...]) -> np.ndarray:
    """Per-frame attack strength of each class: ``(frames, n_classes)`` float32.

    ``features`` are the model's input (log spectrogram bands, then their positive difference);
    the curves are tiny and are what the pipeline keeps of each chunk for velocity estimation.
    """
    features = np.asarray(features, dtype=np.float32)
    n_bands = features.shape[1] // 2
    flux = features[:, n_bands:]
    cols = _band_columns(n_bands, tuple(classes))
    out = np.empty((len(features), len(cols)), dtype=np.float32)
    for j, idx in enumerate(cols):
        out[:, j] = flux[:, idx].mean(axis=1)
    return out


def hit_strengths(curves: np.ndarray, frames: np.ndarray, class_index: np.ndarray) -> np.ndarray:
    """Strength of each hit: max of its class's curve in the window around its frame."""
    n = len(curves)
    out = np.zeros(len(frames), dtype=np.float64)
    for i, (f, c) in enumerate(zip(frames, class_index)):
        lo, hi = max(0, int(f) + WINDOW[0]), min(n, int(f) + WINDOW[1])
        if hi > lo:
            out[i] = float(curves[lo:hi, c].max())
    return out


def to_velocities(strengths: np.ndarray, class_index: np.ndarray) -> np.ndarray:
    """Map strengths to MIDI velocities 1-127, normalized per class (see module docstring)."""
    strengths = np.asarray(strengths, dtype=np.float64)
    class_index = np.asarray(class_index)
    velocities = np.full(len(strengths), REFERENCE_VELOCITY, dtype=np.int64)
    for c in np.unique(class_index):
        sel = class_index == c
        ref = np.percentile(strengths[sel], REFERENCE_PERCENTILE)
        velocities[sel] = np.round(REFERENCE_VELOCITY + VELOCITY_PER_LOG_UNIT * (strengths[sel] - ref))
    return np.clip(velocities, 1, 127).astype(np.int64)


def velocities(curves: np.ndarray, frames, class_index) -> np.ndarray:
    """Velocity 1-127 of each hit given the strength curves of the whole track."""
    frames = np.asarray(frames, dtype=np.int64)
    class_index = np.asarray(class_index, dtype=np.int64)
    if len(frames) == 0:
        return np.zeros(0, dtype=np.int64)
    return to_velocities(hit_strengths(curves, frames, class_index), class_index)
