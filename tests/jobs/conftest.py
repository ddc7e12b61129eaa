"""Fixtures for the job tests that drive the CLI: a stand-in model, a drum take, a bucket on a moto server."""

from __future__ import annotations

import boto3
import pytest
import soundfile as sf
from typer.testing import CliRunner

from drumscribe.cli import app
from standin import StandInModel
from synth import SR, groove, render


@pytest.fixture
def standin_model(monkeypatch):
    """``transcribe`` (in this process, --jobs 1) uses the fast stand-in model: these tests are about storage."""
    from drumscribe.transcription import pipeline

    model = StandInModel()
    monkeypatch.setitem(pipeline._models, None, model)
    return model


@pytest.fixture(scope="session")
def _groove_signal():
    return render(groove(4, bpm=120.0, start=0.5), 9.0, SR)


@pytest.fixture
def take(tmp_path, _groove_signal):
    """A short drum take, 16-bit PCM WAV (so it is stored as a FLAC of itself)."""
    path = tmp_path / "take.wav"
    sf.write(path, _groove_signal, SR, subtype="PCM_16")
    return path


@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps table cells at 80 columns otherwise
    import drumscribe.storage

    monkeypatch.setattr(drumscribe.storage, "_announced", False)

    def invoke(*args):
        return CliRunner().invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture
def s3(moto_server):
    return boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server)


@pytest.fixture
def bucket(moto_server, s3, bucket_name, monkeypatch):
    """A bucket on the moto HTTP server, configured as AWS_S3_BUCKET."""
    s3.create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return bucket_name

