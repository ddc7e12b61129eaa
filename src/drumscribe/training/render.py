"""Synthesis of labelled drum performances for training.

* ``make_performance`` writes a drum performance (grooves, fills with toms, ghost notes, flams,
  open/closed/pedal hats, crash/ride, humanized timing and velocity) as ``(time, role, velocity)``.
* ``HydrogenKit`` is a small numpy sampler over the Hydrogen drum kits installed by the
  ``hydrogen-drumkits`` package (velocity layers, instruments mapped by name, lead silence trimmed
  so a label sits on the attack, hi-hat choke).
* ``render_fluidsynth`` renders many clips of MIDI (drums on channel 10 and/or accompaniment) with
  one soundfont load, float output, chorus and reverb off, then cuts them apart.
* ``augment`` adds sympathetic bleed, room reverb, EQ, compression, saturation and noise.

Roles are finer than the model's classes: the training code maps them (side stick and the
"extra" percussion are rendered but never labelled as snare or hi-hat).
"""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal as sps

from drumscribe.transcription.audio import resample

SR = 22050
ROLES = [
    "kick", "side_stick", "snare", "hihat_closed", "hihat_pedal", "hihat_open",
    "tom_low", "tom_mid", "tom_high", "crash", "ride", "extra",
]
R = {name: i for i, name in enumerate(ROLES)}
HIHATS = {R["hihat_closed"], R["hihat_pedal"], R["hihat_open"]}
TOMS = [R["tom_high"], R["tom_mid"], R["tom_low"]]

HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")
SOUNDFONTS = {
    "fluidr3": ("/usr/share/sounds/sf2/FluidR3_GM.sf2", [0, 8, 16, 24, 25, 32, 40]),
    "timgm": ("/usr/share/sounds/sf2/TimGM6mb.sf2", [0]),
    "musescore": ("/usr/share/sounds/sf3/MuseScore_General.sf3", [0, 8, 16, 24, 25, 32, 40]),
}
# The AVL Drumkits (x42 avldrums.lv2, GPL-2+): two recorded 4-piece acoustic kits as SF2, one
# preset (bank 0, program 0) played on a melodic channel. Notes found by rendering each one: 41/43
# floor tom (centre/edge, ~70-98 Hz), 45/47 the one rack tom, 46/48 open hats; ambiguous notes
# (chokes, 39, 50, 52, 55, 58, 60, 61) are not used. A 4-piece kit has one rack tom: the training
# code relabels "tom_mid" as "tom_high" for these kits.
AVL_KITS = {
    "avl_black_pearl": "/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2",
    "avl_red_zeppelin": "/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2",
}
AVL_NOTES = {
    "kick": [36], "side_stick": [37], "snare": [38, 40], "hihat_closed": [42], "hihat_pedal": [44],
    "hihat_open": [46, 48], "tom_low": [41, 43], "tom_mid": [45, 47], "tom_high": [45, 47],
    "crash": [49, 57], "ride": [51, 59, 53], "extra": [54, 56],
}
STRUMS_DIR = HYDROGEN_DIR / "belofilms_GuitarStrums"  # hydrogen-drumkits-effects, CC-BY-3.0

# GM percussion notes per role (program 48, the Orchestra kit, is never used: timpani on toms)
GM_NOTES = {
    "kick": [36, 35], "side_stick": [37], "snare": [38, 40], "hihat_closed": [42],
    "hihat_pedal": [44], "hihat_open": [46], "tom_low": [41, 43], "tom_mid": [45, 47],
    "tom_high": [48, 50], "crash": [49, 57, 52, 55], "ride": [51, 59, 53], "extra": [39, 54, 56],
}


# --------------------------------------------------------------------------- performances
def make_performance(rng: np.random.Generator, duration: float,
                     whole_kit: bool = False) -> list[tuple[float, int, float]]:
    """A drum performance of ``duration`` seconds: list of (time s, role id, velocity 0..1).

    ``whole_kit`` (the 2.0 training sets): a second random stream adds what real kits play and the
    earlier sets lacked: the floor tom in unison with kick and snare, grooves kept on the floor tom,
    more open hats, ride bell accents. Without it the performance is exactly the earlier sets'.
    """
    if rng.random() < 0.12:
        return _random_hits(rng, duration)
    if whole_kit:
        return _whole_kit(make_performance(rng, duration), np.random.default_rng(rng.integers(2**63)), duration)
    tempo = float(rng.uniform(60, 220)) if rng.random() < 0.8 else float(rng.uniform(80, 160))
    beat = 60.0 / tempo
    meter = 4 if rng.random() < 0.85 else 3
    swing = rng.random() < 0.25
    swing_ratio = rng.uniform(0.58, 0.68) if swing else 0.5
    jitter = rng.uniform(0.002, 0.014)
    vel_base = rng.uniform(0.45, 1.0)
    ev: list[tuple[float, int, float]] = []

    def t_of(bar_start, slot16):  # slot in 16ths (4 per beat)
        b, s = divmod(slot16, 4)
        pos = b * beat
        if swing:
            frac = {0: 0, 1: swing_ratio / 2, 2: swing_ratio, 3: swing_ratio + (1 - swing_ratio) / 2}[s]
        else:
            frac = s / 4
        return bar_start + pos + frac * beat

    def add(t, role, vel):
        t = t + rng.normal(0, jitter)
        if 0.02 <= t < duration - 0.05:
            ev.append((float(t), role, float(np.clip(vel * vel_base * rng.uniform(0.85, 1.1), 0.05, 1.0))))

    def section_style():
        keeper = rng.choice(["hh", "ride", "hh_open", "hh_ped_ride"], p=[0.6, 0.22, 0.06, 0.12])
        rate = rng.choice([1, 2, 4], p=[0.15, 0.55, 0.3])  # hits per beat
        if tempo > 150 and rate == 4:
            rate = 2
        slots = meter * 4
        kick = np.zeros(slots, bool)
        kick[0] = True
        if meter == 4:
            kick[8] = rng.random() < 0.7
        for s in range(slots):
            if rng.random() < 0.12:
                kick[s] = True
        snare = np.zeros(slots, bool)
        mode = rng.random()
        if meter == 4:
            if mode < 0.7:
                snare[[4, 12]] = True
            elif mode < 0.85:
                snare[8] = True
            else:
                snare[rng.choice(slots, 3, replace=False)] = True
        else:
            snare[[4, 8] if rng.random() < 0.5 else [8]] = True
        ghosts = rng.uniform(0, 0.25) if rng.random() < 0.5 else 0.0
        open_prob = rng.uniform(0, 0.3) if rng.random() < 0.5 else 0.0
        return keeper, rate, kick, snare, ghosts, open_prob

    bar_len = meter * beat
    n_bars = int(np.ceil(duration / bar_len)) + 1
    phrase = int(rng.choice([2, 4, 8]))
    style = section_style()
    t0 = rng.uniform(0, 1.0) - (bar_len if rng.random() < 0.3 else 0)
    crash_next = rng.random() < 0.5
    for bar in range(n_bars):
        start = t0 + bar * bar_len
        if bar > 0 and bar % phrase == 0 and rng.random() < 0.3:
            style = section_style()
        keeper, rate, kick, snare, ghosts, open_prob = style
        fill = (bar % phrase == phrase - 1) and rng.random() < 0.75
        fill_from = meter * 4 - int(rng.choice([4, 8, meter * 4])) if fill else meter * 4
        fill_from = max(fill_from, 0)
        if crash_next:
            add(start, R["crash"] if rng.random() < 0.85 else R["ride"], rng.uniform(0.7, 1.0))
            add(start, R["kick"], rng.uniform(0.7, 1.0))
            crash_next = False
        step = 4 // rate
        for s in range(0, fill_from):
            if s % step == 0:
                accent = 1.0 if s % 4 == 0 else rng.uniform(0.55, 0.85)
                if keeper == "hh":
                    role = R["hihat_open"] if (s % 4 == 2 and rng.random() < open_prob) else R["hihat_closed"]
                    add(t_of(start, s), role, accent)
                elif keeper == "hh_open":
                    add(t_of(start, s), R["hihat_open"] if rng.random() < 0.7 else R["hihat_closed"], accent)
                else:
                    add(t_of(start, s), R["ride"], accent)
                    if keeper == "hh_ped_ride" and s % 8 == 4:
                        add(t_of(start, s), R["hihat_pedal"], rng.uniform(0.5, 0.9))
            if kick[s] or (rng.random() < 0.03):
                add(t_of(start, s), R["kick"], rng.uniform(0.7, 1.0))
            if snare[s]:
                if rng.random() < 0.06:
                    add(t_of(start, s), R["side_stick"], rng.uniform(0.6, 1.0))
                else:
                    if rng.random() < 0.05:  # flam
                        add(t_of(start, s) - rng.uniform(0.015, 0.035), R["snare"], rng.uniform(0.2, 0.5))
                    add(t_of(start, s), R["snare"], rng.uniform(0.75, 1.0))
            elif ghosts and s % 2 == 1 and rng.random() < ghosts:
                add(t_of(start, s), R["snare"], rng.uniform(0.08, 0.3))
            if rng.random() < 0.01:
                add(t_of(start, s), R["crash"], rng.uniform(0.5, 1.0))
        if fill:
            crash_next = rng.random() < 0.7
            sub = rng.choice([2, 4, 3], p=[0.3, 0.5, 0.2])  # 8ths, 16ths, triplets
            n_toms = int(rng.integers(1, 4))
            toms = sorted(rng.choice(TOMS, n_toms, replace=False), key=TOMS.index)
            order = toms + [R["snare"]] if rng.random() < 0.6 else [R["snare"]] + toms
            fbeats = (meter * 4 - fill_from) / 4
            n_hits = int(round(fbeats * sub))
            kick_under = rng.random() < 0.4
            for k in range(n_hits):
                t = start + fill_from / 4 * beat + k * beat / sub
                if rng.random() < 0.12:
                    continue
                if rng.random() < 0.2:
                    role = int(rng.choice(order))
                else:
                    role = order[min(len(order) - 1, int(k * len(order) / max(n_hits, 1)))]
                if rng.random() < 0.08:  # flam
                    add(t - rng.uniform(0.015, 0.035), role, rng.uniform(0.25, 0.55))
                add(t, role, rng.uniform(0.5, 1.0))
                if rng.random() < 0.15:  # unison hits (two toms / snare+tom)
                    add(t, int(rng.choice(order)), rng.uniform(0.5, 1.0))
                if kick_under and k % sub == 0:
                    add(t, R["kick"], rng.uniform(0.6, 1.0))
    if rng.random() < 0.1:  # a little percussion to ignore
        for _ in range(int(rng.integers(3, 20))):
            add(rng.uniform(0, duration), R["extra"], rng.uniform(0.3, 1.0))
    ev.sort()
    return ev


def _whole_kit(ev, rng, duration):
    """Add unison floor-tom figures, floor-tom grooves and open hats to a performance (see above)."""
    ev = list(ev)
    kicks = [t for t, r, _ in ev if r == R["kick"]]
    snares = [t for t, r, v in ev if r == R["snare"] and v > 0.4]
    if kicks and rng.random() < 0.35:  # floor tom with kick (and snare): a rock unison figure
        share = rng.uniform(0.15, 0.8)
        for t in kicks + (snares if rng.random() < 0.5 else []):
            if rng.random() < share:
                ev.append((t + rng.normal(0, 0.004), R["tom_low"], float(rng.uniform(0.5, 1.0))))
    if rng.random() < 0.12:  # a groove kept on the floor tom (or a rack tom) instead of the hats
        role = R["tom_low"] if rng.random() < 0.7 else R["tom_high"]
        hats = [(t, v) for t, r, v in ev if r in HIHATS]
        keep = rng.random() < 0.3
        ev = [e for e in ev if keep or e[1] not in HIHATS]
        ev += [(t, role, v * rng.uniform(0.8, 1.1)) for t, v in hats]
    if rng.random() < 0.3:  # open hats: more of them, on and off the beat
        p = rng.uniform(0.1, 0.5)
        ev = [(t, R["hihat_open"] if (r == R["hihat_closed"] and rng.random() < p) else r, v) for t, r, v in ev]
    if rng.random() < 0.15:  # a swapped cymbal: ride bell or china-like crash accents on the beat
        ev = [(t, R["ride"] if (r == R["crash"] and rng.random() < 0.5) else r, v) for t, r, v in ev]
    ev = [(float(t), r, float(np.clip(v, 0.05, 1.0))) for t, r, v in ev if 0.02 <= t < duration - 0.05]
    ev.sort()
    return ev


def _random_hits(rng, duration):
    ev = []
    rates = {r: rng.uniform(0.0, 2.5) for r in range(len(ROLES))}
    rates[R["extra"]] = rng.uniform(0, 0.3)
    rates[R["side_stick"]] = rng.uniform(0, 0.5)
    for role, rate in rates.items():
        n = rng.poisson(rate * duration)
        for t in rng.uniform(0.05, duration - 0.1, n):
            ev.append((float(t), role, float(rng.uniform(0.1, 1.0))))
    ev.sort()
    return ev


# --------------------------------------------------------------------------- hydrogen kits
def role_of(name: str) -> int | None:
    n = name.lower()
    if re.search(r"roll|clap|cowbell|tamb|agogo|conga|whistle|zap|fx|snap|bongo|cajon|djembe|shaker|swish|choke|^\d+$", n):
        if re.search(r"cowbell|tamb|clap", n):
            return R["extra"]
        return None
    if re.search(r"kick|bass ?drum|bassdrum|\bbd\b", n):
        return R["kick"]
    if re.search(r"stick|rim click", n):
        return R["side_stick"]
    if "snare" in n:
        return R["snare"]
    if re.search(r"hat|\bhh\b|ohh|hh ", n):
        if re.search(r"pedal|\bpd\b", n):
            return R["hihat_pedal"]
        if re.search(r"open|opened|\bop\b|semi|free", n):
            return R["hihat_open"]
        if re.search(r"closed|\bcl\b", n):
            return R["hihat_closed"]
        return None
    if re.search(r"\btom", n):
        if re.search(r"floor|low|\blo\b", n):
            return R["tom_low"]
        if re.search(r"mid|tom 2|\b2\b", n):
            return R["tom_mid"]
        if re.search(r"hi|high|tom 1|\b1\b", n):
            return R["tom_high"]
        return R["tom_mid"]
    if "ride" in n:
        return R["ride"]
    if re.search(r"crash|china|splash|cymbal", n):
        return R["crash"]
    return None


def _load_sample(path: Path) -> np.ndarray | None:
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:
        return None
    x = resample(x.mean(axis=1), int(sr), SR)
    peak = np.max(np.abs(x)) if len(x) else 0
    if peak < 1e-4:
        return None
    start = int(np.argmax(np.abs(x) > 0.03 * peak))
    start = max(0, start - int(0.0005 * SR))  # keep 0.5 ms before the attack
    x = x[start:]
    fade = min(len(x), int(0.01 * SR))
    x[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return x


@dataclass
class Instrument:
    name: str
    volume: float
    layers: list  # (vmin, vmax, gain, samples)


@dataclass
class HydrogenKit:
    name: str
    roles: dict[int, list[Instrument]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> "HydrogenKit":
        text = (folder / "drumkit.xml").read_text(encoding="utf-8", errors="replace")
        text = re.sub(r'\sxmlns(:\w+)?="[^"]*"', "", text)  # drop namespaces
        root = ET.fromstring(text.encode("utf-8"))
        kit = cls(folder.name)
        for inst in root.iter():
            if not inst.tag.endswith("instrument") or inst.tag.endswith("instrumentList"):
                continue
            name = (inst.findtext("name") or "").strip()
            role = role_of(name)
            if role is None:
                continue
            volume = float(inst.findtext("volume") or 1.0)
            layers = []
            for layer in inst.iter("layer"):
                s = _load_sample(folder / (layer.findtext("filename") or ""))
                if s is not None:
                    layers.append((float(layer.findtext("min") or 0), float(layer.findtext("max") or 1),
                                   float(layer.findtext("gain") or 1), s))
            if not layers and inst.findtext("filename"):
                s = _load_sample(folder / inst.findtext("filename"))
                if s is not None:
                    layers.append((0.0, 1.0, 1.0, s))
            if layers:
                kit.roles.setdefault(role, []).append(Instrument(name, volume, layers))
        return kit

    @property
    def usable(self) -> bool:
        return all(r in self.roles for r in (R["kick"], R["snare"], R["hihat_closed"]))


_KITS: list[HydrogenKit] | None = None


def hydrogen_kits() -> list[HydrogenKit]:
    global _KITS
    if _KITS is None:
        kits = []
        for folder in sorted(HYDROGEN_DIR.glob("*/")):
            if (folder / "drumkit.xml").exists():
                kit = HydrogenKit.load(folder)
                if kit.usable:
                    kits.append(kit)
        _KITS = kits
    return _KITS


def _resolve_role(role: int, available) -> int | None:
    """Fallback when a kit lacks a role (e.g. no floor tom): nearest similar role or None."""
    if role in available:
        return role
    fallbacks = {
        R["tom_low"]: [R["tom_mid"], R["tom_high"]], R["tom_mid"]: [R["tom_low"], R["tom_high"]],
        R["tom_high"]: [R["tom_mid"], R["tom_low"]], R["ride"]: [R["crash"]], R["crash"]: [R["ride"]],
        R["hihat_open"]: [], R["hihat_pedal"]: [R["hihat_closed"]],
    }
    for alt in fallbacks.get(role, []):
        if alt in available:
            return alt
    return None


def mixed_kit(kits: list[HydrogenKit], rng) -> HydrogenKit:
    """One kit whose pieces come from different kits (real kits are rarely one sampled set)."""
    mix = HydrogenKit("mixed")
    for role in range(len(ROLES)):
        having = [k for k in kits if role in k.roles]
        if having:
            mix.roles[role] = having[int(rng.integers(len(having)))].roles[role]
    return mix


def _retune(sample: np.ndarray, semitones: float) -> np.ndarray:
    """Pitch a sample by resampling (shorter and higher, or longer and lower, like a retuned drum).

    The factor is rounded to a multiple of 1/21 (about 0.8 semitone) so the polyphase filter stays
    short (22050 = 21 x 1050)."""
    k = int(round((2 ** (semitones / 12) - 1) * 21))
    return resample(sample, SR + k * 1050, SR) if k else sample


def render_hydrogen(kit: HydrogenKit, events, duration: float, rng, tune_toms: float = 0.0) -> tuple[np.ndarray, list]:
    """Render events with a Hydrogen kit. Returns (audio, rendered events with actual roles).

    ``tune_toms``: each tom is retuned by up to this many semitones (a random amount per clip).
    """
    n = int(duration * SR)
    out = np.zeros(n + SR * 4, np.float32)
    choice = {r: insts[int(rng.integers(len(insts)))] for r, insts in kit.roles.items()}
    if tune_toms:
        tuning = {r: float(rng.uniform(-tune_toms, tune_toms)) for r in TOMS}
        retuned: dict[tuple[int, int], np.ndarray] = {}
    gains = {r: 10 ** (rng.uniform(-4, 4) / 20) for r in choice}
    curve = rng.uniform(1.0, 2.0)
    rendered = []
    # hi-hat choke: each hat sound lasts until the next hat event
    hat_times = [t for t, r, _ in events if r in HIHATS]
    for t, role, vel in events:
        role = _resolve_role(role, choice)
        if role is None:
            continue
        inst = choice[role]
        layers = [l for l in inst.layers if l[0] <= vel <= l[1] + 1e-6] or inst.layers
        li = int(rng.integers(len(layers)))
        vmin, vmax, lgain, s = layers[li]
        if tune_toms and role in tuning:
            key = (role, id(s))
            if key not in retuned:
                retuned[key] = _retune(s, tuning[role])
            s = retuned[key]
        amp = (vel**curve) * lgain * inst.volume * gains[role]
        i0 = int(round(t * SR))
        seg = s
        if role in HIHATS:
            nxt = [h for h in hat_times if h > t + 1e-4]
            if nxt:
                L = int((nxt[0] - t) * SR) + int(0.008 * SR)
                if L < len(seg):
                    seg = seg[:L].copy()
                    f = min(len(seg), int(0.008 * SR))
                    seg[-f:] *= np.linspace(1, 0, f, dtype=np.float32)
        seg = seg[: len(out) - i0]
        out[i0 : i0 + len(seg)] += amp * seg
        rendered.append((t, role, vel))
    return out[:n], rendered


def sympathetic_bleed(kit: HydrogenKit, events, duration, rng) -> np.ndarray:
    """Faint cymbal/hat wash and snare-wire buzz excited by kick/snare/tom hits (overhead bleed)."""
    n = int(duration * SR)
    out = np.zeros(n + SR * 4, np.float32)
    cym_roles = [r for r in (R["hihat_closed"], R["hihat_open"], R["ride"], R["crash"]) if r in kit.roles]
    cym = kit.roles[int(rng.choice(cym_roles))][0].layers[0][3]
    snare = kit.roles[R["snare"]][0].layers[-1][3]
    cym_db = rng.uniform(-42, -22)
    sn_db = rng.uniform(-36, -20)
    for t, role, vel in events:
        if role not in (R["kick"], R["snare"], *TOMS):
            continue
        i0 = int(round(t * SR))
        g = vel * 10 ** (cym_db / 20) * rng.uniform(0.5, 1.5)
        seg = cym[: min(len(cym), int(0.3 * SR), len(out) - i0)]
        out[i0 : i0 + len(seg)] += g * seg
        if role != R["snare"]:
            g = vel * 10 ** (sn_db / 20) * rng.uniform(0.5, 1.5)
            seg = snare[: min(len(snare), len(out) - i0)]
            out[i0 : i0 + len(seg)] += g * seg
    sos = sps.butter(2, rng.uniform(2000, 6000), "highpass", fs=SR, output="sos")
    return sps.sosfilt(sos, out[:n]).astype(np.float32)


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


# --------------------------------------------------------------------------- accompaniment
SCALE = [0, 2, 4, 5, 7, 9, 11]


def make_accompaniment(rng, duration: float) -> list[tuple]:
    """MIDI notes (time, dur, channel, program, note, velocity) for a dense band part."""
    tempo = rng.uniform(70, 180)
    beat = 60 / tempo
    key = int(rng.integers(0, 12))
    minor = rng.random() < 0.4
    scale = [0, 2, 3, 5, 7, 8, 10] if minor else SCALE
    prog = [int(d) for d in rng.choice(7, 4)]
    notes = []
    parts = []
    parts.append(("bass", 0, int(rng.choice([32, 33, 34, 35, 38, 39]))))
    parts.append(("guitar", 1, int(rng.choice([29, 30, 30, 29, 27, 25, 26]))))
    if rng.random() < 0.7:
        parts.append(("keys", 2, int(rng.choice([0, 1, 2, 4, 5, 16, 17, 18, 19]))))
    if rng.random() < 0.6:
        parts.append(("pad", 3, int(rng.choice([48, 49, 50, 52, 53, 54, 88, 89, 91, 61]))))
    if rng.random() < 0.7:
        parts.append(("lead", 4, int(rng.choice([52, 53, 54, 56, 65, 66, 71, 73, 80, 81, 85, 29, 30]))))
    if rng.random() < 0.4:
        parts.append(("guitar2", 5, int(rng.choice([27, 28, 29, 30, 24, 25]))))
    t = 0.0
    bar = 4 * beat
    while t < duration:
        for deg in prog:
            if t >= duration:
                break
            root = 36 + key + scale[deg]
            triad = [scale[(deg + k) % 7] + 12 * ((deg + k) // 7) for k in (0, 2, 4)]
            for name, ch, pr in parts:
                if name == "bass":
                    step = beat / rng.choice([1, 2, 2, 4])
                    for k in range(int(bar / step)):
                        if rng.random() < 0.85:
                            n = root + (12 if rng.random() < 0.15 else 0) + (7 if rng.random() < 0.1 else 0)
                            notes.append((t + k * step, step * 0.9, ch, pr, n, int(rng.integers(80, 120))))
                elif name.startswith("guitar"):
                    step = beat / rng.choice([1, 2, 2, 4])
                    chord = [root + 12, root + 19, root + 24] if pr in (29, 30) else [48 + key + x for x in triad]
                    for k in range(int(bar / step)):
                        if rng.random() < 0.8:
                            for j, n in enumerate(chord):
                                notes.append((t + k * step + j * 0.004, step * 0.95, ch, pr, n, int(rng.integers(75, 120))))
                elif name == "keys":
                    step = beat * rng.choice([1, 2, 0.5])
                    for k in range(int(bar / step)):
                        for n in triad:
                            notes.append((t + k * step, step * 0.9, ch, pr, 60 + key + n, int(rng.integers(60, 105))))
                elif name == "pad":
                    for n in triad:
                        notes.append((t, bar, ch, pr, 60 + key + n, int(rng.integers(60, 100))))
                elif name == "lead":
                    tt = t
                    while tt < t + bar:
                        d = beat * rng.choice([0.5, 1, 1, 2])
                        n = 72 + key + scale[int(rng.integers(7))] - (12 if rng.random() < 0.4 else 0)
                        notes.append((tt, d * 0.95, ch, pr, n, int(rng.integers(70, 115))))
                        tt += d
            t += bar
    return [n for n in notes if n[0] < duration - 0.1]


def render_fluidsynth(soundfont: str, clips: list[tuple[float, list]], tmpdir: str) -> list[np.ndarray]:
    """Render several clips with one soundfont load.

    ``clips``: list of (duration, messages) with messages (time, dur, channel, program, note, vel)
    (channel 9 = drums: program selects the kit). Returns float32 mono audio per clip.
    """
    import mido

    gap = 3.0
    tpb = 2000  # tempo 1 s per beat -> 0.5 ms ticks
    mid = mido.MidiFile(ticks_per_beat=tpb)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))
    msgs = []  # (abs_time, order, msg)
    starts = []
    t0 = 0.5
    for duration, notes in clips:
        starts.append(t0)
        progs = {}
        for t, d, ch, pr, note, vel in notes:
            progs.setdefault(ch, pr)
        for ch, pr in progs.items():
            msgs.append((t0 - 0.3, 0, mido.Message("program_change", channel=ch, program=pr)))
            if ch != 9:
                msgs.append((t0 - 0.3, 0, mido.Message("control_change", channel=ch, control=7, value=110)))
        for t, d, ch, pr, note, vel in notes:
            msgs.append((t0 + t, 2, mido.Message("note_on", channel=ch, note=note, velocity=max(1, min(127, vel)))))
            msgs.append((t0 + t + d, 1, mido.Message("note_off", channel=ch, note=note, velocity=0)))
        end = t0 + duration
        for ch in range(16):
            msgs.append((end + 0.01, 1, mido.Message("control_change", channel=ch, control=120, value=0)))
            msgs.append((end + 0.01, 1, mido.Message("control_change", channel=ch, control=123, value=0)))
        t0 = end + gap
    msgs.sort(key=lambda m: (m[0], m[1]))
    last = 0
    for t, _, m in msgs:
        tick = int(round(t * tpb))
        track.append(m.copy(time=max(0, tick - last)))
        last = max(last, tick)
    midi_path = os.path.join(tmpdir, "clips.mid")
    wav_path = os.path.join(tmpdir, "clips.wav")
    mid.save(midi_path)
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-g", "0.4", "-r", str(SR), "-R", "0", "-C", "0", "-O", "float",
         "-T", "wav", "-F", wav_path, soundfont, midi_path],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    audio, sr = sf.read(wav_path, dtype="float32", always_2d=True)
    assert sr == SR
    audio = audio.mean(axis=1)
    out = []
    for (duration, _), s in zip(clips, starts):
        i0 = int(round(s * SR))
        seg = audio[i0 : i0 + int(duration * SR)]
        out.append(np.pad(seg, (0, int(duration * SR) - len(seg))))
    return out


def drum_midi(events, program: int, rng, note_map: dict | None = None, channel: int = 9) -> list[tuple]:
    """MIDI notes for a performance: GM percussion on channel 10, or a kit's own map (AVL)."""
    notes = []
    note_map = note_map or GM_NOTES
    pick = {r: int(rng.choice(note_map[ROLES[r]])) for r in range(len(ROLES))}
    for t, role, vel in events:
        notes.append((t, 0.2, channel, program, pick[role], int(np.clip(vel * 127, 1, 127))))
    return notes


_STRUMS: list[np.ndarray] | None = None


def strum_overdub(rng, duration: float) -> np.ndarray:
    """Acoustic guitar strums on a rhythmic grid, never labelled: sharp broadband chord attacks
    a drum detector must not call snare or hi-hat (empty if the samples are not installed)."""
    global _STRUMS
    if _STRUMS is None:
        files = sorted(STRUMS_DIR.glob("*.flac"))
        _STRUMS = [x for x in (_load_sample(f) for f in files) if x is not None]
    n = int(duration * SR)
    out = np.zeros(n + SR * 4, np.float32)
    if not _STRUMS:
        return out[:n]
    step = 60 / rng.uniform(70, 170) / rng.choice([1, 2, 2, 4])
    chord = _STRUMS[int(rng.integers(len(_STRUMS)))]
    t = rng.uniform(0, step)
    while t < duration:
        if rng.random() < 0.15:
            chord = _STRUMS[int(rng.integers(len(_STRUMS)))]
        if rng.random() < 0.8:
            i0 = int(t * SR)
            seg = chord[: min(len(chord), len(out) - i0, int(rng.uniform(0.3, 2.0) * SR))]
            out[i0 : i0 + len(seg)] += rng.uniform(0.3, 1.0) * seg
        t += step
    return out[:n]


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
