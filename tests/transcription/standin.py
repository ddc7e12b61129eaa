"""A stand-in drum model for testing the stages around the network.

Same attributes as ``drumscribe.transcription.network.DrumModel``; its "network" is the
band-limited spectral flux of the features squashed to 0-1, so it reacts to our synthesized
drums, has a context of a couple of frames, and makes chunked and whole-file runs comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drumscribe.transcription import velocity
from drumscribe.transcription.features import FPS, SAMPLE_RATE


@dataclass
class StandInModel:
    name: str = "stand-in"
    version: str = "0"
    classes: tuple = ("kick", "snare", "hihat_closed")
    thresholds: dict = field(default_factory=lambda: {"kick": 0.5, "snare": 0.5, "hihat_closed": 0.5})
    offset: float = 0.0
    fps: int = FPS
    sample_rate: int = SAMPLE_RATE
    context_frames: int = 2
    metadata: dict = field(default_factory=dict)

    def activations(self, features: np.ndarray) -> np.ndarray:
        n_bands = features.shape[1] // 2
        flux = features[:, n_bands:]  # positive spectral difference, per band
        curves = np.stack([flux[:, idx].mean(axis=1) for idx in velocity._band_columns(n_bands, tuple(self.classes))], axis=1)
        return (1.0 - np.exp(-curves / 0.1)).astype(np.float32)
