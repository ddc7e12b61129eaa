"""transcribe(): chunked processing, edge cases, and (with the real model) detection accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from drumscribe.errors import InputError
from drumscribe.transcription import audio
from drumscribe.transcription.pipeline import STAGES, transcribe
from conftest import GROOVE_HITS
from synth import SR, render


def test_silence_is_a_valid_empty_transcription(silence_wav, standin):
    t = transcribe(silence_wav, model=standin)
    assert t.events == () and t.beats == () and t.tempo is None  # no pulse: no invented tempo
    assert t.duration == pytest.approx(3.0)
    assert t.midi_offset == 0.0


def test_source_and_model_are_described(groove_wav, standin):
    t = transcribe(groove_wav, model=standin, beats=False)
    assert t.source.name == "groove.wav" and t.source.sample_rate == SR and t.source.channels == 1
    assert len(t.source.sha256) == 64
    assert t.model.name == "stand-in" and t.model.classes == standin.classes
    assert all(e.note == {"kick": 36, "snare": 38, "hihat_closed": 42}[e.instrument] for e in t.events)
    assert all(1 <= e.velocity <= 127 and 0 <= e.confidence <= 1 for e in t.events)
    assert [e.time for e in t.events] == sorted(e.time for e in t.events)


def test_arrays_are_transcribed_like_files(groove_wav, groove_signal, standin):
    from_file = transcribe(groove_wav, model=standin, beats=False)
    from_array = transcribe(np.round(groove_signal * 32767) / 32768, sample_rate=SR, model=standin, beats=False)
    assert [(e.time, e.instrument) for e in from_array.events] == [(e.time, e.instrument) for e in from_file.events]


def test_very_short_clip_gives_a_result(tmp_path, standin):
    path = tmp_path / "blip.wav"
    sf.write(path, render([(0.0, "kick", 1.0)], 0.05, SR), SR, subtype="PCM_16")
    t = transcribe(path, model=standin)
    assert t.duration == pytest.approx(0.05)
    assert all(e.time < 0.05 for e in t.events)


def test_stage_timings_are_reported(groove_wav, standin):
    timings = {}
    transcribe(groove_wav, model=standin, timings=timings)
    assert set(timings) <= set(STAGES) and {"decode", "features", "network", "peaks", "beats"} <= set(timings)


def test_bad_input_is_one_line(tmp_path, standin):
    path = tmp_path / "x.wav"
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(InputError) as exc:
        transcribe(path, model=standin)
    assert "x.wav" in str(exc.value) and "\n" not in str(exc.value)


def test_memory_is_bounded_by_the_chunk_not_the_file(tmp_path, standin, monkeypatch):
    path = tmp_path / "long.wav"
    sf.write(path, render(GROOVE_HITS, 18.0, SR), SR, subtype="PCM_16")
    reads = []
    original = audio.AudioReader.read

    def spy(self, start=0, stop=None):
        data = original(self, start, stop)
        reads.append(len(data))
        return data

    monkeypatch.setattr(audio.AudioReader, "read", spy)
    transcribe(path, model=standin, beats=False, chunk_seconds=4)
    # every read is at most a chunk plus its margins, never the whole 18 s
    assert len(reads) == 5 and max(reads) <= (4 + 2 * 1) * SR


def _chunked_vs_whole(path, model, **kw):
    whole = transcribe(path, model=model, chunk_seconds=600, **kw)
    chunked = transcribe(path, model=model, chunk_seconds=3, **kw)
    return whole, chunked


def test_chunked_equals_whole_file_with_the_stand_in(groove_wav, standin):
    whole, chunked = _chunked_vs_whole(groove_wav, standin, beats=False)
    assert len(whole.events) > 10
    assert chunked.events == whole.events


def test_chunked_activations_equal_whole_file_with_the_real_model(groove_wav, real_model, monkeypatch):
    """The real network has temporal context: margins must make chunk seams invisible."""
    from drumscribe.transcription import pipeline

    captured = []
    import drumscribe.transcription.peaks as peaks

    real_detect = peaks.detect_onsets

    def capture(activations, model, **kw):
        captured.append(np.array(activations))
        return real_detect(activations, model, **kw)

    monkeypatch.setattr(peaks, "detect_onsets", capture)
    whole, chunked = _chunked_vs_whole(groove_wav, real_model, beats=False)
    assert captured[0].shape == captured[1].shape
    np.testing.assert_allclose(captured[1], captured[0], atol=1e-4)
    assert [(e.time, e.instrument) for e in chunked.events] == [(e.time, e.instrument) for e in whole.events]
    assert pipeline.margin_seconds(real_model, False) * real_model.fps >= real_model.context_frames


def test_real_model_finds_the_synthesized_groove(groove_wav, real_model):
    t = transcribe(groove_wav, model=real_model)
    assert t.tempo == pytest.approx(120.0, rel=0.03)
    truth = {name: [h[0] for h in GROOVE_HITS if h[1] == name] for name in ("kick", "snare", "hihat_closed")}
    for name, times in truth.items():
        found = [e.time for e in t.events if e.instrument == name or (name == "hihat_closed" and e.instrument.startswith("hihat"))]
        hits = sum(any(abs(f - t0) <= 0.05 for f in found) for t0 in times)
        assert hits >= 0.9 * len(times), (name, hits, len(times), found[:10])
        extra = sum(not any(abs(f - t0) <= 0.05 for t0 in times) for f in found)
        assert extra <= 0.1 * len(times) + 1, (name, extra)


def test_chunked_beats_match_whole_file_beats(groove_wav, standin):
    """The beat BLSTM has no hard context limit; the 6 s margins keep seams within a frame or two."""
    whole, chunked = _chunked_vs_whole(groove_wav, standin, beats=True)
    assert len(chunked.beats) == len(whole.beats) > 20
    assert np.abs(np.array(chunked.beats) - np.array(whole.beats)).max() <= 0.03
    assert chunked.tempo == pytest.approx(whole.tempo, rel=0.01)
