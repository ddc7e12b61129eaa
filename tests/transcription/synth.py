"""Synthesized drum audio with known hit times (no external data).

kick = decaying 60 Hz sine with a short click; snare = noise burst + 200 Hz tone;
hat = high-passed short noise; open hat = the same noise ringing until the pedal closes it
(choked after ``OPEN_HAT_SECONDS``). Deterministic (seeded).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt

SR = 44100


def kick(sr: int = SR, rng=None) -> np.ndarray:
    t = np.arange(int(0.35 * sr)) / sr
    freq = 60 + 60 * np.exp(-t / 0.02)  # a quick pitch drop, like a real kick
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.12)
    click = np.zeros_like(t)
    n = int(0.003 * sr)
    click[:n] = (rng or np.random.default_rng(1)).uniform(-1, 1, n) * np.linspace(1, 0, n) * 0.5
    return (0.9 * body + click).astype(np.float32)


def snare(sr: int = SR, rng=None) -> np.ndarray:
    rng = rng or np.random.default_rng(2)
    t = np.arange(int(0.25 * sr)) / sr
    noise = rng.uniform(-1, 1, len(t)) * np.exp(-t / 0.06)
    tone = np.sin(2 * np.pi * 200 * t) * np.exp(-t / 0.05)
    return (0.5 * noise + 0.5 * tone).astype(np.float32)


def hat(sr: int = SR, rng=None) -> np.ndarray:
    rng = rng or np.random.default_rng(3)
    t = np.arange(int(0.08 * sr)) / sr
    sos = butter(4, 7000, btype="highpass", fs=sr, output="sos")
    noise = sosfilt(sos, rng.uniform(-1, 1, len(t))) * np.exp(-t / 0.02)
    return (0.6 * noise).astype(np.float32)


OPEN_HAT_SECONDS = 0.24  # rings until the next eighth note at 120 BPM, where the pedal closes it


def open_hat(sr: int = SR, rng=None) -> np.ndarray:
    rng = rng or np.random.default_rng(4)
    t = np.arange(int(OPEN_HAT_SECONDS * sr)) / sr
    sos = butter(4, 6000, btype="highpass", fs=sr, output="sos")
    envelope = np.exp(-t / 0.4) * np.clip((OPEN_HAT_SECONDS - t) / 0.01, 0, 1)  # 10 ms choke at the end
    return (0.6 * sosfilt(sos, rng.uniform(-1, 1, len(t))) * envelope).astype(np.float32)


SOUNDS = {"kick": kick, "snare": snare, "hihat_closed": hat, "hihat_open": open_hat}


def render(hits, duration: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Mix ``hits`` [(time s, instrument, gain)] into a mono float32 signal of ``duration`` s."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(round(duration * sr)), dtype=np.float32)
    for time, name, gain in hits:
        sound = SOUNDS[name](sr, rng) * gain
        i = int(round(time * sr))
        n = min(len(sound), len(out) - i)
        if n > 0:
            out[i : i + n] += sound[:n]
    peak = float(np.abs(out).max(initial=0.0))
    return out / peak * 0.9 if peak > 0.9 else out


def groove(bars: int, bpm: float = 120.0, start: float = 0.5):
    """A plain rock beat: kick on 1 and 3, snare on 2 and 4, hats on every eighth note."""
    beat = 60.0 / bpm
    hits = []
    for bar in range(bars):
        t0 = start + bar * 4 * beat
        for b in range(4):
            name = "kick" if b in (0, 2) else "snare"
            hits.append((t0 + b * beat, name, 1.0 if name == "kick" else 0.8))
        for e in range(8):
            hits.append((t0 + e * beat / 2, "hihat_closed", 0.5))
    return sorted(hits)
