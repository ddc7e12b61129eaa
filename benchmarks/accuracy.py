"""Drum-transcription accuracy on the MDB Drums development subset (never shipped, never copied).

    .venv/bin/python benchmarks/accuracy.py                      # packaged model, own path
    .venv/bin/python benchmarks/accuracy.py --pipeline           # through pipeline.transcribe()
    .venv/bin/python benchmarks/accuracy.py --model PATH --offset 0.008 --json out.json

Per class (KD, SD, HH, TT, CY): precision / recall / F at ±50 ms and ±20 ms, true positives,
false positives and misses summed over tracks ("micro") before computing P/R/F; the mean F over
KD/SD/HH and over KD/SD/HH/TT/CY; drum-only stems and full mixes separately; the median timing
offset (estimate - reference) of matched onsets per class. Predicted instruments map to eval
classes with ``INSTRUMENTS[name].eval_class``; OT (side stick, tambourine) is neither scored nor
counted as SD/HH. Matching: ``mir_eval.util.match_events`` (maximum bipartite matching within the
window, the same as ``mir_eval.onset.f_measure``), or an equivalent greedy matcher without mir_eval.
Label quirks of the data (see its README): ride counts as CY; three drum-only tracks annotate no
hi-hat at all, so any hi-hat output there counts as a false positive.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = (REPO / ".." / "shared" / "data" / "mdb-dev").resolve()
CLASSES = ("KD", "SD", "HH", "TT", "CY")
WINDOWS = (0.05, 0.02)


def tracks(data: Path) -> dict[str, list[tuple[str, Path, Path]]]:
    """{'drum_only': [(name, audio, annotation)], 'full_mix': [...]}."""
    out = {}
    for kind, suffix in (("drum_only", "Drum"), ("full_mix", "MIX")):
        items = []
        for wav in sorted((data / "audio" / kind).glob(f"MusicDelta_*_{suffix}.wav")):
            name = wav.stem[len("MusicDelta_") : -len(suffix) - 1]
            ann = data / "annotations" / "class" / f"MusicDelta_{name}_class.txt"
            if ann.exists():
                items.append((name, wav, ann))
        out[kind] = items
    return out


def read_annotations(path: Path) -> dict[str, np.ndarray]:
    ref: dict[str, list[float]] = {c: [] for c in CLASSES}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] in ref:
            ref[parts[1]].append(float(parts[0]))
    return {c: np.sort(np.array(v)) for c, v in ref.items()}


def _match(ref: np.ndarray, est: np.ndarray, window: float) -> list[tuple[int, int]]:
    if len(ref) == 0 or len(est) == 0:
        return []
    try:
        import mir_eval

        return list(mir_eval.util.match_events(ref, est, window))
    except ImportError:  # greedy: closest pairs first
        pairs = [(abs(r - e), i, j) for i, r in enumerate(ref) for j, e in enumerate(est) if abs(r - e) <= window]
        used_r, used_e, out = set(), set(), []
        for _, i, j in sorted(pairs):
            if i not in used_r and j not in used_e:
                used_r.add(i)
                used_e.add(j)
                out.append((i, j))
        return out


def score(per_track: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]) -> dict:
    """per_track: [(reference per class, estimate per class)] -> metrics dict."""
    res: dict = {}
    for w in WINDOWS:
        key = f"{int(round(w * 1000))}ms"
        res[key] = {}
        for c in CLASSES:
            tp = n_ref = n_est = 0
            diffs: list[float] = []
            for ref, est in per_track:
                r, e = ref.get(c, np.zeros(0)), est.get(c, np.zeros(0))
                m = _match(r, e, w)
                tp += len(m)
                n_ref += len(r)
                n_est += len(e)
                diffs += [float(e[j] - r[i]) for i, j in m]
            p = tp / n_est if n_est else (1.0 if n_ref == 0 else 0.0)
            rc = tp / n_ref if n_ref else (1.0 if n_est == 0 else 0.0)
            f = 2 * p * rc / (p + rc) if p + rc else 0.0
            res[key][c] = {"P": p, "R": rc, "F": f, "tp": tp, "fp": n_est - tp, "fn": n_ref - tp,
                           "median_offset_ms": float(np.median(diffs) * 1000) if diffs else None}
        res[key]["mean3"] = float(np.mean([res[key][c]["F"] for c in CLASSES[:3]]))
        res[key]["mean5"] = float(np.mean([res[key][c]["F"] for c in CLASSES]))
    return res


def group_estimates(events) -> dict[str, np.ndarray]:
    """events with .time and .instrument -> {eval class: sorted times} (OT dropped)."""
    from drumscribe.transcription.instruments import INSTRUMENTS

    est: dict[str, list[float]] = {c: [] for c in CLASSES}
    for e in events:
        inst = INSTRUMENTS.get(e.instrument)
        if inst is not None and inst.eval_class in est:
            est[inst.eval_class].append(float(e.time))
    return {c: np.sort(np.array(v)) for c, v in est.items()}


class ModelRunner:
    """features -> network -> peaks, the model's own path (activations cached per track)."""

    def __init__(self, model_path=None):
        from drumscribe.transcription.features import FeatureProcessor
        from drumscribe.transcription.network import load_model

        self.model = load_model(model_path)
        self.features = FeatureProcessor()
        self.cache: dict[Path, np.ndarray] = {}
        self.curves: dict[Path, np.ndarray] = {}  # per-class band curves, for the open/closed hi-hat split
        self.feature_seconds = 0.0
        self.network_seconds = 0.0
        self.audio_seconds = 0.0

    def activations(self, wav: Path) -> np.ndarray:
        if wav not in self.cache:
            from drumscribe.transcription.audio import load
            from drumscribe.transcription.velocity import strength_curves

            x = load(wav, self.model.sample_rate).samples  # the product's decoder
            t = time.perf_counter()
            f = self.features(x)
            t1 = time.perf_counter()
            self.cache[wav] = self.model.activations(f)
            self.network_seconds += time.perf_counter() - t1
            self.curves[wav] = strength_curves(f, self.model.classes)
            self.feature_seconds += t1 - t
            self.audio_seconds += len(x) / self.model.sample_rate
        return self.cache[wav]

    def events(self, wav: Path, thresholds=None, offset=None):
        from drumscribe.transcription import hihat
        from drumscribe.transcription.peaks import detect_onsets
        from drumscribe.transcription.pipeline import note_of

        onsets = detect_onsets(self.activations(wav), self.model, thresholds=thresholds, offset=offset)
        # class names -> instruments, then open or closed hats, exactly as the pipeline plays them
        played = {c: note_of(c)[0] for c in self.model.classes}
        names = hihat.play_open_hats([played[o.instrument] for o in onsets], [o.frame for o in onsets],
                                     self.curves[wav], list(played.values()))
        for o, name in zip(onsets, names):
            o.instrument = name
        return onsets


def read_hihat_kinds(class_annotation: Path) -> tuple[np.ndarray, np.ndarray]:
    """Annotated hi-hat times and whether each is open (subclass OHH vs CHH/PHH), if annotated."""
    sub = class_annotation.parent.parent / "subclass" / class_annotation.name.replace("_class", "_subclass")
    if not sub.exists():
        return np.zeros(0), np.zeros(0, bool)
    rows = [line.split()[:2] for line in sub.read_text().splitlines() if len(line.split()) >= 2]
    rows = sorted((float(t), label == "OHH") for t, label in rows if label in ("CHH", "OHH", "PHH"))
    return np.array([t for t, _ in rows]), np.array([o for _, o in rows], bool)


def hihat_split_counts(items, events) -> dict[str, int]:
    """Detected hi-hats matched (±50 ms) to annotated ones: open/closed called right or wrong."""
    counts = {"open_as_open": 0, "open_as_closed": 0, "closed_as_closed": 0, "closed_as_open": 0}
    for (_, _, ann), evs in zip(items, events):
        ref, ref_open = read_hihat_kinds(ann)
        hats = sorted((float(e.time), e.instrument == "hihat_open") for e in evs if e.instrument.startswith("hihat"))
        est = np.array([t for t, _ in hats])
        for i, j in _match(ref, est, 0.05):
            truth, called = ("open" if ref_open[i] else "closed"), ("open" if hats[j][1] else "closed")
            counts[f"{truth}_as_{called}"] += 1
    return counts


def evaluate(data: Path, events_fn) -> dict:
    out = {}
    for kind, items in tracks(data).items():
        events = [events_fn(wav) for _, wav, _ in items]
        per_track = [(read_annotations(ann), group_estimates(evs)) for (_, _, ann), evs in zip(items, events)]
        out[kind] = score(per_track) | {"tracks": [name for name, _, _ in items]}
        out[kind]["per_track"] = {name: score([pt])["50ms"] for (name, _, _), pt in zip(items, per_track)}
        out[kind]["hihat_open_closed"] = hihat_split_counts(items, events)
    return out


def format_per_track(results: dict) -> str:
    lines = ["\nper track, ±50 ms: F (TP/FP/FN) per class"]
    for kind, res in results.items():
        for name, r in res["per_track"].items():
            cells = "  ".join(f"{c} {r[c]['F']:.2f} ({r[c]['tp']}/{r[c]['fp']}/{r[c]['fn']})" for c in CLASSES)
            lines.append(f"{kind:9} {name:9} {cells}")
    return "\n".join(lines)


def format_table(results: dict) -> str:
    lines = []
    for kind, res in results.items():
        lines.append(f"\n{kind} ({', '.join(res['tracks'])})")
        lines.append(f"{'class':6}" + "".join(f"{'P':>7}{'R':>7}{'F':>7}{'TP':>6}{'FP':>6}{'FN':>6}  |" for _ in WINDOWS)
                     + f"{'med.off ms':>11}")
        lines.append(" " * 6 + "".join(f"{'±' + k:^41}|" for k in (f"{int(w * 1000)} ms" for w in WINDOWS)))
        for c in CLASSES:
            row = f"{c:6}"
            for w in WINDOWS:
                m = res[f"{int(round(w * 1000))}ms"][c]
                row += f"{m['P']:7.3f}{m['R']:7.3f}{m['F']:7.3f}{m['tp']:6d}{m['fp']:6d}{m['fn']:6d}  |"
            off = res["50ms"][c]["median_offset_ms"]
            row += f"{off:11.1f}" if off is not None else f"{'-':>11}"
            lines.append(row)
        for k in ("mean3", "mean5"):
            label = "KD/SD/HH" if k == "mean3" else "5-class"
            lines.append(f"mean F {label}: ±50 ms {res['50ms'][k]:.3f}   ±20 ms {res['20ms'][k]:.3f}")
        h = res.get("hihat_open_closed")
        if h and sum(h.values()):
            lines.append(f"hi-hat open/closed, detected hats matched to annotated ones: open called open "
                         f"{h['open_as_open']}/{h['open_as_open'] + h['open_as_closed']}, closed called closed "
                         f"{h['closed_as_closed']}/{h['closed_as_closed'] + h['closed_as_open']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="MDB dev folder (default %(default)s)")
    p.add_argument("--model", type=Path, default=None, help="model file (default: the packaged model)")
    p.add_argument("--pipeline", action="store_true", help="run drumscribe.transcription.pipeline.transcribe()")
    p.add_argument("--offset", type=float, default=None, help="override the model's offset (seconds)")
    p.add_argument("--thresholds", type=str, default=None, help='override thresholds, JSON {"kick": 0.5, ...}')
    p.add_argument("--json", type=Path, default=None, help="also write the metrics as JSON")
    p.add_argument("--per-track", action="store_true", help="also print per-track figures")
    a = p.parse_args(argv)
    if not (a.data / "audio").is_dir():
        print(f"no MDB dev data at {a.data}; skipping", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    if a.pipeline:
        from drumscribe.transcription.pipeline import transcribe

        def events_fn(wav):
            if a.model is not None:
                return transcribe(wav, model=a.model, beats=False).events
            return transcribe(wav, beats=False).events

        how = f"pipeline.transcribe(beats=False) with {'model ' + str(a.model) if a.model else 'the packaged model'}"
    else:
        runner = ModelRunner(a.model)
        th = json.loads(a.thresholds) if a.thresholds else None

        def events_fn(wav):
            return runner.events(wav, thresholds=th, offset=a.offset)

        m = runner.model
        how = (f"model {m.name} {m.version} classes={m.classes} thresholds={th or m.thresholds} "
               f"offset={a.offset if a.offset is not None else m.offset}")
    results = evaluate(a.data, events_fn)
    print(f"MDB Drums dev, {how}")
    print(format_table(results))
    if a.per_track:
        print(format_per_track(results))
    if not a.pipeline and runner.audio_seconds:
        au = runner.audio_seconds
        print(f"\nspeed over {au:.0f} s of audio (threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}): "
              f"features {au / runner.feature_seconds:.0f}x real time, network {au / runner.network_seconds:.0f}x, "
              f"both {au / (runner.feature_seconds + runner.network_seconds):.0f}x")
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_v, "1")  # one core: the product's speed target
    sys.exit(main())
