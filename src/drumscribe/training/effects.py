"""Signal processing for synthetic clips: beater click and kick body under the kicks, a synthetic
room, EQ, compression (``augment_drums``) and the master bus (``master``: compression,
saturation, noise, low-pass, level).
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from drumscribe.training.roles import SR, R


def beater_click(events, duration, rng) -> np.ndarray:
    n = int(duration * SR)
    out = np.zeros(n + SR, np.float32)
    L = int(rng.uniform(0.002, 0.006) * SR)
    env = np.exp(-np.arange(L) / (L / 4)).astype(np.float32)
    db = rng.uniform(-30, -16)
    for t, role, vel in events:
        if role == R["kick"]:
            i0 = int(round(t * SR))
            out[i0 : i0 + L] += vel * 10 ** (db / 20) * env * rng.standard_normal(L).astype(np.float32)
    sos = sps.butter(2, 1500, "highpass", fs=SR, output="sos")
    return sps.sosfilt(sos, out[:n]).astype(np.float32)


def kick_body(events, duration, rng) -> np.ndarray:
    """A resonant low tail under every kick: the boomy, unmuffled kick of many real recordings.

    Labelled kick only. The hypothesis it tests: the 2.0 sets taught the network that a kick with a
    long low ring is a kick plus a floor tom (their unison figures), while real 1960s-70s kicks ring
    like that on their own. (r11, trained with it, did not fire fewer false toms on real kicks:
    docs/model.md, *2.1*.) A damped head mode at 40-75 Hz, its pitch falling a little as it decays
    (as a drum head's does), an optional second mode, 100-400 ms long; unit peak (the caller sets
    the level)."""
    n = int(duration * SR)
    out = np.zeros(n + SR, np.float32)
    f0 = rng.uniform(40, 75)
    tau = rng.uniform(0.1, 0.4)
    glide = rng.uniform(0.0, 0.25)
    ratio, g2 = rng.uniform(1.45, 1.75), rng.uniform(0.0, 0.4)
    L = int(min(5 * tau, 1.0) * SR)
    t = np.arange(L) / SR
    freq = f0 * (1 + glide * np.exp(-t / 0.03))
    phase = 2 * np.pi * np.cumsum(freq) / SR
    tone = np.sin(phase) + g2 * np.sin(ratio * phase) * np.exp(-t / (0.5 * tau))
    tone *= np.exp(-t / tau) * np.minimum(1, t / 0.002)
    tone = (tone / np.max(np.abs(tone))).astype(np.float32)
    curve = rng.uniform(1.0, 2.0)
    for t0, role, vel in events:
        if role == R["kick"]:
            i0 = int(round(t0 * SR))
            seg = tone[: len(out) - i0]
            out[i0 : i0 + len(seg)] += (vel**curve) * seg
    return out[:n] / (np.max(np.abs(out)) + 1e-9)




# --------------------------------------------------------------------------- augmentation
def room_ir(rng, rt60: float) -> np.ndarray:
    L = int(min(rt60 * 1.2, 1.5) * SR)
    t = np.arange(L) / SR
    ir = rng.standard_normal(L).astype(np.float32) * np.exp(-6.9 * t / rt60).astype(np.float32)
    # darker tail: lowpass a copy and crossfade over time
    sos = sps.butter(1, rng.uniform(2000, 8000), "lowpass", fs=SR, output="sos")
    dark = sps.sosfilt(sos, ir).astype(np.float32)
    w = np.clip(t / rt60, 0, 1).astype(np.float32)
    ir = ir * (1 - w) + dark * w
    pre = int(rng.uniform(0.002, 0.02) * SR)
    ir = np.concatenate([np.zeros(pre, np.float32), ir])
    for _ in range(int(rng.integers(2, 8))):  # early reflections
        k = int(rng.uniform(0.003, 0.04) * SR)
        if k < len(ir):
            ir[k] += rng.uniform(-0.5, 0.5) * 20
    return ir / (np.sqrt(np.sum(ir**2)) + 1e-9)


def eq(x, rng):
    y = x.copy()
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.choice(["low", "high", "band"])
        if kind == "low":
            sos = sps.butter(2, rng.uniform(80, 400), "lowpass", fs=SR, output="sos")
        elif kind == "high":
            sos = sps.butter(2, rng.uniform(2000, 9000), "highpass", fs=SR, output="sos")
        else:
            f = rng.uniform(200, 6000)
            sos = sps.butter(2, [f / 1.5, min(f * 1.5, SR / 2 - 100)], "bandpass", fs=SR, output="sos")
        y += rng.uniform(-0.6, 1.0) * sps.sosfilt(sos, x).astype(np.float32)
    return y


def compress(x, rng, ratio=None):
    ratio = ratio or rng.uniform(2, 8)
    att, rel = rng.uniform(0.001, 0.02), rng.uniform(0.05, 0.3)
    env = np.abs(x)
    a = np.exp(-1 / (rel * SR))
    env = sps.lfilter([1 - a], [1, -a], env).astype(np.float32)
    thr = np.percentile(env, rng.uniform(50, 90)) + 1e-6
    gain = np.minimum(1.0, (env / thr + 1e-9) ** (1 / ratio - 1)).astype(np.float32)
    # smooth the gain slightly (attack)
    b = np.exp(-1 / (att * SR))
    gain = sps.lfilter([1 - b], [1, -b], gain).astype(np.float32)
    return x * gain


def augment_drums(x: np.ndarray, rng) -> np.ndarray:
    if rng.random() < 0.8:
        rt60 = rng.uniform(0.15, 1.3)
        wet = sps.fftconvolve(x, room_ir(rng, rt60))[: len(x)].astype(np.float32)
        x = x + rng.uniform(0.05, 0.6) * wet * (np.std(x) / (np.std(wet) + 1e-9))
    if rng.random() < 0.7:
        x = eq(x, rng)
    if rng.random() < 0.5:
        x = compress(x, rng)
    return x.astype(np.float32)


def master(x: np.ndarray, rng) -> np.ndarray:
    if rng.random() < 0.4:
        x = compress(x, rng)
    x = x / (np.max(np.abs(x)) + 1e-9)
    if rng.random() < 0.3:
        drive = rng.uniform(1.5, 5)
        x = np.tanh(drive * x) / np.tanh(drive)
    if rng.random() < 0.5:
        noise = rng.standard_normal(len(x)).astype(np.float32)
        if rng.random() < 0.5:  # pinkish
            noise = sps.lfilter([1], [1, -0.97], noise).astype(np.float32)
            noise /= np.std(noise) + 1e-9
        x = x + noise * np.std(x) * 10 ** (-rng.uniform(25, 60) / 20)
    if rng.random() < 0.1:
        sos = sps.butter(4, rng.uniform(5000, 9000), "lowpass", fs=SR, output="sos")
        x = sps.sosfilt(sos, x)
    x = x / (np.max(np.abs(x)) + 1e-9) * rng.uniform(0.1, 0.98)
    return x.astype(np.float32)
