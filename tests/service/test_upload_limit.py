"""One upload limit for the page and the CLI: what is *stored* must fit it (service/stored.py).

The CLI stores a WAV as a lossless FLAC of itself and checks the FLAC against the limit, so a WAV
over the limit whose FLAC fits is transcribed. The page sends the WAV as it is: the presigned POST
lets a WAV through up to three times the limit (a hard bound still), and the job stores its FLAC
in its place, or fails with the CLI's message and deletes it."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from service_helpers import run_job, ticket
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.storage import get_storage
from drumscribe.transcription.result import Transcription

LIMIT_MB = "0.25"  # 262 144 bytes: the 441 KB song is over it, its 145 KB FLAC is not


def noise_wav(seconds: float = 6.0) -> bytes:
    """White noise: FLAC cannot make it smaller."""
    samples = np.random.default_rng(0).integers(-30000, 30000, size=int(44100 * seconds)).astype(np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, samples, 44100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def stored_uploads() -> dict[str, int]:
    storage = get_storage(load_settings(), prefer_local=True, announce=False)
    return {o.key.rsplit("/", 1)[-1]: o.size for o in storage.list("uploads/")}


def test_a_wav_over_the_limit_whose_flac_fits_is_accepted_and_stored_as_flac(make_client, monkeypatch, song):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", LIMIT_MB)
    limit = load_settings().max_upload_bytes
    assert len(song) > limit
    client = make_client()
    assert client.get("/api/info").json()["max_wav_bytes"] == 3 * limit
    done = run_job(client, song, "take 1.wav")
    assert done["state"] == "done", done
    (name, size), = stored_uploads().items()  # the WAV the page sent is gone: its FLAC is the original
    assert name.endswith("_take_1.wav.flac") and size <= limit
    doc = Transcription.from_json(client.get(done["result"]["json_url"]).content)
    assert (doc.source.name, doc.source.stored_as) == ("take_1.wav", "flac")
    assert client.get(done["result"]["midi_url"]).content.startswith(b"MThd")


def test_the_cli_accepts_the_same_wav(monkeypatch, song, tmp_path):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", LIMIT_MB)
    (tmp_path / "take 1.wav").write_bytes(song)
    result = CliRunner().invoke(app, ["transcribe", str(tmp_path / "take 1.wav"), "--jobs", "1"])
    assert result.exit_code == 0, result.stderr
    (name, size), = stored_uploads().items()
    assert name.endswith("_take_1.wav.flac") and size <= load_settings().max_upload_bytes


def test_a_wav_whose_flac_is_over_the_limit_fails_as_in_the_cli_and_nothing_stays(make_client, monkeypatch, tmp_path):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", LIMIT_MB)
    noise = noise_wav()
    client = make_client()
    done = run_job(client, noise, "noise.wav")
    assert done["state"] == "failed"
    assert done["error"].startswith("noise.wav (as a lossless FLAC) is 0.5 MB, over the 0.25 MB upload limit")
    assert stored_uploads() == {}  # nothing over the limit stays stored
    (tmp_path / "noise.wav").write_bytes(noise)
    cli = CliRunner().invoke(app, ["transcribe", str(tmp_path / "noise.wav"), "--jobs", "1"])
    assert cli.exit_code != 0 and "noise.wav (as a lossless FLAC) is 0.5 MB, over the 0.25 MB upload limit" in cli.stderr


def test_the_hard_bound_names_the_file_once(make_client, monkeypatch):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", LIMIT_MB)
    client = make_client()
    refused = client.post("/api/uploads", json={"filename": "t1.wav", "size": 53 * 1048576, "content_type": "audio/wav"})
    assert refused.status_code == 413
    detail = refused.json()["detail"]
    assert detail.count("t1.wav") == 1 and "even before it is stored as a lossless FLAC" in detail
    assert ticket(client, "t1.wav", 3 * 262144)["fields"]  # up to three times the limit may be sent
