"""The sampled sources clips are rendered from: the Hydrogen kits (``HydrogenKit``, a small numpy
sampler with velocity layers, instruments mapped by name, lead silence trimmed so a label sits on
the attack, hi-hat choke), kits mixed and retuned from them, the overhead bleed a kit's hits
excite, the GM and AVL soundfonts' note maps, and the guitar strums mixed in unlabelled.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal as sps

from drumscribe.training.roles import HIHATS, ROLES, SR, TOMS, R
from drumscribe.transcription.audio import resample

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

