"""`-o` names and overwrites, phone recordings (AAC/.m4a), and the mode of written files (issue 13, point 6)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from job_helpers import bucket_keys, error_lines

pytestmark = pytest.mark.e2e


def make_m4a(path, seconds: float = 3.0, rate: int = 44100):
    """A short AAC recording in an .m4a container, made by PyAV (FFmpeg) itself: a tone and four clicks."""
    import av

    t = np.arange(int(seconds * rate)) / rate
    signal = 0.1 * np.sin(2 * np.pi * 220 * t)
    for start in np.arange(0.25, seconds, 0.75):
        i = int(start * rate)
        signal[i : i + 200] += 0.8 * np.exp(-np.arange(200) / 40)
    samples = signal.astype(np.float32)
    with av.open(str(path), "w", format="ipod") as container:  # ipod = the .m4a muxer
        stream = container.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_output_names_are_decided_up_front_and_never_overwrite_silently(cli, take, standin_model, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "b" / "x.wav", tmp_path / "a" / "x.wav"
    first.write_bytes(take.read_bytes())
    silence = np.zeros((44100, 1), dtype=np.int16)
    import soundfile as sf

    sf.write(second, silence, 44100, subtype="PCM_16")
    out = tmp_path / "out"
    result = cli("transcribe", first, second, "-o", out, "--no-beats", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    # sorted inputs: a/x.wav -> x, b/x.wav -> x-2, whatever order they were given or finished in
    assert json.loads((out / "x.json").read_text())["source"]["duration"] == 1.0  # a/x.wav: the second of silence
    assert json.loads((out / "x-2.json").read_text())["source"]["duration"] == 9.0  # b/x.wav: the take
    before = (out / "x.mid").read_bytes(), (out / "x.json").read_text()

    again = cli("transcribe", second, "-o", out, "--no-beats", "--jobs", "1")
    assert again.exit_code == 2
    assert error_lines(again) == [f"Error: -o {out}: x.mid, x.json already exist; nothing was transcribed "
                                  "(pass --overwrite to replace them, or choose another folder)"]
    assert ((out / "x.mid").read_bytes(), (out / "x.json").read_text()) == before

    replaced = cli("transcribe", second, "-o", out, "--no-beats", "--jobs", "1", "--overwrite", "--force")
    assert replaced.exit_code == 0, replaced.stderr
    assert json.loads((out / "x.json").read_text())["job_id"] != json.loads(before[1])["job_id"]


def test_a_phone_recording_in_m4a_is_transcribed_and_stored_as_given(cli, standin_model, bucket, s3, tmp_path):
    take = make_m4a(tmp_path / "voice memo.m4a")
    assert take.stat().st_size < 100_000
    result = cli("transcribe", take, "--no-beats", "--jobs", "1", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert abs(doc["source"]["duration"] - 3.0) < 0.1 and doc["source"]["sample_rate"] == 44100
    assert doc["source"]["stored_as"] is None and doc["source"]["key"].endswith("_voice_memo.m4a")
    assert bucket_keys(s3, bucket, "uploads/") == [doc["source"]["key"]]
    assert s3.get_object(Bucket=bucket, Key=doc["source"]["key"])["Body"].read() == take.read_bytes()


def test_an_unsupported_file_says_which_formats_work(cli, standin_model, tmp_path):
    from drumscribe.transcription.audio import SUPPORTED_FORMATS

    notes = tmp_path / "notes.m4a"
    notes.write_bytes(b"this is not audio at all" * 10)
    result = cli("transcribe", notes, "--jobs", "1")
    assert result.exit_code == 2
    assert error_lines(result) == [f"Error: {notes}: not a readable audio file (Format not recognised) (drumscribe reads {SUPPORTED_FORMATS})"]
    assert "AAC (.m4a" in SUPPORTED_FORMATS and "WAV" in SUPPORTED_FORMATS


def drumscribe(*args):
    """The real CLI in a child process with umask 022, as in a usual login shell."""
    return subprocess.run([sys.executable, "-m", "drumscribe", *map(str, args)], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ), preexec_fn=lambda: os.umask(0o022), stdin=subprocess.DEVNULL)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_results_follow_the_umask_like_any_file(cli, take, standin_model, bucket, tmp_path):
    old = os.umask(0o022)
    try:
        result = cli("transcribe", take, "-o", tmp_path / "out", "--no-beats", "--jobs", "1", "--json")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.stderr
    assert {mode(p) for p in (tmp_path / "out").iterdir()} == {0o644}
    doc = json.loads(result.stdout)

    shown = drumscribe("show", doc["job_id"], "-o", tmp_path / "tab.txt")
    assert shown.returncode == 0, shown.stderr
    got = drumscribe("get", doc["source"]["key"], tmp_path / "original.flac")
    assert got.returncode == 0, got.stderr
    assert [mode(tmp_path / name) for name in ("tab.txt", "original.flac")] == [0o644] * 2
