"""The v2 accompaniment generator: valid MIDI, deterministic, a singer that actually sings."""

import numpy as np
import pytest

from drumscribe.training import accompaniment as ac
from drumscribe.training.render import SR


@pytest.mark.parametrize("seed", range(12))
def test_band_parts_are_valid_midi_inside_the_clip(seed):
    band, guitars, info = ac.make_band(np.random.default_rng(seed), 12.0)
    assert info["style"] in ac.STYLES and 60 <= info["tempo"] <= 200
    assert band and guitars
    for t, dur, channel, program, note, velocity in band + guitars:
        assert 0 <= t < 12.0 and dur > 0
        assert channel != 9, "accompaniment must never play on the drum channel"
        assert 0 <= program <= 127 and 0 <= note <= 127 and 1 <= velocity <= 127
    # guitars are rendered apart (for the amp simulator) and use no other channels
    assert {n[2] for n in guitars} <= {1, 5}


def test_same_seed_same_band():
    a = ac.make_band(np.random.default_rng(7), 10.0)
    b = ac.make_band(np.random.default_rng(7), 10.0)
    assert a == b


def test_reggae_rhythm_guitar_is_staccato_on_offbeats():
    for seed in range(200):
        _, guitars, info = ac.make_band(np.random.default_rng(seed), 16.0)
        if info["style"] == "reggae":
            break
    else:
        pytest.fail("no reggae style in 200 seeds")
    beat = 60 / info["tempo"]
    chops = [n for n in guitars if n[2] == 1]
    assert chops and max(n[1] for n in chops) <= 0.15  # short chops, the sound a snare detector must not take
    phase = np.array([(n[0] / (beat / 2)) % 2 for n in chops])
    assert np.all(np.abs(phase - 1) < 0.1) or np.mean(np.abs(phase - 1) < 0.1) > 0.4


def test_singer_has_voiced_and_noisy_parts():
    rng = np.random.default_rng(3)
    info = {"tempo": 100.0, "key": 2, "scale": ac.MAJOR}
    voice = ac.sing(rng, 8.0, info)
    assert voice.shape == (int(8.0 * SR),) and voice.dtype == np.float32
    assert np.isfinite(voice).all() and np.std(voice) > 0.01
    spec = np.abs(np.fft.rfft(voice))
    freqs = np.fft.rfftfreq(len(voice), 1 / SR)
    # vowels put most energy below 4 kHz, consonants leave some above it
    low, high = spec[freqs < 4000].sum(), spec[freqs > 4000].sum()
    assert low > high > 0.01 * low


def test_amp_sim_keeps_length_and_stays_finite():
    rng = np.random.default_rng(0)
    x = np.sin(2 * np.pi * 110 * np.arange(SR) / SR).astype(np.float32)
    for _ in range(8):
        y = ac.amp_sim(x, rng)
        assert y.shape == x.shape and np.isfinite(y).all()


@pytest.mark.parametrize("seed", range(6))
def test_percussion_overdub_is_high_pitched_and_follows_the_groove(seed):
    from drumscribe.training.render import R

    beat = 0.5
    events = [(i * beat / 2, R["hihat_closed"], 0.8) for i in range(32)]
    events += [(1 + i * 2 * beat, R["snare"], 0.9) for i in range(4)]
    y = ac.percussion_overdub(np.random.default_rng(seed), sorted(events), 8.0)
    assert y.shape == (8 * SR,) and np.isfinite(y).all() and np.abs(y).max() > 0.1
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    assert spec[freqs > 2000].sum() > 5 * spec[freqs < 500].sum()
    # its hits start at (or between) the groove's hits, never at random
    from scipy.signal import find_peaks

    hop = SR // 200  # 5 ms frames
    rms = np.sqrt(np.mean(y[: len(y) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    rise = np.maximum(0, np.diff(rms, prepend=0))  # onsets, not the beating of the jingles' decay
    peaks, _ = find_peaks(rise, height=0.3 * rise.max(), distance=10)
    grid = np.arange(0, 8, beat / 4)
    assert len(peaks) >= 3
    assert all(np.min(np.abs(grid - p * hop / SR)) < 0.04 for p in peaks)
