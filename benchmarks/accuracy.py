"""Drum-transcription accuracy on the MDB Drums development subset (never shipped, never copied).

    .venv/bin/python benchmarks/accuracy.py                      # packaged model, own path
    .venv/bin/python benchmarks/accuracy.py --pipeline           # through pipeline.transcribe(), beats included
    .venv/bin/python benchmarks/accuracy.py --madmom-downbeats   # + madmom's full downbeat tracker (slow)
    .venv/bin/python benchmarks/accuracy.py --model PATH --offset 0.008 --json out.json

Per class (KD, SD, HH, TT, CY): precision / recall / F at ±50 ms and ±20 ms, true positives,
false positives and misses summed over tracks ("micro") before computing P/R/F; the mean F over
KD/SD/HH and over KD/SD/HH/TT/CY; drum-only stems and full mixes separately; the median timing
offset (estimate - reference) of matched onsets per class. Predicted instruments map to eval
classes with ``INSTRUMENTS[name].eval_class``; OT (side stick, tambourine) is neither scored nor
counted as SD/HH, but the OT hits with a false snare or hi-hat on them are counted ("not snare, not
hi-hat"). Matching: ``mir_eval.util.match_events`` (maximum bipartite matching within the
window, the same as ``mir_eval.onset.f_measure``), or an equivalent greedy matcher without mir_eval.
Label quirks of the data (see its README): ride counts as CY; three drum-only tracks annotate no
hi-hat at all, so any hi-hat output there counts as a false positive.

Rhythm: beat and downbeat F-measure (``mir_eval.beat.f_measure``: ±70 ms, no trimming of the first
5 s, the tracks are short) against ``annotations/beats`` (one file per song, beats numbered 1-4;
1 = downbeat), the mean over tracks, and the median offset of matched beats (estimate - annotation).
``--madmom-downbeats`` adds madmom's full downbeat tracker (RNNDownBeatProcessor, 8 BLSTMs, and
DBNDownBeatTrackingProcessor, 3/4 or 4/4) on the same tracks for comparison, with its CPU time.
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
# every instrument drumscribe writes, scored against the subclass annotations (pedal hats count as
# closed; china and splash as crash; ride bell as ride; LFT and HFT are both the floor tom)
INSTRUMENT_CLASSES = ("kick", "snare", "hihat_closed", "hihat_open", "tom_high", "tom_mid", "tom_low", "crash", "ride")
SUBCLASS_TO_INSTRUMENT = {
    "KD": "kick", "SD": "snare", "SDB": "snare", "SDD": "snare", "SDF": "snare", "SDG": "snare", "SDNS": "snare",
    "CHH": "hihat_closed", "PHH": "hihat_closed", "OHH": "hihat_open",
    "HIT": "tom_high", "MHT": "tom_mid", "LMT": "tom_mid", "HFT": "tom_low", "LFT": "tom_low",
    "CRC": "crash", "CHC": "crash", "SPC": "crash", "RDC": "ride", "RDB": "ride",
}
PLAYED_AS = {"hihat_pedal": "hihat_closed"}


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


def read_beats(data: Path, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(beat times, downbeat times) annotated for a song, or None."""
    path = data / "annotations" / "beats" / f"MusicDelta_{name}_MIX.beats"
    if not path.exists():
        return None
    rows = np.loadtxt(path, ndmin=2)
    return rows[:, 0], rows[rows[:, 1] == 1, 0]


def _beat_f(ref: np.ndarray, est) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(ref, np.asarray(est, float)))


def rhythm_scores(items, data: Path, estimates) -> dict | None:
    """Mean beat / downbeat F over the tracks that have beat annotations, per track, median offset."""
    try:
        import mir_eval
    except ImportError:
        return None
    per_track, offsets = {}, []
    for (name, _, _), est in zip(items, estimates):
        ref = read_beats(data, name)
        if ref is None or est is None:
            continue
        beats, downbeats = est
        per_track[name] = {"beat_F": _beat_f(ref[0], beats), "downbeat_F": _beat_f(ref[1], downbeats)}
        b = np.asarray(beats, float)
        offsets += [float(b[j] - ref[0][i]) for i, j in mir_eval.util.match_events(ref[0], b, 0.07)] if len(b) else []
    if not per_track:
        return None
    return {
        "beat_F": float(np.mean([t["beat_F"] for t in per_track.values()])),
        "downbeat_F": float(np.mean([t["downbeat_F"] for t in per_track.values()])),
        "median_beat_offset_ms": float(np.median(offsets) * 1000) if offsets else None,
        "per_track": per_track,
    }


class MadmomDownbeats:
    """madmom's full downbeat tracker, for comparison: 8 BLSTMs + the bar-pointer DBN (3/4 or 4/4)."""

    def __init__(self):
        from drumscribe._madmom import madmom  # noqa: F401  (before any madmom.* import)
        from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

        self.rnn = RNNDownBeatProcessor()
        self.dbn = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)
        self.cpu_seconds = 0.0

    def __call__(self, wav: Path):
        from drumscribe.transcription.audio import load

        x = load(wav, 44100).samples
        t = time.process_time()
        found = self.dbn(self.rnn(x))
        self.cpu_seconds += time.process_time() - t
        return found[:, 0], found[found[:, 1] == 1, 0]


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


def read_subclass_annotations(class_annotation: Path) -> list[tuple[float, str]] | None:
    """(time, subclass label) rows of the subclass annotations beside a class annotation, if any."""
    sub = class_annotation.parent.parent / "subclass" / class_annotation.name.replace("_class", "_subclass")
    if not sub.exists():
        return None
    rows = [line.split() for line in sub.read_text().splitlines()]
    return [(float(r[0]), r[1]) for r in rows if len(r) >= 2]


def read_instrument_annotations(class_annotation: Path) -> dict[str, np.ndarray] | None:
    """Annotated times per instrument (``INSTRUMENT_CLASSES``) from the subclass annotations, if any."""
    rows = read_subclass_annotations(class_annotation)
    if rows is None:
        return None
    ref: dict[str, list[float]] = {c: [] for c in INSTRUMENT_CLASSES}
    for t, label in rows:
        if label in SUBCLASS_TO_INSTRUMENT:
            ref[SUBCLASS_TO_INSTRUMENT[label]].append(t)
    return {c: np.sort(np.array(v)) for c, v in ref.items()}


def instrument_estimates(events) -> dict[str, np.ndarray]:
    est: dict[str, list[float]] = {c: [] for c in INSTRUMENT_CLASSES}
    for e in events:
        name = PLAYED_AS.get(e.instrument, e.instrument)
        if name in est:
            est[name].append(float(e.time))
    return {c: np.sort(np.array(v)) for c, v in est.items()}


def score(per_track: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]], classes=CLASSES) -> dict:
    """per_track: [(reference per class, estimate per class)] -> metrics dict."""
    res: dict = {}
    for w in WINDOWS:
        key = f"{int(round(w * 1000))}ms"
        res[key] = {}
        for c in classes:
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
        if tuple(classes) == CLASSES:
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
        self.fine: dict[Path, np.ndarray] = {}  # the finer outputs (which hat, tom, cymbal), if the model has them
        self.curves: dict[Path, np.ndarray] = {}  # per-class band curves, for the open/closed hi-hat split
        self.feature_seconds = 0.0
        self.network_seconds = 0.0
        self.beat_seconds = 0.0
        self.audio_seconds = 0.0

    def activations(self, wav: Path) -> np.ndarray:
        if wav not in self.cache:
            from drumscribe.transcription.audio import load
            from drumscribe.transcription.velocity import strength_curves

            x = load(wav, self.model.sample_rate).samples  # the product's decoder
            t = time.perf_counter()
            f = self.features(x)
            t1 = time.perf_counter()
            out = self.model.all_activations(f)
            n = len(self.model.classes)
            self.cache[wav], self.fine[wav] = out[:, :n], out[:, n:]
            self.network_seconds += time.perf_counter() - t1
            self.curves[wav] = strength_curves(f, self.model.classes)
            self.feature_seconds += t1 - t
            self.audio_seconds += len(x) / self.model.sample_rate
        return self.cache[wav]

    def rhythm(self, wav: Path):
        """(beats, downbeats) from the activations, as the pipeline finds them."""
        from drumscribe.transcription import beats

        m = self.model
        t = time.process_time()
        found = beats.analyse(self.activations(wav), m.classes, fps=m.fps, offset=m.offset)
        self.beat_seconds += time.process_time() - t
        return found.beats, found.downbeats

    def events(self, wav: Path, thresholds=None, offset=None):
        from drumscribe.transcription import subclass
        from drumscribe.transcription.peaks import detect_onsets
        from drumscribe.transcription.pipeline import note_of

        onsets = detect_onsets(self.activations(wav), self.model, thresholds=thresholds, offset=offset)
        # class names -> instruments (finer outputs, open or closed hats), exactly as the pipeline plays them
        played = {c: note_of(c)[0] for c in self.model.classes}
        names = subclass.play([o.instrument for o in onsets], [o.frame for o in onsets], self.fine[wav],
                              self.curves[wav], self.model, played)
        for o, name in zip(onsets, names):
            o.instrument = name
        return onsets


def read_hihat_kinds(class_annotation: Path) -> tuple[np.ndarray, np.ndarray]:
    """Annotated hi-hat times and whether each is open (subclass OHH vs CHH/PHH), if annotated."""
    ref = read_instrument_annotations(class_annotation)
    if ref is None:
        return np.zeros(0), np.zeros(0, bool)
    rows = sorted([(t, False) for t in ref["hihat_closed"]] + [(t, True) for t in ref["hihat_open"]])
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


# percussion the annotations mark OT (unscored): issue 11 wants it "not snare, not hi-hat"
OTHER_PERCUSSION = {"SST": "side stick", "TMB": "tambourine"}


def other_percussion_counts(items, events) -> dict[str, dict[str, int]]:
    """Annotated side-stick and tambourine hits with a *false* snare or hi-hat on them: an SD or HH
    estimate within ±50 ms that matches no SD/HH annotation (a hat played with the side stick and
    found is not counted against it)."""
    counts = {name: {"annotated": 0, "SD": 0, "HH": 0} for name in OTHER_PERCUSSION.values()}
    for (_, _, ann), evs in zip(items, events):
        rows = read_subclass_annotations(ann)
        if rows is None:
            continue
        ref, est = read_annotations(ann), group_estimates(evs)
        false = {}
        for c in ("SD", "HH"):
            matched = {j for _, j in _match(ref[c], est[c], 0.05)}
            false[c] = np.array([t for j, t in enumerate(est[c]) if j not in matched])
        for code, name in OTHER_PERCUSSION.items():
            hits = np.array(sorted(t for t, label in rows if label == code))
            counts[name]["annotated"] += len(hits)
            for c in ("SD", "HH"):
                counts[name][c] += len(_match(hits, false[c], 0.05))
    return counts


def evaluate(data: Path, events_fn, rhythm_fns: dict | None = None) -> dict:
    """``rhythm_fns``: {label: wav -> (beats, downbeats)}, each scored against the beat annotations."""
    out = {}
    for kind, items in tracks(data).items():
        events = [events_fn(wav) for _, wav, _ in items]
        per_track = [(read_annotations(ann), group_estimates(evs)) for (_, _, ann), evs in zip(items, events)]
        out[kind] = score(per_track) | {"tracks": [name for name, _, _ in items]}
        out[kind]["per_track"] = {name: score([pt])["50ms"] for (name, _, _), pt in zip(items, per_track)}
        out[kind]["hihat_open_closed"] = hihat_split_counts(items, events)
        out[kind]["other_percussion"] = other_percussion_counts(items, events)
        inst = [(read_instrument_annotations(ann), instrument_estimates(evs)) for (_, _, ann), evs in zip(items, events)]
        inst = [pair for pair in inst if pair[0] is not None]
        if inst:
            out[kind]["instruments"] = score(inst, INSTRUMENT_CLASSES)
        out[kind]["rhythm"] = {}
        for label, fn in (rhythm_fns or {}).items():
            scores = rhythm_scores(items, data, [fn(wav) for _, wav, _ in items])
            if scores is not None:
                out[kind]["rhythm"][label] = scores
    return out


def output_classes_of(model) -> dict[str, list[str]]:
    """Eval class -> the instruments the model plays into it (its finer names; 1.x: hi-hat closed, and
    open by the ringing rule)."""
    from drumscribe.transcription.instruments import INSTRUMENTS
    from drumscribe.transcription.pipeline import note_of

    out: dict[str, list[str]] = {c: [] for c in CLASSES}
    groups = dict(getattr(model, "fine_groups", {}) or {})
    for c in model.classes:
        name = note_of(c)[0]
        names = groups.get(c) or ([name, "hihat_open"] if name == "hihat_closed" else [name])
        for played in names:
            ec = INSTRUMENTS[played].eval_class
            if ec in out and played not in out[ec]:
                out[ec].append(played)
    return out


def format_per_track(results: dict) -> str:
    lines = ["\nper track, ±50 ms: F (TP/FP/FN) per class"]
    for kind, res in results.items():
        for name, r in res["per_track"].items():
            cells = "  ".join(f"{c} {r[c]['F']:.2f} ({r[c]['tp']}/{r[c]['fp']}/{r[c]['fn']})" for c in CLASSES)
            lines.append(f"{kind:9} {name:9} {cells}")
    return "\n".join(lines)


def format_table(results: dict, outputs: dict[str, list[str]] | None = None) -> str:
    lines = []
    if outputs:
        lines.append("\noutput classes: " + "; ".join(f"{c} = {' + '.join(v) or '(none)'}" for c, v in outputs.items()))
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
        for label, r in res.get("rhythm", {}).items():
            off = r["median_beat_offset_ms"]
            lines.append(f"rhythm, {label}: beat F {r['beat_F']:.3f}   downbeat F {r['downbeat_F']:.3f}   "
                         f"median beat offset {off:+.1f} ms" if off is not None else f"rhythm, {label}: no beats")
            lines.append("  per track (beat F / downbeat F): " + "  ".join(
                f"{n} {t['beat_F']:.2f}/{t['downbeat_F']:.2f}" for n, t in r["per_track"].items()))
        if "instruments" in res:
            lines.append("per instrument (subclass annotations; a class the tracks never annotate scores 0 as soon "
                         "as it is played once):")
            for c in INSTRUMENT_CLASSES:
                row = f"{c:13}"
                for w in WINDOWS:
                    m = res["instruments"][f"{int(round(w * 1000))}ms"][c]
                    row += f"{m['P']:7.3f}{m['R']:7.3f}{m['F']:7.3f}{m['tp']:6d}{m['fp']:6d}{m['fn']:6d}  |"
                lines.append(row)
        h = res.get("hihat_open_closed")
        if h and sum(h.values()):
            lines.append(f"hi-hat open/closed, detected hats matched to annotated ones: open called open "
                         f"{h['open_as_open']}/{h['open_as_open'] + h['open_as_closed']}, closed called closed "
                         f"{h['closed_as_closed']}/{h['closed_as_closed'] + h['closed_as_open']}")
        others = [(name, o) for name, o in res.get("other_percussion", {}).items() if o["annotated"]]
        if others:
            lines.append("not snare, not hi-hat (unscored OT hits with a false SD / HH on them): " + "; ".join(
                f"{name} {o['annotated']} annotated, {o['SD']} false snare, {o['HH']} false hi-hat" for name, o in others))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="MDB dev folder (default %(default)s)")
    p.add_argument("--model", type=Path, default=None, help="model file (default: the packaged model)")
    p.add_argument("--pipeline", action="store_true", help="run drumscribe.transcription.pipeline.transcribe()")
    p.add_argument("--offset", type=float, default=None, help="override the model's offset (seconds)")
    p.add_argument("--thresholds", type=str, default=None, help='override thresholds, JSON {"kick": 0.5, ...}')
    p.add_argument("--json", type=Path, default=None, help="also write the metrics as JSON")
    p.add_argument("--open-hat", choices=("rule", "learnt"), default=None,
                   help="override what names open hats (a model with an open-hat output): the 80 ms rule or the network")
    p.add_argument("--per-track", action="store_true", help="also print per-track figures")
    p.add_argument("--cv", type=Path, default=None,
                   help="cross-validation: a folder of model files named after the track each one never saw "
                        "(<Track>.npz, from training.crossval export); every track is scored with its own")
    p.add_argument("--no-beats", action="store_true", help="skip the beat and downbeat figures")
    p.add_argument("--madmom-downbeats", action="store_true",
                   help="also score madmom's full downbeat tracker (8 BLSTMs + DBN; slow) for comparison")
    a = p.parse_args(argv)
    if not (a.data / "audio").is_dir():
        print(f"no MDB dev data at {a.data}; skipping", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    rhythm_fns: dict = {}
    if a.pipeline:
        from drumscribe.transcription.pipeline import transcribe

        done: dict = {}

        def run(wav):
            if wav not in done:
                done[wav] = transcribe(wav, model=a.model, beats=not a.no_beats)
            return done[wav]

        def events_fn(wav):
            return run(wav).events

        if not a.no_beats:
            rhythm_fns["drumscribe"] = lambda wav: (run(wav).beats, run(wav).downbeats)

        how = (f"pipeline.transcribe(beats={not a.no_beats}) with "
               f"{'model ' + str(a.model) if a.model else 'the packaged model'}")
    elif a.cv:
        runners: dict[str, ModelRunner] = {}

        def fold_runner(wav: Path) -> ModelRunner:
            name = wav.stem.split("_")[1]  # MusicDelta_<Track>_Drum / _MIX: the stem and the mix share a fold
            if name not in runners:
                path = a.cv / f"{name}.npz"
                if not path.exists():
                    raise SystemExit(f"--cv: no model for track {name} ({path})")
                runners[name] = ModelRunner(path)
            return runners[name]

        th = json.loads(a.thresholds) if a.thresholds else None

        def events_fn(wav):
            return fold_runner(wav).events(wav, thresholds=th, offset=a.offset)

        if not a.no_beats:
            rhythm_fns["drumscribe"] = lambda wav: fold_runner(wav).rhythm(wav)
        how = f"cross-validation by track: each track scored by {a.cv}/<track>.npz, which never trained on it"
        runner = None
    else:
        runner = ModelRunner(a.model)
        if a.open_hat:
            runner.model.open_hat = a.open_hat
        th = json.loads(a.thresholds) if a.thresholds else None

        def events_fn(wav):
            return runner.events(wav, thresholds=th, offset=a.offset)

        if not a.no_beats:
            rhythm_fns["drumscribe"] = runner.rhythm

        m = runner.model
        how = (f"model {m.name} {m.version} classes={m.classes} thresholds={th or m.thresholds} "
               f"offset={a.offset if a.offset is not None else m.offset}")
    madmom_ref = MadmomDownbeats() if a.madmom_downbeats else None
    if madmom_ref is not None:
        rhythm_fns["madmom RNNDownBeatProcessor + DBNDownBeatTrackingProcessor"] = madmom_ref
    results = evaluate(a.data, events_fn, rhythm_fns)
    print(f"MDB Drums dev, {how}")
    from drumscribe.transcription.pipeline import get_model

    print(format_table(results, output_classes_of(get_model(a.model) if not a.cv else next(iter(runners.values())).model)))
    if a.per_track:
        print(format_per_track(results))
    if not a.pipeline and runner is not None and runner.audio_seconds:
        au = runner.audio_seconds
        print(f"\nspeed over {au:.0f} s of audio (threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}): "
              f"features {au / runner.feature_seconds:.0f}x real time, network {au / runner.network_seconds:.0f}x, "
              f"both {au / (runner.feature_seconds + runner.network_seconds):.0f}x"
              + (f", beats and downbeats {au / runner.beat_seconds:.0f}x (CPU)" if runner.beat_seconds else ""))
    if madmom_ref is not None and madmom_ref.cpu_seconds:
        import soundfile as sf

        au = sum(sf.info(str(w)).duration for items in tracks(a.data).values() for _, w, _ in items)
        print(f"madmom's full downbeat tracker: {au / madmom_ref.cpu_seconds:.1f}x real time (CPU, drum-only and mixes)")
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_v, "1")  # one core: the product's speed target
    sys.exit(main())
