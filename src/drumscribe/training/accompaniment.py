"""Accompaniment v2: band parts that *sound like* drums in places, and a synthetic singer.

The 1.0.0 model's errors in real mixes were snare and hi-hat false positives on percussive
non-drum sounds (reggae guitar skanks, organ bubble, funk chops, palm-muted chugs, bass attacks)
and misses under dense guitars. The v1 accompaniment (``render.make_accompaniment``) strummed
long chords through clean soundfont guitars and had no voice at all. This module adds:

* ``make_band`` — styles (rock, metal, reggae/ska, funk, pop, ballad, shuffle) whose rhythm parts
  are short and placed on off-beats and 16ths, the way the drums' own hats and snares are, so the
  network has to tell a drum from a staccato chord by timbre rather than by rhythm or attack.
  Guitar parts come back separately so ``amp_sim`` can distort them like a real amplifier.
* ``amp_sim`` — drive + asymmetric clipping + cabinet low-pass: the dense, broadband distorted
  guitar sound that soundfont "distortion guitar" presets only approximate.
* ``sing`` — a formant-synthesised voice: vowels on a melody with vibrato, and consonants
  (plosives t/k/p, fricatives s/sh/f) which are exactly the short noise bursts a hi-hat or snare
  detector mistakes for drums.

Everything is numpy/scipy and deterministic given the ``rng``.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from drumscribe.training.render import HIHATS, SR, R, room_ir

STYLES = ["rock", "metal", "reggae", "funk", "pop", "ballad", "shuffle"]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]


def _chord(root: int, deg: int, scale: list[int], base: int) -> list[int]:
    return [base + root + scale[(deg + k) % 7] + 12 * ((deg + k) // 7) for k in (0, 2, 4)]


def make_band(rng, duration: float) -> tuple[list[tuple], list[tuple], dict]:
    """MIDI notes (time, dur, channel, program, note, velocity): (band, guitars, info).

    ``info`` carries the style, tempo and key for the singer. ``render.render_fluidsynth`` sets
    one program per channel, from a channel's first note: where a part draws a program per note
    (second guitar, pads, stabs) only the first draw sounds. Kept as is, because the random draws
    fix the training sets of model 1.1.0.
    """
    style = str(rng.choice(STYLES, p=[0.22, 0.1, 0.16, 0.14, 0.18, 0.1, 0.1]))
    tempo = float(rng.uniform(*{"metal": (100, 200), "ballad": (60, 90), "reggae": (65, 95),
                                "funk": (85, 120), "shuffle": (90, 150)}.get(style, (80, 170))))
    beat = 60 / tempo
    bar = 4 * beat
    key = int(rng.integers(0, 12))
    scale = MINOR if (style == "metal" or rng.random() < 0.4) else MAJOR
    prog = [int(d) for d in rng.choice(7, 4)]
    swing = 0.33 * beat / 2 if style == "shuffle" else 0.0
    band, guitars = [], []

    def at(bar_t, eighth):  # time of an eighth-note slot, swung when the style swings
        return bar_t + eighth * beat / 2 + (swing if eighth % 2 else 0.0)

    def vel(lo=70, hi=120):
        return int(rng.integers(lo, hi))

    bass_prog = int(rng.choice([36, 37] if style == "funk" else [32, 33, 34, 35, 38, 39]))
    gtr_prog = int(rng.choice({"metal": [30, 29], "rock": [29, 30, 27, 29], "reggae": [27, 28, 26, 25],
                               "funk": [28, 27, 28]}.get(style, [25, 26, 27, 28, 29, 30])))
    gtr2 = rng.random() < 0.5
    keys_prog = int(rng.choice({"reggae": [16, 17, 18, 0], "funk": [7, 4, 5, 16]}.get(style, [0, 1, 2, 4, 5, 16, 17, 18, 19])))
    has_keys = style in ("reggae", "funk") or rng.random() < 0.6
    has_lead = rng.random() < 0.5
    lead_prog = int(rng.choice([56, 57, 61, 62, 65, 66, 71, 73, 80, 81, 85, 29, 30]))
    stabs = rng.random() < 0.3  # brass/synth stabs: short, loud, on the beat
    t = 0.0
    while t < duration:
        for deg in prog:
            if t >= duration:
                break
            root = key + scale[deg]
            triad = _chord(key, deg, scale, 48)
            power = [40 + root, 47 + root, 52 + root] if root + 40 < 52 else [28 + root, 35 + root, 40 + root]
            # ---- bass
            if style == "reggae":  # one-drop bass: sparse, long, syncopated
                for e in (0, 3, 5, 6):
                    if rng.random() < 0.7:
                        band.append((at(t, e), beat * rng.uniform(0.4, 1.2), 0, bass_prog, 36 + root, vel(80, 115)))
            elif style == "funk":  # 16ths, staccato, octave pops
                for s in range(16):
                    if rng.random() < 0.55:
                        n = 36 + root + (12 if rng.random() < 0.3 else 0)
                        band.append((t + s * beat / 4, beat * rng.uniform(0.08, 0.3), 0, bass_prog, n, vel(70, 127)))
            else:
                step = {"metal": 4, "ballad": 1}.get(style, int(rng.choice([1, 2, 2, 4])))
                for s in range(4 * step):
                    if rng.random() < 0.85:
                        n = 36 + root + (7 if rng.random() < 0.1 else 0) + (12 if rng.random() < 0.1 else 0)
                        d = beat / step * (rng.uniform(0.3, 0.6) if rng.random() < 0.4 else 0.9)
                        band.append((t + s * beat / step + (swing if step == 2 and s % 2 else 0), d, 0,
                                     bass_prog, n, vel()))
            # ---- rhythm guitar
            if style == "reggae":  # skank: short chops on 2 and 4 (or every off-beat)
                slots = (2, 6) if rng.random() < 0.5 else (1, 3, 5, 7)
                for e in slots:
                    d = rng.uniform(0.04, 0.14)
                    for j, n in enumerate(_chord(key, deg, scale, 60)):
                        guitars.append((at(t, e) + j * 0.003, d, 1, gtr_prog, n, vel(85, 127)))
            elif style == "funk":  # 16th chops, muted strokes, accents
                for s in range(16):
                    if rng.random() < 0.6:
                        d = rng.uniform(0.03, 0.1)
                        v = vel(100, 127) if rng.random() < 0.3 else vel(40, 80)
                        for j, n in enumerate(_chord(key, deg, scale, 60)[:2 + int(rng.random() < 0.5)]):
                            guitars.append((t + s * beat / 4 + j * 0.002, d, 1, gtr_prog, n, v))
            elif style in ("metal", "rock") and rng.random() < 0.6:  # palm-muted chugs + accents
                per = 4 if style == "metal" else 2
                for s in range(4 * per):
                    if rng.random() < 0.85:
                        accent = s % per == 0 and rng.random() < 0.3
                        d = beat / per * (0.9 if accent else rng.uniform(0.2, 0.45))
                        for j, n in enumerate(power if accent else power[:2]):
                            guitars.append((t + s * beat / per + j * 0.002, d, 1, gtr_prog, n, vel(90, 127)))
            else:  # strums (down/up), some let ring
                per = int(rng.choice([1, 2, 2, 4]))
                for s in range(4 * per):
                    if rng.random() < 0.8:
                        d = beat / per * (0.95 if rng.random() < 0.6 else rng.uniform(0.15, 0.5))
                        chord = power if gtr_prog in (29, 30) else _chord(key, deg, scale, 52)
                        spread = rng.uniform(0.002, 0.012)
                        order = chord if s % 2 == 0 else chord[::-1]
                        for j, n in enumerate(order):
                            guitars.append((t + s * beat / per + j * spread, d, 1, gtr_prog, n, vel(70, 120)))
            if gtr2:  # arpeggio / single-note line on a second guitar
                for e in range(8):
                    if rng.random() < 0.7:
                        n = 60 + root + scale[int(rng.integers(7))] - 12 * int(rng.random() < 0.5)
                        guitars.append((at(t, e), beat / 2 * rng.uniform(0.5, 1.5), 5, int(rng.choice([24, 25, 26, 27, 29])), n, vel(60, 110)))
            # ---- keys
            if has_keys:
                if style == "reggae" and keys_prog in (16, 17, 18):  # organ bubble
                    for e in (1, 3, 5, 7):
                        for n in triad:
                            band.append((at(t, e), rng.uniform(0.05, 0.12), 2, keys_prog, n + 12, vel(60, 100)))
                elif style == "funk":  # clav / EP 16th comping
                    for s in range(16):
                        if rng.random() < 0.45:
                            for n in triad[: 2 + int(rng.random() < 0.5)]:
                                band.append((t + s * beat / 4, rng.uniform(0.04, 0.12), 2, keys_prog, n + 12, vel(60, 115)))
                else:
                    per = rng.choice([0.5, 1, 2])
                    for s in range(int(4 * per)):
                        d = beat / per * (0.9 if rng.random() < 0.6 else 0.3)
                        for n in triad:
                            band.append((t + s * beat / per, d, 2, keys_prog, n + 12, vel(55, 105)))
            if style in ("ballad", "pop") or rng.random() < 0.3:  # pad / strings
                for n in triad:
                    band.append((t, bar, 3, int(rng.choice([48, 49, 50, 52, 88, 89, 91])), n + 12, vel(50, 90)))
            if stabs:
                for e in rng.choice(8, size=int(rng.integers(1, 4)), replace=False):
                    for n in triad:
                        band.append((at(t, int(e)), rng.uniform(0.05, 0.15), 6, int(rng.choice([61, 62, 63, 81])), n + 12, vel(90, 127)))
            if has_lead:
                tt = t
                while tt < t + bar:
                    d = beat * float(rng.choice([0.25, 0.5, 0.5, 1, 2]))
                    n = 72 + key + scale[int(rng.integers(7))] - 12 * int(rng.random() < 0.4)
                    band.append((tt, d * rng.uniform(0.5, 0.95), 4, lead_prog, n, vel(70, 115)))
                    tt += d
            t += bar
    band = [n for n in band if n[0] < duration - 0.1]
    guitars = [n for n in guitars if n[0] < duration - 0.1]
    return band, guitars, {"style": style, "tempo": tempo, "key": key, "scale": scale}


def amp_sim(x: np.ndarray, rng) -> np.ndarray:
    """Guitar amplifier: pre-EQ, drive into asymmetric clipping, cabinet low-pass."""
    if rng.random() < 0.25:  # clean amp
        return x
    x = sps.sosfilt(sps.butter(1, rng.uniform(80, 300), "highpass", fs=SR, output="sos"), x)
    x = x / (np.max(np.abs(x)) + 1e-9)
    drive = rng.uniform(3, 40)
    bias = rng.uniform(0, 0.3)
    y = np.tanh(drive * x + bias) - np.tanh(bias)
    cab = sps.butter(4, rng.uniform(2500, 6000), "lowpass", fs=SR, output="sos")
    y = sps.sosfilt(cab, y)
    f = rng.uniform(600, 2500)  # a cabinet/mic resonance
    y = y + rng.uniform(0, 0.8) * sps.sosfilt(sps.butter(2, [f / 1.4, f * 1.4], "bandpass", fs=SR, output="sos"), y)
    return y.astype(np.float32)


# vowel formants (F1, F2, F3) in Hz, roughly a male/female average
VOWELS = [(800, 1200, 2500), (400, 2000, 2600), (300, 2300, 3000), (500, 900, 2400), (350, 800, 2300),
          (600, 1700, 2500)]
# consonants: (kind, centre Hz, bandwidth ratio, duration s)
CONSONANTS = [("plosive", 4000, 2.0, 0.015), ("plosive", 1800, 1.6, 0.02), ("plosive", 900, 1.8, 0.012),
              ("fricative", 7000, 1.5, 0.12), ("fricative", 3500, 1.4, 0.1), ("fricative", 5000, 2.5, 0.08)]


def _bandpass_noise(rng, n: int, centre: float, ratio: float) -> np.ndarray:
    hi = min(centre * ratio, SR / 2 - 200)
    sos = sps.butter(2, [centre / ratio, hi], "bandpass", fs=SR, output="sos")
    return sps.sosfilt(sos, rng.standard_normal(n)).astype(np.float32)


def sing(rng, duration: float, info: dict) -> np.ndarray:
    """A synthetic vocal line over ``duration`` seconds, in the band's key and tempo."""
    out = np.zeros(int(duration * SR) + SR, np.float32)
    beat = 60 / info["tempo"]
    base = 48 + info["key"] + (12 if rng.random() < 0.5 else 0)  # male or female register
    f_scale = info["scale"]
    t = float(rng.uniform(0, 2 * beat))
    note = int(rng.integers(7))
    formant_shift = rng.uniform(0.9, 1.2)
    breath = rng.uniform(0.02, 0.15)
    while t < duration - 0.3:
        if rng.random() < 0.12:  # rest between phrases
            t += beat * float(rng.choice([1, 2, 4]))
            continue
        d = beat * float(rng.choice([0.25, 0.5, 0.5, 1, 1, 2]))
        note = int(np.clip(note + rng.integers(-2, 3), 0, 9))
        f0 = 440 * 2 ** ((base + f_scale[note % 7] + 12 * (note // 7) - 69) / 12)
        i0 = int(t * SR)
        # onset consonant
        if rng.random() < 0.7:
            kind, centre, ratio, cd = CONSONANTS[int(rng.integers(len(CONSONANTS)))]
            n = int(cd * rng.uniform(0.6, 1.6) * SR)
            env = np.exp(-np.arange(n) / (n / (6 if kind == "plosive" else 2))).astype(np.float32)
            if kind == "fricative":
                env *= np.minimum(1, np.arange(n) / (0.01 * SR))
            burst = _bandpass_noise(rng, n, centre * formant_shift, ratio) * env
            burst *= rng.uniform(0.3, 1.5) / (np.std(burst) + 1e-9) * 0.15
            out[i0 : i0 + n] += burst[: len(out) - i0]
            i0 += int(n * (0.5 if kind == "plosive" else 0.8))
        # vowel: sawtooth at f0 with vibrato and jitter, through three formant resonators
        n = int(d * rng.uniform(0.7, 1.0) * SR)
        if n < 200 or i0 + n >= len(out):
            t += d
            continue
        tt = np.arange(n) / SR
        vib = rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * tt) * np.minimum(1, tt / 0.2)
        glide = rng.uniform(-0.5, 0.5) * np.exp(-tt / 0.05)  # scoop into the note
        f = f0 * 2 ** ((vib + glide) / 12)
        phase = np.cumsum(f / SR)
        src = (2 * (phase % 1) - 1).astype(np.float32) + breath * rng.standard_normal(n).astype(np.float32)
        voice = np.zeros(n, np.float32)
        for k, fc in enumerate(VOWELS[int(rng.integers(len(VOWELS)))]):
            fc = min(fc * formant_shift, SR / 2 - 500)
            bw = 60 + 40 * k
            r = np.exp(-np.pi * bw / SR)
            a = [1, -2 * r * np.cos(2 * np.pi * fc / SR), r * r]
            voice += sps.lfilter([1 - r], a, src).astype(np.float32) / (k + 1)
        env = np.minimum(1, tt / rng.uniform(0.01, 0.05)) * np.minimum(1, (tt[::-1]) / 0.04)
        voice *= env.astype(np.float32)
        voice *= 0.2 / (np.std(voice) + 1e-9) * rng.uniform(0.6, 1.2)
        out[i0 : i0 + n] += voice
        # coda consonant ("s", "t") now and then
        if rng.random() < 0.25:
            kind, centre, ratio, cd = CONSONANTS[int(rng.choice([0, 3, 4]))]
            m = int(cd * SR)
            j0 = i0 + n
            burst = _bandpass_noise(rng, m, centre, ratio) * np.exp(-np.arange(m) / (m / 3)).astype(np.float32)
            burst *= rng.uniform(0.3, 1.2) / (np.std(burst) + 1e-9) * 0.15
            out[j0 : j0 + m] += burst[: max(0, len(out) - j0)]
        t += d
    out = out[: int(duration * SR)]
    if rng.random() < 0.8:  # vocal reverb/plate
        wet = sps.fftconvolve(out, room_ir(rng, rng.uniform(0.6, 2.0)))[: len(out)].astype(np.float32)
        out = out + rng.uniform(0.1, 0.5) * wet * (np.std(out) / (np.std(wet) + 1e-9))
    return out.astype(np.float32)


# --------------------------------------------------------------------------- percussion overdubs
def _tambourine_hit(rng, partials, decays, n):
    tt = np.arange(n) / SR
    y = np.zeros(n, np.float32)
    for k in range(int(rng.integers(1, 4))):  # jingles re-strike a few ms apart
        d = int(rng.uniform(0, 0.02) * SR) if k else 0
        env = np.exp(-tt[: n - d, None] / decays[None, :])
        ph = rng.uniform(0, 2 * np.pi, len(partials))
        y[d:] += (np.sin(2 * np.pi * partials[None, :] * tt[: n - d, None] + ph) * env).sum(1) * rng.uniform(0.4, 1)
    noise = sps.sosfilt(sps.butter(2, 5000, "highpass", fs=SR, output="sos"), rng.standard_normal(n))
    return y / len(partials) + 0.3 * noise * np.exp(-tt / 0.03)


def _shaker_hit(rng, band, n):
    tt = np.arange(n) / SR
    att, dec = rng.uniform(0.005, 0.025), rng.uniform(0.03, 0.1)
    env = np.minimum(1, tt / att) * np.exp(-np.maximum(0, tt - att) / dec)
    return sps.sosfilt(band, rng.standard_normal(n)) * env


def percussion_overdub(rng, events, duration: float) -> np.ndarray:
    """A tambourine or shaker track played along with ``events`` (never labelled as a drum).

    Real pop/rock records are full of these overdubs, and they are what a hi-hat detector calls
    a hi-hat: the model has to learn they are not. Played on the backbeat (with the snare), with
    the time keeper, or between its hits (alone: the hard case).
    """
    keeper = sorted(t for t, r, _ in events if r in HIHATS or r == R["ride"])
    snares = sorted(t for t, r, v in events if r == R["snare"] and v > 0.4)
    mode = rng.choice(["backbeat", "keeper", "offbeats"], p=[0.3, 0.3, 0.4])
    if mode == "backbeat" and snares:
        times = snares
    elif mode == "offbeats" and len(keeper) > 2:
        gaps = np.diff(keeper)
        times = [a + g / 2 for a, g in zip(keeper[:-1], gaps) if 0.08 < g < 0.7]
    else:
        times = keeper
    if not times:
        times = list(np.arange(rng.uniform(0, 0.5), duration, rng.uniform(0.15, 0.5)))
    out = np.zeros(int(duration * SR) + SR, np.float32)
    tamb = rng.random() < 0.55
    partials = rng.uniform(3500, 10500, int(rng.integers(8, 20)))
    decays = rng.uniform(0.04, 0.25, len(partials))
    band = sps.butter(2, [rng.uniform(1500, 4000), rng.uniform(7000, 10500)], "bandpass", fs=SR, output="sos")
    n = int(0.35 * SR)
    for t in times:
        if rng.random() < 0.1:
            continue
        i = int((t + rng.normal(0, 0.006)) * SR)
        if 0 <= i < len(out) - n:
            hit = _tambourine_hit(rng, partials, decays, n) if tamb else _shaker_hit(rng, band, n)
            out[i : i + n] += hit.astype(np.float32) / (np.max(np.abs(hit)) + 1e-9) * rng.uniform(0.3, 1.0)
    return out[: int(duration * SR)]
