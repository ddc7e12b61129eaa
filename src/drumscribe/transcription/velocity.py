"""MIDI velocities estimated from the signal, per hit.

Strength of a hit: the model's input features start with a log-magnitude filterbank,
``log10(1 + |X|)`` (madmom, 12 bands per octave). We undo the log (``10**y - 1``), average the
magnitude over the bands where the instrument's attack lives (kick 30-160 Hz, snare 150 Hz-6 kHz,
hats 5-11 kHz, toms 60-500 Hz, cymbals 3-11 kHz) and measure how much it *rises* at the onset:
the largest value in frames ``[f-1, f+2]`` minus the smallest in ``[f-4, f-2]`` before it, in dB
(``20 log10``). The rise rather than the level, so a hat played over a ringing crash, or a kick
under a sustained bass note, is measured by its own attack.

Mapping to 1-127, per track and per instrument (bands of different instruments are not
comparable, and a drummer's loud hi-hat is quieter than a loud kick)::

    velocity = clip(round(REFERENCE_VELOCITY * 10 ** ((dB - dB_ref) / 40)), 1, 127)

``dB_ref`` is the 90th percentile of that instrument's hits in the track, so its loud hits land
near ``REFERENCE_VELOCITY`` (100) with headroom for accents. The curve is the inverse of the
General MIDI / DLS velocity-to-attenuation rule (``40 log10(v / 127)`` dB), so a sampler plays
the hits back with the level differences they had in the recording: 6 dB quieter (half the
amplitude) gives 71, 12 dB gives 50, 20 dB gives 32.
"""

from __future__ import annotations

import numpy as np

REFERENCE_VELOCITY = 100
DB_PER_VELOCITY_DECADE = 40.0  # GM/DLS: attenuation = 40 log10(velocity / 127) dB
REFERENCE_PERCENTILE = 90
PEAK_WINDOW = (-1, 3)  # frames [f-1, f+2] around the onset frame f
BASELINE_WINDOW = (-4, -1)  # frames [f-4, f-2] before it
FLOOR = 1e-6  # magnitude floor: a hit with no measurable rise is very quiet, not an error

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
    """Per-frame magnitude of each class's bands: ``(frames, n_classes)`` float32.

    ``features`` are the model's input (log10(1 + magnitude) bands, then their positive
    difference). The curves are tiny and are what the pipeline keeps of each chunk.
    """
    features = np.asarray(features, dtype=np.float32)
    n_bands = features.shape[1] // 2
    magnitude = np.power(np.float32(10.0), features[:, :n_bands]) - np.float32(1.0)
    cols = _band_columns(n_bands, tuple(classes))
    out = np.empty((len(features), len(cols)), dtype=np.float32)
    for j, idx in enumerate(cols):
        out[:, j] = magnitude[:, idx].mean(axis=1)
    return out


def hit_strengths(curves: np.ndarray, frames: np.ndarray, class_index: np.ndarray) -> np.ndarray:
    """Attack strength of each hit in dB: rise of its class's curve at the onset."""
    n = len(curves)
    out = np.empty(len(frames), dtype=np.float64)
    for i, (f, c) in enumerate(zip(frames, class_index)):
        f = int(f)
        peak = curves[max(0, f + PEAK_WINDOW[0]) : min(n, f + PEAK_WINDOW[1]), c]
        base = curves[max(0, f + BASELINE_WINDOW[0]) : max(0, f + BASELINE_WINDOW[1]), c]
        rise = float(peak.max()) - (float(base.min()) if len(base) else 0.0) if len(peak) else 0.0
        out[i] = 20.0 * np.log10(max(rise, FLOOR))
    return out


def to_velocities(strengths_db: np.ndarray, class_index: np.ndarray) -> np.ndarray:
    """Map strengths (dB) to MIDI velocities 1-127, normalized per class (see module docstring)."""
    strengths_db = np.asarray(strengths_db, dtype=np.float64)
    class_index = np.asarray(class_index)
    velocities = np.full(len(strengths_db), REFERENCE_VELOCITY, dtype=np.int64)
    for c in np.unique(class_index):
        sel = class_index == c
        ref = np.percentile(strengths_db[sel], REFERENCE_PERCENTILE)
        velocities[sel] = np.round(REFERENCE_VELOCITY * 10.0 ** ((strengths_db[sel] - ref) / DB_PER_VELOCITY_DECADE))
    return np.clip(velocities, 1, 127).astype(np.int64)


def velocities(curves: np.ndarray, frames, class_index) -> np.ndarray:
    """Velocity 1-127 of each hit given the strength curves of the whole track."""
    frames = np.asarray(frames, dtype=np.int64)
    class_index = np.asarray(class_index, dtype=np.int64)
    if len(frames) == 0:
        return np.zeros(0, dtype=np.int64)
    return to_velocities(hit_strengths(curves, frames, class_index), class_index)
