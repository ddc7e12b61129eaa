"""Real recordings as training clips: annotated drum stems and mixes, augmented, in the clip format.

    python -m drumscribe.training.recordings --data ../shared/data/mdb-dev --out /work/data/real \\
        --versions 30 --seed 0

For each track of an annotated set laid out like MDB Drums (``audio/drum_only/*_Drum.wav``,
``audio/full_mix/*_MIX.wav``, ``annotations/subclass/*_subclass.txt``) this writes
``OUT/<track>/clip_*.npz`` exactly as ``training.dataset`` writes synthetic clips (float16
features, onsets (time, role, velocity), meta), one folder per track so that a training run can
leave any track out (cross-validation by track: ``train --real OUT/A,OUT/B,...``).

Each version is the whole track, augmented differently: level, EQ, a room, compression, a small
speed change (pitch and time together, labels scaled with it), noise, and for the mix condition
either the stem under synthetic band accompaniment (``accompaniment.make_band`` through
fluidsynth, an amp simulator and a formant singer, as the synthetic clips get) or the real mix.

Labels: subclass annotations -> render roles. Side stick and tambourine (MDB's SST, TMB) become the
unlabelled roles ``side_stick`` and ``extra``: real hard negatives for snare and hi-hat. Every
annotation is moved ``LABEL_SHIFT`` earlier: MDB marks onsets about 7 ms after the attack these
features see (model card, *Calibration*), and the model is trained on attacks (the shipped offset
adds the 7 ms back at inference).

MDB Drums is CC BY-NC-SA 4.0: its clips are written outside the repository (``--out``) and never
shipped; what a model learns from them is recorded in the model card.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal as sps

from drumscribe.training import accompaniment as ac
from drumscribe.training import render as rd

LABEL_SHIFT = 0.007  # seconds: MDB annotation convention -> attack (the model's offset adds it back)

SUBCLASS_TO_ROLE = {
    "KD": "kick",
    "SD": "snare", "SDB": "snare", "SDD": "snare", "SDF": "snare", "SDG": "snare", "SDNS": "snare",
    "SST": "side_stick",
    "CHH": "hihat_closed", "PHH": "hihat_pedal", "OHH": "hihat_open",
    "HIT": "tom_high", "MHT": "tom_mid", "LMT": "tom_mid", "HFT": "tom_low", "LFT": "tom_low",
    "CRC": "crash", "CHC": "crash", "SPC": "crash", "RDC": "ride", "RDB": "ride",
}  # anything else (TMB, cowbell, clap...) is "extra": heard, never labelled


@dataclass
class Track:
    name: str
    stem: np.ndarray  # mono, render.SR
    mix: np.ndarray | None  # mono, render.SR, when the set has the full mix
    onsets: np.ndarray  # (n, 3): time (attack, s), role id, velocity


def read_onsets(subclass_file: Path, shift: float = LABEL_SHIFT) -> np.ndarray:
    rows = []
    for line in subclass_file.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            role = SUBCLASS_TO_ROLE.get(parts[1], "extra")
            rows.append((max(0.0, float(parts[0]) - shift), rd.R[role], 100.0))
    return np.array(sorted(rows), np.float32).reshape(-1, 3)


def track_names(data: Path) -> list[str]:
    return sorted(p.stem[len("MusicDelta_"):-len("_Drum")]
                  for p in (data / "audio" / "drum_only").glob("MusicDelta_*_Drum.wav"))


def read_track(data: Path, name: str) -> Track:
    from drumscribe.transcription.audio import load  # the product's decoder and resampler

    stem = load(data / "audio" / "drum_only" / f"MusicDelta_{name}_Drum.wav", rd.SR).samples
    mix_path = data / "audio" / "full_mix" / f"MusicDelta_{name}_MIX.wav"
    mix = load(mix_path, rd.SR).samples if mix_path.exists() else None
    onsets = read_onsets(data / "annotations" / "subclass" / f"MusicDelta_{name}_subclass.txt")
    return Track(name, stem.astype(np.float32), None if mix is None else mix.astype(np.float32), onsets)


def change_speed(x: np.ndarray, onsets: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Play ``factor`` times faster (pitch up as with tape): audio resampled, label times divided."""
    from fractions import Fraction

    fr = Fraction(factor).limit_denominator(200)
    y = sps.resample_poly(x, fr.denominator, fr.numerator).astype(np.float32)
    o = onsets.copy()
    o[:, 0] /= factor
    return y, o


def augment(x: np.ndarray, rng) -> np.ndarray:
    """Studio and room variation on a real recording (it already has its own room and bleed)."""
    if rng.random() < 0.5:
        rt60 = rng.uniform(0.2, 1.2)
        wet = sps.fftconvolve(x, rd.room_ir(rng, rt60))[: len(x)].astype(np.float32)
        x = x + rng.uniform(0.03, 0.35) * wet * (np.std(x) / (np.std(wet) + 1e-9))
    if rng.random() < 0.8:
        x = rd.eq(x, rng)
    if rng.random() < 0.5:
        x = rd.compress(x, rng)
    return x.astype(np.float32)


def accompaniment_pool(seed: int, n: int, duration: float = 45.0) -> list[np.ndarray]:
    """``n`` band accompaniments (no drums) of ``duration`` s, rendered as the synthetic clips' are."""
    rng = np.random.default_rng([seed, 9])
    specs = []
    for _ in range(n):
        notes, guitars, band = ac.make_band(rng, duration)
        specs.append({"notes": notes, "guitars": guitars, "band": band,
                      "sf": str(rng.choice(list(rd.SOUNDFONTS), p=[0.45, 0.1, 0.45]))})
    out: list[np.ndarray | None] = [None] * n
    with tempfile.TemporaryDirectory() as tmp:
        for sfname, (path, _) in rd.SOUNDFONTS.items():
            idx = [i for i, s in enumerate(specs) if s["sf"] == sfname]
            if not idx:
                continue
            clips = [(duration, specs[i]["notes"]) for i in idx]
            gidx = [i for i in idx if specs[i]["guitars"]]
            clips += [(duration, specs[i]["guitars"]) for i in gidx]
            audio = rd.render_fluidsynth(path, clips, tmp)
            for i, a in zip(idx, audio[: len(idx)]):
                out[i] = _rms(a)
            for i, g in zip(gidx, audio[len(idx):]):
                out[i] = _rms(out[i] + _rms(ac.amp_sim(g, rng)) * 10 ** (rng.uniform(-6, 6) / 20))
    for i, s in enumerate(specs):
        if rng.random() < 0.6:
            out[i] = _rms(out[i] + _rms(ac.sing(rng, duration, s["band"])) * 10 ** (rng.uniform(-6, 4) / 20))
    return [a.astype(np.float32) for a in out]


def _rms(x: np.ndarray) -> np.ndarray:
    return x / (np.sqrt(np.mean(x**2)) + 1e-9)


def version(track: Track, rng, pool: list[np.ndarray], kind: str) -> tuple[np.ndarray, np.ndarray]:
    """One augmented rendition of a track: ``kind`` is "stem", "stem+band" or "mix"."""
    x = track.mix if kind == "mix" else track.stem
    onsets = track.onsets
    if rng.random() < 0.7:
        x, onsets = change_speed(x, onsets, float(rng.uniform(0.94, 1.06)))
    x = augment(x, rng)
    if kind == "stem+band":
        a = pool[int(rng.integers(len(pool)))]
        start = int(rng.integers(0, max(1, len(a) - len(x))))
        a = a[start: start + len(x)]
        a = np.pad(a, (0, len(x) - len(a)))
        if rng.random() < 0.5:
            a = rd.compress(a, rng)
        x = x + _rms(a) * np.sqrt(np.mean(x**2)) * 10 ** (rng.uniform(-8, 6) / 20)
    x = rd.master(x, rng)
    x = x * 10 ** (rng.uniform(-12, 0) / 20)  # level: the features are log(1 + x)
    return x.astype(np.float32), onsets


def unknown_classes(track: Track) -> list[str]:
    """Classes whose absence in the track's labels proves nothing: hi-hat, where a track annotates
    none at all (MDB's README: some tracks annotate no hi-hat; one is ridden, one has a tambourine,
    and a hat under them may simply not have been marked). No loss for them on that track."""
    hats = {rd.R["hihat_closed"], rd.R["hihat_pedal"], rd.R["hihat_open"]}
    return [] if any(int(r) in hats for r in track.onsets[:, 1]) else ["hihat_closed"]


def write_versions(track: Track, out: Path, versions: int, seed: int, pool: list[np.ndarray], fp) -> int:
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for v in range(versions):
        rng = np.random.default_rng([seed, v, sum(map(ord, track.name))])
        r = rng.random()
        kind = "stem" if r < 0.5 else ("mix" if track.mix is not None and r > 0.8 else "stem+band")
        x, onsets = version(track, rng, pool, kind)
        feats = fp(x)
        meta = {"source": f"mdb:{track.name}", "track": track.name, "real": True, "kind": kind,
                "duration": len(x) / rd.SR, "unknown": unknown_classes(track)}
        np.savez(out / f"clip_{v:05d}.npz", feats=feats.astype(np.float16), onsets=onsets, meta=json.dumps(meta))
        n += 1
    return n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="an annotated set laid out like MDB Drums")
    p.add_argument("--out", required=True, type=Path, help="folder outside the repository")
    p.add_argument("--versions", type=int, default=30, help="augmented renditions per track")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pool", type=int, default=24, help="band accompaniments to draw from")
    p.add_argument("--tracks", default=None, help="comma-separated track names (default: all)")
    a = p.parse_args(argv)
    from drumscribe.transcription.features import FeatureProcessor

    fp = FeatureProcessor()
    t0 = time.time()
    pool = accompaniment_pool(a.seed, a.pool)
    print(f"{len(pool)} accompaniments in {time.time() - t0:.0f}s", flush=True)
    names = a.tracks.split(",") if a.tracks else track_names(a.data)
    for name in names:
        track = read_track(a.data, name)
        n = write_versions(track, a.out / name, a.versions, a.seed, pool, fp)
        print(f"{name}: {n} versions, {len(track.onsets)} onsets, mix: {track.mix is not None}, "
              f"{time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
