"""Fixtures for the transcription tests: synthesized drums, a stand-in model, the real model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))  # synth.py and standin.py live next to the tests

from standin import StandInModel  # noqa: E402
from synth import SR, groove, render  # noqa: E402


@pytest.fixture
def standin():
    return StandInModel()


@pytest.fixture(scope="session")
def real_model():
    """The packaged drum model; tests that need it skip until it is committed."""
    from drumscribe.errors import TranscriptionError
    from drumscribe.transcription.network import DEFAULT_MODEL, load_model

    if not DEFAULT_MODEL.is_file():
        pytest.skip(f"packaged model not found at {DEFAULT_MODEL}")
    try:
        return load_model()
    except TranscriptionError as exc:
        pytest.skip(f"packaged model unusable: {exc}")


@pytest.fixture
def default_model(monkeypatch, standin):
    """What ``model=None`` resolves to in this process: the real model, else the stand-in."""
    from drumscribe.transcription import pipeline
    from drumscribe.transcription.network import DEFAULT_MODEL

    if not DEFAULT_MODEL.is_file():
        monkeypatch.setitem(pipeline._models, None, standin)
    return pipeline.get_model(None)


GROOVE_HITS = groove(8, bpm=120.0, start=0.5)  # 8 bars, 16.5 s of music


@pytest.fixture(scope="session")
def groove_signal():
    return render(GROOVE_HITS, 18.0, SR)


@pytest.fixture
def groove_wav(tmp_path, groove_signal):
    path = tmp_path / "groove.wav"
    sf.write(path, groove_signal, SR, subtype="PCM_16")
    return path


@pytest.fixture
def silence_wav(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(SR * 3, dtype=np.float32), SR, subtype="PCM_16")
    return path
