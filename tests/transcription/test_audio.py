"""Decoding: every kind of input gives either usable audio or one clear InputError line."""

from __future__ import annotations

import io

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumscribe.errors import InputError
from drumscribe.transcription import audio

TARGET = 22050


def tone(seconds=1.0, sr=44100, freq=440.0, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def one_line_error(exc_info, *fragments):
    message = str(exc_info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_wav_is_mixed_to_mono_and_resampled_to_the_model_rate(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = tone(2.0), np.zeros(88200, np.float32)
    sf.write(path, np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    a = audio.load(path, TARGET)
    assert (a.sample_rate, a.source_sample_rate, a.channels, a.frames) == (TARGET, 44100, 2, 88200)
    assert a.duration == pytest.approx(2.0)
    assert a.samples.dtype == np.float32 and a.samples.ndim == 1 and len(a.samples) == 44100
    # mean of the channels: half the amplitude of the left channel
    assert np.abs(a.samples[1000:-1000]).max() == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize("fmt,subtype", [("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III"), ("AIFF", "PCM_24")])
def test_compressed_and_other_containers_decode(tmp_path, fmt, subtype):
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, tone(1.0), 44100, format=fmt, subtype=subtype)
    a = audio.load(path, TARGET)
    assert a.duration == pytest.approx(1.0, abs=0.06)  # mp3 adds encoder padding
    assert 0.3 < np.abs(a.samples).max() <= 1.0


def test_bytes_and_file_objects_are_accepted(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, tone(1.0), 44100, format="WAV", subtype="PCM_16")
    data = buf.getvalue()
    from_bytes = audio.load(data, TARGET, name="upload.wav")
    from_file = audio.load(io.BytesIO(data), TARGET)
    assert np.array_equal(from_bytes.samples, from_file.samples)
    assert from_bytes.name == "upload.wav"


def test_8khz_is_upsampled(tmp_path):
    path = tmp_path / "phone.wav"
    sf.write(path, tone(1.0, sr=8000), 8000, subtype="PCM_16")
    a = audio.load(path, TARGET)
    assert (a.source_sample_rate, len(a.samples)) == (8000, TARGET)


def test_96khz_24bit_is_downsampled(tmp_path):
    path = tmp_path / "hires.wav"
    sf.write(path, tone(1.0, sr=96000), 96000, subtype="PCM_24")
    a = audio.load(path, TARGET)
    assert (a.source_sample_rate, len(a.samples)) == (96000, TARGET)
    assert np.abs(a.samples).max() == pytest.approx(0.5, abs=0.01)


def test_multichannel_surround_is_mixed_down(tmp_path):
    path = tmp_path / "surround.wav"
    sf.write(path, np.tile(tone(1.0)[:, None], (1, 6)), 44100, subtype="PCM_16")
    a = audio.load(path, TARGET)
    assert a.channels == 6 and a.samples.ndim == 1


def test_very_short_clip_is_padded_but_keeps_its_duration(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, tone(0.01), 44100, subtype="PCM_16")
    a = audio.load(path, TARGET)
    assert a.duration == pytest.approx(0.01)
    assert len(a.samples) == audio.min_samples(TARGET)


def test_float_audio_above_full_scale_is_scaled_to_a_peak_of_one(tmp_path):
    path = tmp_path / "hot.wav"
    sf.write(path, tone(1.0, amp=4.0), 44100, subtype="FLOAT")
    a = audio.load(path, TARGET)
    assert np.abs(a.samples).max() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_samples_are_rejected(tmp_path, bad):
    x = tone(1.0)
    x[100] = bad
    path = tmp_path / "broken.wav"
    sf.write(path, x, 44100, subtype="FLOAT")
    with pytest.raises(InputError) as exc:
        audio.load(path, TARGET)
    one_line_error(exc, "broken.wav", "NaN or infinite")


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        audio.probe(tmp_path / "nope.wav")
    one_line_error(exc, "nope.wav", "no such file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(InputError) as exc:
        audio.probe(path)
    one_line_error(exc, "empty.wav", "empty")


def test_non_audio_file(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not a recording\n" * 20)
    with pytest.raises(InputError) as exc:
        audio.probe(path)
    one_line_error(exc, "notes.wav", "not a readable audio file")


def test_corrupt_header(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, tone(1.0), 44100, format="WAV", subtype="PCM_16")
    path = tmp_path / "corrupt.wav"
    path.write_bytes(buf.getvalue()[:30])  # RIFF header without a data chunk
    with pytest.raises(InputError) as exc:
        audio.probe(path)
    one_line_error(exc, "corrupt.wav")


def test_truncated_file_decodes_what_is_there(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, tone(2.0), 44100, format="WAV", subtype="PCM_16")
    path = tmp_path / "cut.wav"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    a = audio.load(path, TARGET)
    assert a.duration == pytest.approx(1.0, abs=0.01)


def test_zero_samples(tmp_path):
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros(0, np.float32), 44100, subtype="PCM_16")
    with pytest.raises(InputError) as exc:
        audio.probe(path)
    one_line_error(exc, "nothing.wav", "no audio samples")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(InputError) as exc:
        audio.probe(tmp_path)
    one_line_error(exc, "folder")


def test_arrays_need_a_sample_rate_and_accept_int16():
    with pytest.raises(InputError):
        audio.load(np.zeros(100, np.float32), TARGET)
    pcm = (tone(1.0) * 32767).astype(np.int16)
    a = audio.load(pcm, TARGET, sample_rate=44100)
    assert np.abs(a.samples).max() == pytest.approx(0.5, abs=0.01)


def test_an_array_without_its_rate_says_how_to_call_transcribe_and_the_readme_agrees():
    """issue 22, point 7: the README promised transcribe(path_or_array); an array needs sample_rate=."""
    from drumscribe import transcribe

    README = Path(__file__).resolve().parents[2] / "README.md"

    with pytest.raises(InputError) as exc:
        transcribe(np.zeros(44100, np.float32))
    assert str(exc.value) == "<array>: a numpy array does not say its sample rate (pass it: transcribe(samples, sample_rate=44100))"
    assert transcribe(np.zeros(44100, np.float32), sample_rate=44100).duration == 1.0
    readme = README.read_text()
    assert "transcribe(path_or_array)" not in readme and "`transcribe(samples, sample_rate=44100)`" in readme


def test_channels_first_arrays_are_understood():
    stereo = np.stack([tone(1.0), tone(1.0)])  # (2, samples)
    a = audio.load(stereo, TARGET, sample_rate=44100)
    assert a.channels == 2 and len(a.samples) == TARGET


def test_windows_cover_the_file_and_start_on_whole_seconds():
    plan = audio.windows(125.5, chunk_seconds=60, margin_seconds=3)
    assert [(w.start, w.stop, w.core_start, w.core_stop) for w in plan] == [
        (0, 63, 0, 60),
        (57, 123, 60, 120),
        (117, None, 120, None),
    ]


@pytest.mark.parametrize("source_rate", [44100, 48000, 8000, 96000])
def test_chunked_resampling_matches_the_whole_file_in_every_core(tmp_path, source_rate):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(int(7.3 * source_rate)) * 0.1).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(path, x, source_rate, subtype="FLOAT")
    whole = audio.load(path, TARGET).samples
    with audio.AudioReader(path) as reader:
        pieces = [c.window.core_rows(c.samples, TARGET) for c in audio.chunks(reader, TARGET, chunk_seconds=2, margin_seconds=1)]
    joined = np.concatenate(pieces)
    assert len(joined) == len(whole)
    np.testing.assert_allclose(joined, whole, atol=1e-5)


def test_a_damaged_mp3_is_one_line_without_decoder_chatter(tmp_path, capfd):
    # libmpg123 writes "Note: Illegal Audio-MPEG-Header ..." straight to fd 2 on such a file
    path = tmp_path / "damaged.mp3"
    path.write_bytes(b"\xff\xfb\x90\x00" + np.random.default_rng(0).bytes(20000))
    with pytest.raises(InputError) as exc:
        audio.load(path, TARGET)
    one_line_error(exc, "damaged.mp3")
    err = capfd.readouterr().err
    assert "MPEG" not in err and "Note:" not in err, err


def test_the_mpg123_trap_passes_other_stderr_output_through(capfd):
    import os

    with audio._quiet_mpg123():
        os.write(2, b"Note: Illegal Audio-MPEG-Header 0x00000000 at offset 1.\n")
        os.write(2, b"something else on stderr\n")
    err = capfd.readouterr().err
    assert err == "something else on stderr\n"


def test_threads_decoding_mp3s_at_once_leave_stderr_working(tmp_path, capfd):
    import os
    from concurrent.futures import ThreadPoolExecutor

    good = tmp_path / "good.mp3"
    sf.write(good, tone(3.0), 44100, format="MP3", subtype="MPEG_LAYER_III")
    bad = tmp_path / "damaged.mp3"
    bad.write_bytes(b"\xff\xfb\x90\x00" + np.random.default_rng(1).bytes(20000))

    def decode(path):
        try:
            return audio.load(path, TARGET).duration
        except InputError:
            return None

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(decode, [good, bad] * 16))
    assert results[0::2] == [pytest.approx(3.0, abs=0.06)] * 16 and results[1::2] == [None] * 16
    os.write(2, b"still here\n")  # fd 2 is the real stderr again, not a trap left behind
    err = capfd.readouterr().err
    assert err.endswith("still here\n") and "MPEG" not in err


@pytest.mark.parametrize("source_rate", [8000, 11025, 22050, 44100, 48000, 96000])
def test_numpy_resampler_matches_scipy_resample_poly(source_rate):
    """audio.resample avoids importing scipy.signal (~0.9 s of start-up) but must give its output."""
    from math import gcd

    from scipy.signal import resample_poly as scipy_resample_poly

    from drumscribe.transcription.resample import resample_poly

    g = gcd(source_rate, 22050)
    up, down = 22050 // g, source_rate // g
    x = np.random.default_rng(source_rate).standard_normal(source_rate // 3 + 7).astype(np.float32)
    for n in (1, 3, len(x)):
        expected = scipy_resample_poly(x[:n], up, down)
        assert resample_poly(x[:n], up, down) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("down", [2, 3, 4])
def test_decimation_tap_by_tap_gives_the_matrix_products_result_to_the_bit(down):
    """The 44.1 -> 22.05 kHz path (issue 22, point 8) must not change a single feature value."""
    from drumscribe.transcription import resample

    rng = np.random.default_rng(down)
    for n in (1, 2, 41, 1000, 44100 * 3 + 5):
        x = (rng.standard_normal(n) * 0.3).astype(np.float32)
        phases, half_len = resample._design(1, down)
        pad = phases.shape[1]
        xp = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(2 * pad + 1, np.float32)])
        n_out = -(-n // down)
        by_phase = resample._by_phase(xp, phases, half_len, pad, n_out, 1, down)
        assert np.array_equal(resample.resample_poly(x, 1, down), by_phase)


@pytest.mark.parametrize("samples", [100, 512, 2205, 22050 * 3 + 7])
def test_block_stft_gives_madmoms_features_exactly(samples):
    """The features the model was trained on: BlockSTFTProcessor only changes how they are computed."""
    from drumscribe.transcription.features import FeatureProcessor
    from madmom.audio.stft import ShortTimeFourierTransformProcessor

    madmoms = FeatureProcessor()
    madmoms.processors[2] = ShortTimeFourierTransformProcessor()  # madmom's frame-by-frame STFT
    x = (np.random.default_rng(samples).standard_normal(samples) * 0.3).astype(np.float32)
    np.testing.assert_allclose(FeatureProcessor()(x), madmoms(x), rtol=0, atol=1e-6)
