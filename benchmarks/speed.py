"""Transcription speed, per stage, on ONE core; a batch row on all cores; peak memory (--long).

    .venv/bin/python benchmarks/speed.py            # 5 min of synthesized drums (+ a dev track if present)
    .venv/bin/python benchmarks/speed.py --long     # also: peak RSS transcribing a 60-minute file

Speed is seconds of audio per second of wall time ("x real time"). The drum path is
file -> decode -> resample -> features -> network -> peaks -> velocity -> MIDI; beat tracking
(madmom's BLSTM + DBN) is reported on its own row because it costs more than everything else.
No external data is needed: the audio is synthesized (kick, snare, hats on a 120 BPM groove).
"""

from __future__ import annotations

import os

# one core for the single-core rows: set before numpy (and its BLAS) is imported
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = REPO.parent / "shared" / "data" / "mdb-dev"
SR = 44100
STAGES = ("decode", "resample", "features", "network", "peaks", "velocity", "midi")


def synth_drums(seconds: float, seed: int = 0) -> np.ndarray:
    """A groove with varied velocities: kick, snare, closed hats (8ths), every 4th bar a fill."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n + SR, np.float32)
    t = np.arange(int(0.35 * SR)) / SR
    kick = (np.sin(2 * np.pi * np.cumsum(60 + 60 * np.exp(-t / 0.02)) / SR) * np.exp(-t / 0.12)).astype(np.float32)
    ts = np.arange(int(0.25 * SR)) / SR
    hat_t = np.arange(int(0.08 * SR)) / SR
    beat = 0.5
    for bar_start in np.arange(0.25, seconds - 2.0, 4 * beat):
        hits = [(0, "k"), (1, "s"), (2, "k"), (3, "s")] + [(e / 2, "h") for e in range(8)]
        if rng.random() < 0.25:
            hits += [(3.5, "s"), (3.75, "s")]
        for pos, kind in hits:
            i = int((bar_start + pos * beat + rng.normal(0, 0.004)) * SR)
            gain = float(rng.uniform(0.5, 1.0))
            if kind == "k":
                sound = kick
            elif kind == "s":
                sound = (0.5 * rng.uniform(-1, 1, len(ts)) * np.exp(-ts / 0.06) + 0.5 * np.sin(2 * np.pi * 200 * ts) * np.exp(-ts / 0.05)).astype(np.float32)
            else:
                noise = np.diff(rng.uniform(-1, 1, len(hat_t) + 1))  # first difference: a crude high-pass
                sound = (0.3 * noise * np.exp(-hat_t / 0.02)).astype(np.float32)
            out[i : i + len(sound)] += gain * sound
    out = out[:n]
    return out / max(1.0, float(np.abs(out).max()) / 0.9)


def write_wav(path: Path, seconds: float) -> Path:
    sf.write(path, synth_drums(seconds), SR, subtype="PCM_16")
    return path


def run_once(path: str, beats: bool, model_path: str | None = None) -> dict[str, float]:
    """One transcription with per-stage timings; 'total' is the whole file -> MIDI path."""
    from drumscribe.transcription.pipeline import get_model, transcribe

    get_model(model_path)  # load outside the timing
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    result = transcribe(path, model=model_path, beats=beats, timings=timings)
    t1 = time.perf_counter()
    result.to_midi()
    timings["midi"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    timings["duration"] = result.duration
    timings["events"] = len(result.events)
    return timings


def _batch_job(args):
    path, model_path = args
    from drumscribe.transcription.pipeline import transcribe

    return transcribe(path, model=model_path, beats=False).duration


def batch(path: str, workers: int, model_path: str | None) -> tuple[float, float]:
    """(audio seconds, wall seconds) for 2 x workers files on ``workers`` processes, one thread each."""
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_batch_job, [(path, model_path)] * workers))  # warm up: imports + model load
        t0 = time.perf_counter()
        total = sum(pool.map(_batch_job, [(path, model_path)] * (2 * workers)))
        return total, time.perf_counter() - t0


def table(title: str, timings: dict[str, float], beats: dict[str, float] | None) -> None:
    d = timings["duration"]
    print(f"\n{title}: {d:.1f} s of audio, {int(timings['events'])} events")
    print(f"  {'stage':<12}{'seconds':>10}{'x real time':>14}")
    drum_total = 0.0
    for stage in STAGES:
        s = timings.get(stage, 0.0)
        drum_total += s
        print(f"  {stage:<12}{s:>10.3f}{(d / s if s > 0 else float('inf')):>14.0f}")
    total = timings["total"]
    print(f"  {'drum path':<12}{total:>10.3f}{d / total:>14.0f}   (file -> MIDI, stages above + overhead)")
    if beats is not None:
        print(f"  {'beats':<12}{beats['beats']:>10.3f}{d / beats['beats']:>14.0f}   (madmom BLSTM + DBN, on top)")
        print(f"  {'with beats':<12}{beats['total']:>10.3f}{d / beats['total']:>14.0f}")


def long_mode(minutes: int, model_path: str | None) -> None:
    """Peak RSS of a separate process transcribing a generated ``minutes``-long file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        piece = synth_drums(300.0, seed=1)
        with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16") as fh:  # written in pieces: no hour in memory
            for _ in range(int(np.ceil(minutes / 5))):
                fh.write(piece)
        code = (
            "import os,sys,time,resource;"
            "from drumscribe.transcription.pipeline import transcribe;"
            "t=time.perf_counter();r=transcribe(sys.argv[1],model=(sys.argv[2] or None));r.to_midi();"
            "print(f'{r.duration:.0f} s audio, {len(r.events)} events, {len(r.beats)} beats, {time.perf_counter()-t:.1f} s wall');"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"  # Linux: kilobytes
        )
        proc = subprocess.run([sys.executable, "-c", code, str(path), model_path or ""], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed", file=sys.stderr)
            raise SystemExit(1)
        summary, peak_kb = proc.stdout.strip().splitlines()[-2:]
        print(f"\n{minutes}-minute file with beats, one process: {summary}")
        print(f"  peak RSS {int(peak_kb) / 1024:.0f} MB (budget 1536 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the synthesized track")
    parser.add_argument("--model", default=None, help="model file (default: the packaged model)")
    parser.add_argument("--long", action="store_true", help="also measure peak RSS on a 60-minute file")
    parser.add_argument("--minutes", type=int, default=60, help="length of the --long file")
    parser.add_argument("--no-batch", action="store_true", help="skip the all-cores batch row")
    args = parser.parse_args()

    from drumscribe.transcription.pipeline import get_model

    model = get_model(args.model)
    print(f"model {model.name} {model.version}; one thread per process; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(write_wav(Path(tmp) / "synth.wav", args.seconds))
        drums = run_once(path, beats=False, model_path=args.model)
        with_beats = run_once(path, beats=True, model_path=args.model)
        table("synthesized drums", drums, with_beats)
        dev = sorted((DEV_DATA / "audio" / "drum_only").glob("*.wav")) if DEV_DATA.is_dir() else []
        if dev:
            longest = max(dev, key=lambda p: sf.info(p).frames)
            table(f"dev track {longest.name}", run_once(str(longest), False, args.model), run_once(str(longest), True, args.model))
        if not args.no_batch and (os.cpu_count() or 1) > 1:
            workers = os.cpu_count() or 1
            audio_s, wall = batch(path, workers, args.model)
            print(f"\nbatch, {workers} processes x 1 thread, drum path: {audio_s:.0f} s of audio in {wall:.1f} s = {audio_s / wall:.0f}x real time")
    if args.long:
        long_mode(args.minutes, args.model)


if __name__ == "__main__":
    main()
