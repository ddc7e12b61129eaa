"""Fixtures for tuning: a "shipped" model with a known fault, a user who corrected a few takes of it.

The real networks run on synthesized drums (``tests/transcription/synth.py``), which they detect
well; each fixture model breaks one thing the way a user's kit or room could (every threshold far
too high, or the snare output turned down), so the corrections carry a lesson, and a profile
that learns it must beat the shipped model on the held-out takes. ``as_shipped`` installs such a
file as the packaged model (``network.DEFAULT_MODEL``) and clears every cache that holds the real one.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from synth import SR, render
from tune_helpers import TEMPOS, take_hits



def _variant(path, tmp_path_factory, name: str, change) -> str:
    from drumscribe.transcription import network

    with np.load(network.DEFAULT_MODEL, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(meta, arrays)
    out = tmp_path_factory.mktemp("models") / name
    np.savez_compressed(out, meta=np.array(json.dumps(meta)), **arrays)
    return str(out)


@pytest.fixture(scope="session")
def deaf_model(tmp_path_factory):
    """The shipped networks with every threshold at 0.95: most hits go unreported."""

    def change(meta, arrays):
        meta["thresholds"] = {c: 0.95 for c in meta["thresholds"]}

    return _variant(None, tmp_path_factory, "deaf.npz", change)


@pytest.fixture(scope="session")
def quiet_snare_model(tmp_path_factory):
    """The shipped networks with their snare outputs turned down (bias -4): no threshold finds the
    snares, only new output weights can."""

    def change(meta, arrays):
        snare = meta["classes"].index("snare")
        for j, member in enumerate(meta["members"]):
            detect = member.get("detect", True)
            if detect is True or (isinstance(detect, list) and "snare" in detect):
                arrays[f"m{j}_l{len(member['layers']) - 1}_b"][snare] -= 4.0

    return _variant(None, tmp_path_factory, "quiet-snare.npz", change)


@pytest.fixture
def as_shipped(monkeypatch):
    """``as_shipped(path)``: make a model file the packaged model for this test."""
    from drumscribe.jobs import profiles
    from drumscribe.transcription import network, pipeline

    def install(path):
        monkeypatch.setattr(network, "DEFAULT_MODEL", type(network.DEFAULT_MODEL)(path))
        monkeypatch.setattr(pipeline, "_models", {})
        monkeypatch.setattr(profiles, "_shipped", {})
        monkeypatch.setattr(profiles, "_cache", {})
        monkeypatch.setattr(profiles, "_warned", set())
        return path

    return install


@pytest.fixture(scope="session")
def takes(tmp_path_factory):
    """Four takes of 6-8 s (16-bit WAV) and their true hits."""
    folder = tmp_path_factory.mktemp("takes")
    out = []
    for k in range(len(TEMPOS)):
        hits = take_hits(k)
        path = folder / f"take{k}.wav"
        sf.write(path, render(hits, max(t for t, _, _ in hits) + 0.8, SR, seed=k), SR, subtype="PCM_16")
        out.append((path, hits))
    return out


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path, bucket_name):
    """The local mirror, and a bucket on in-process moto."""
    from drumscribe.config import load_settings
    from drumscribe.storage import LocalStorage, S3Storage

    if request.param == "local":
        return LocalStorage(tmp_path / "mirror")
    request.getfixturevalue("s3_mock")
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    return S3Storage(load_settings({"bucket": bucket_name}))


@pytest.fixture
def settings():
    from drumscribe.config import load_settings

    return load_settings({"user": "alice"})


@pytest.fixture
def cli(monkeypatch):
    """``cli(*args)``: run the CLI in this process (so ``as_shipped`` applies to its transcriptions)."""
    from typer.testing import CliRunner

    import drumscribe.storage
    from drumscribe.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(drumscribe.storage, "_announced", False)
    return lambda *args: CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def bucket(moto_server, bucket_name, monkeypatch):
    """A bucket on the moto HTTP server, configured as AWS_S3_BUCKET."""
    import boto3

    boto3.client("s3", region_name="us-east-1", endpoint_url=moto_server).create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return bucket_name
