"""Render a synthetic training set: clips -> features (.npy) + onset labels.

    python -m drumscribe.training.dataset --out /work/data/train --clips 1100 --seed 1 --workers 2
    python -m drumscribe.training.dataset --out /work/data/val --clips 120 --seed 2 --workers 2

Each clip ``k`` is ``clip_{k:05d}.npz`` with ``feats`` (frames, n_features) float16, ``onsets``
(n, 3) float32 = (time s, role id, velocity) with role ids from ``render.ROLES``, and ``meta``.
Fully determined by (seed, clip index, --chunk): fluidsynth renders a chunk of clips in one pass, so
its voices depend on the chunk. Write it outside the repository.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from drumscribe.training import accompaniment as ac
from drumscribe.training import render as rd

# the model's outputs, and which rendered role each one is trained on (side stick and "extra"
# percussion are rendered but never labelled); train and calibrate both read labels through this
CLASSES = ["kick", "snare", "hihat_closed", "tom_mid", "crash"]
ROLE_TO_CLASS = {
    rd.R["kick"]: "kick", rd.R["snare"]: "snare",
    rd.R["hihat_closed"]: "hihat_closed", rd.R["hihat_pedal"]: "hihat_closed", rd.R["hihat_open"]: "hihat_closed",
    rd.R["tom_low"]: "tom_mid", rd.R["tom_mid"]: "tom_mid", rd.R["tom_high"]: "tom_mid",
    rd.R["crash"]: "crash", rd.R["ride"]: "crash",
}

# finer outputs (model 2.0): within a detected hi-hat, tom or cymbal, which one it is. Kick and snare
# need none; pedal hats count as closed (a "chick", GM 44 is rarely what a drummer wants written).
FINE_CLASSES = ["hihat_closed", "hihat_open", "tom_high", "tom_mid", "tom_low", "crash", "ride"]
FINE_GROUPS = {"hihat_closed": ["hihat_closed", "hihat_open"], "tom_mid": ["tom_high", "tom_mid", "tom_low"],
               "crash": ["crash", "ride"]}
ROLE_TO_FINE = {
    rd.R["hihat_closed"]: "hihat_closed", rd.R["hihat_pedal"]: "hihat_closed", rd.R["hihat_open"]: "hihat_open",
    rd.R["tom_high"]: "tom_high", rd.R["tom_mid"]: "tom_mid", rd.R["tom_low"]: "tom_low",
    rd.R["crash"]: "crash", rd.R["ride"]: "ride",
}


def clip_files(folders: str) -> list[str]:
    """The clip files of one dataset folder or several (comma-separated), in a stable order."""
    return [f for folder in folders.split(",") for f in sorted(glob.glob(os.path.join(folder, "clip_*.npz")))]


ACCOMP_PROB = 0.45
ACCOMP_DB = (-8.0, 6.0)
PERC_PROB = 0.0  # share of clips with a tambourine/shaker overdub (accompaniment.percussion_overdub)
WHOLE_KIT = False  # the 2.0 sets (``--whole-kit``): AVL kits, mixed and retuned kits, strums, unison toms
KICK_BODY = 0.0  # share of clips whose kicks get a resonant low tail (``--kick-body``, render.kick_body)
ACCOMP_VERSION = 2  # 1: the band parts the 1.0.0 training set used; 2: accompaniment.make_band + singer


def _spec(seed: int, k: int) -> dict:
    rng = np.random.default_rng([seed, k])
    duration = float(rng.uniform(16, 30))
    source = "hydrogen" if rng.random() < 0.65 else "soundfont"
    spec = {"k": k, "duration": duration, "source": source, "rng": rng}
    spec["events"] = rd.make_performance(rng, duration, whole_kit=WHOLE_KIT)
    kits = rd.hydrogen_kits()
    if WHOLE_KIT:  # drawn from their own stream: the earlier sets' draws below stay as they were
        wk = np.random.default_rng([seed, k, 3])
        spec["wk_rng"] = wk
        if wk.random() < 0.3:  # a recorded acoustic kit (AVL)
            source = spec["source"] = "avl"
            spec["avl"] = str(wk.choice(list(rd.AVL_KITS)))
            # a 4-piece kit has one rack tom: call what it plays "high tom"
            spec["events"] = [(t, rd.R["tom_high"] if r == rd.R["tom_mid"] else r, v) for t, r, v in spec["events"]]
        spec["mixed_kit"] = bool(wk.random() < 0.3)
        spec["strums"] = bool(wk.random() < 0.12)
    if source == "hydrogen":
        # electronic kits less often
        names = [kit.name for kit in kits]
        w = np.array([0.4 if ("Electr" in n or "Electro" in n) else 1.0 for n in names])
        spec["kit"] = int(rng.choice(len(kits), p=w / w.sum()))
    else:
        sfname = str(rng.choice(list(rd.SOUNDFONTS), p=[0.45, 0.15, 0.4]))
        spec["soundfont"] = sfname
        spec["program"] = int(rng.choice(rd.SOUNDFONTS[sfname][1]))
    spec["accomp"] = bool(rng.random() < ACCOMP_PROB)
    # drawn from its own stream so that PERC_PROB = 0 renders exactly what earlier sets rendered
    spec["perc"] = bool(np.random.default_rng([seed, k, 1]).random() < PERC_PROB)
    if spec["accomp"]:
        spec["accomp_sf"] = str(rng.choice(list(rd.SOUNDFONTS), p=[0.45, 0.1, 0.45]))
        if ACCOMP_VERSION == 1:
            spec["accomp_notes"], spec["guitar_notes"] = rd.make_accompaniment(rng, duration), []
        else:
            spec["accomp_notes"], spec["guitar_notes"], spec["band"] = ac.make_band(rng, duration)
            spec["vocals"] = bool(rng.random() < 0.6)
        spec["accomp_db"] = float(rng.uniform(*ACCOMP_DB))
    return spec


def _rms_norm(x: np.ndarray) -> np.ndarray:
    return x / (np.sqrt(np.mean(x**2)) + 1e-9)


def _work(args) -> list[str]:
    seed, ks, out, accomp = args
    global ACCOMP_PROB, ACCOMP_DB, ACCOMP_VERSION, PERC_PROB, WHOLE_KIT, KICK_BODY
    ACCOMP_PROB, ACCOMP_DB, ACCOMP_VERSION, PERC_PROB, WHOLE_KIT, KICK_BODY = (
        accomp[0], (accomp[1], accomp[2]), accomp[3], accomp[4], accomp[5], accomp[6])
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from drumscribe.transcription.features import FeatureProcessor

    fp = FeatureProcessor()
    specs = [_spec(seed, k) for k in ks]
    kits = rd.hydrogen_kits()
    drums: dict[int, tuple] = {}
    accomp: dict[int, np.ndarray] = {}
    guitars: dict[int, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sfname, (path, _) in rd.SOUNDFONTS.items():
            dspecs = [s for s in specs if s["source"] == "soundfont" and s["soundfont"] == sfname]
            aspecs = [s for s in specs if s["accomp"] and s["accomp_sf"] == sfname]
            clips = [(s["duration"], rd.drum_midi(s["events"], s["program"], s["rng"])) for s in dspecs]
            clips += [(s["duration"], s["accomp_notes"]) for s in aspecs]
            gspecs = [s for s in aspecs if s["guitar_notes"]]  # rendered apart for the amp simulator
            clips += [(s["duration"], s["guitar_notes"]) for s in gspecs]
            if not clips:
                continue
            audio = rd.render_fluidsynth(path, clips, tmp)
            for s, a in zip(dspecs, audio[: len(dspecs)]):
                drums[s["k"]] = (a, s["events"])
            for s, a in zip(aspecs, audio[len(dspecs) : len(dspecs) + len(aspecs)]):
                accomp[s["k"]] = a
            for s, a in zip(gspecs, audio[len(dspecs) + len(aspecs) :]):
                guitars[s["k"]] = a
        for name, path in rd.AVL_KITS.items():  # one preset on a melodic channel, its own note map
            dspecs = [s for s in specs if s["source"] == "avl" and s["avl"] == name]
            if dspecs:
                clips = [(s["duration"], rd.drum_midi(s["events"], 0, s["rng"], rd.AVL_NOTES, channel=0))
                         for s in dspecs]
                for s, a in zip(dspecs, rd.render_fluidsynth(path, clips, tmp)):
                    drums[s["k"]] = (a, s["events"])
    done = []
    for s in specs:
        rng = s["rng"]
        if s["source"] == "hydrogen":
            kit = kits[s["kit"]]
            if s.get("mixed_kit"):
                kit = rd.mixed_kit(kits, s["wk_rng"])
            x, events = rd.render_hydrogen(kit, s["events"], s["duration"], rng,
                                           tune_toms=4.0 if WHOLE_KIT else 0.0)
            if rng.random() < 0.7:
                x = x + rd.sympathetic_bleed(kit, events, s["duration"], rng) * np.max(np.abs(x))
            if rng.random() < 0.4:
                x = x + rd.beater_click(events, s["duration"], rng) * np.max(np.abs(x))
            src = kit.name
        elif s["source"] == "avl":
            x, events = drums[s["k"]]
            src = s["avl"]
        else:
            x, events = drums[s["k"]]
            src = f"{s['soundfont']}:{s['program']}"
        # its own stream: without --kick-body every earlier set renders exactly as before
        krng = np.random.default_rng([seed, s["k"], 4])
        kick_body = bool(krng.random() < KICK_BODY)
        if kick_body:
            x = x + rd.kick_body(events, s["duration"], krng) * np.max(np.abs(x)) * krng.uniform(0.15, 0.7)
        x = rd.augment_drums(x, rng)
        if s["perc"]:
            prng = np.random.default_rng([seed, s["k"], 2])
            p = ac.percussion_overdub(prng, events, s["duration"])
            x = x + p * np.max(np.abs(x)) * prng.uniform(0.08, 0.5)
        if s.get("strums"):
            x = x + rd.strum_overdub(s["wk_rng"], s["duration"]) * np.max(np.abs(x)) * s["wk_rng"].uniform(0.15, 0.8)
        if s["accomp"] and s["k"] in accomp:
            a = _rms_norm(accomp[s["k"]])
            if s["k"] in guitars:
                a = a + _rms_norm(ac.amp_sim(guitars[s["k"]], rng)) * 10 ** (rng.uniform(-6, 6) / 20)
            if s.get("vocals"):
                a = a + _rms_norm(ac.sing(rng, s["duration"], s["band"])) * 10 ** (rng.uniform(-6, 4) / 20)
            a = _rms_norm(a) * np.sqrt(np.mean(x**2)) * 10 ** (s["accomp_db"] / 20)
            if rng.random() < 0.5:
                a = rd.compress(a, rng)
            x = x + a
        x = rd.master(x, rng)
        feats = fp(x)
        onsets = np.array([(t, r, v) for t, r, v in events], np.float32).reshape(-1, 3)
        meta = {"source": src, "duration": s["duration"], "accomp": s["accomp"], "strums": bool(s.get("strums")),
                "accomp_version": ACCOMP_VERSION, "perc": s["perc"], "kick_body": kick_body,
                "style": s.get("band", {}).get("style")}
        np.savez(out / f"clip_{s['k']:05d}.npz", feats=feats.astype(np.float16), onsets=onsets,
                 meta=json.dumps(meta))
        if os.environ.get("DRUMSCRIBE_KEEP_AUDIO"):
            import soundfile as sf

            sf.write(out / f"clip_{s['k']:05d}.wav", x, rd.SR)
        done.append(s["k"])
    return done


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--clips", type=int, default=1100)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chunk", type=int, default=40)
    p.add_argument("--accomp-prob", type=float, default=ACCOMP_PROB, help="share of clips with accompaniment")
    p.add_argument("--accomp-db", type=float, nargs=2, default=ACCOMP_DB, metavar=("LOW", "HIGH"),
                   help="accompaniment level relative to the drums, dB range")
    p.add_argument("--perc-prob", type=float, default=PERC_PROB,
                   help="share of clips with an unlabelled tambourine/shaker overdub")
    p.add_argument("--accomp-version", type=int, choices=(1, 2), default=ACCOMP_VERSION,
                   help="1: band parts of the 1.0.0 training set; 2: styles with staccato parts, amp, singer")
    p.add_argument("--whole-kit", action="store_true",
                   help="the 2.0 sets: AVL recorded kits, kits mixed from several kits, retuned toms, unlabelled "
                        "guitar strums, unison floor-tom figures and more open hats")
    p.add_argument("--kick-body", type=float, default=KICK_BODY, metavar="SHARE",
                   help="share of clips whose kicks get a resonant low tail, labelled kick only (2.1 sets)")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    ks = [k for k in range(a.start, a.start + a.clips) if not (a.out / f"clip_{k:05d}.npz").exists()]
    accomp = (a.accomp_prob, a.accomp_db[0], a.accomp_db[1], a.accomp_version, a.perc_prob, a.whole_kit, a.kick_body)
    chunks = [(a.seed, ks[i : i + a.chunk], a.out, accomp) for i in range(0, len(ks), a.chunk)]
    t0 = time.time()
    n = 0
    with Pool(a.workers) as pool:
        for done in pool.imap_unordered(_work, chunks):
            n += len(done)
            print(f"{n}/{len(ks)} clips, {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
