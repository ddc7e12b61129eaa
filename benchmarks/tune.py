"""Tuning on a user's corrections, played on the MDB Drums development recordings (read, never copied).

    .venv/bin/python benchmarks/tune.py                      # fine-tuning too when torch is installed
    .venv/bin/python benchmarks/tune.py --no-fine-tune       # numpy only (what CI and most users have)
    .venv/bin/python benchmarks/tune.py --splits songs --json out.json

A user, in a fresh local mirror: every recording (6 drum stems, 2 mixes) is transcribed with the
shipped model; the annotations of the tuning songs are imported as corrections (``edit --import``
of a transcription JSON, subclass labels mapped to drumscribe's instruments as
``benchmarks/accuracy.py`` does); ``tune`` runs (its own leave-one-job-out cross-validation and
gate); the test songs are transcribed again, with the profile when one was adopted, and scored.
In ``songs`` a song's stem and mix are always on the same side, so no test song was heard while tuning.

Two users (``--scenario``):

``songs``
    corrects whole songs and transcribes *other* songs: tune on four songs, test on two, three
    times (every song tested once; ``--splits songs``: leave one song out, six times). The MDB
    songs are different sessions (kits, rooms, players, and annotation habits: three stems
    annotate no hi-hat at all), so this asks whether one session's corrections carry to another.
``halves``
    corrects the first half of every recording and transcribes the second halves, then the other
    way round: the same kit, room and player, later takes of one session, the case tuning is for.

Per split: the cross-validation's verdict, what was adopted, and per class (KD, SD, HH, TT, CY)
F at ±50 ms on the test recordings before and after; then each scenario's splits pooled (every
test recording once) and the mean over splits of the mean F. ``after (ungated)`` is what the kind with the best cross-validated mean F would
have done had the gate let it through: the price or the value of the gate. Tuning time is wall
and CPU seconds of ``tune()`` (this machine is shared: CPU seconds are the steadier figure).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from accuracy import DEFAULT_DATA, SUBCLASS_TO_INSTRUMENT, read_subclass_annotations, tracks  # noqa: E402

EVAL = ("KD", "SD", "HH", "TT", "CY")
CLASS_LABEL = {"KD": "kick", "SD": "snare", "HH": "hihat_closed", "TT": "tom_mid", "CY": "crash"}
USER = "bench"


def recordings(data: Path) -> list[tuple[str, str, Path, Path]]:
    """(song, kind, audio, class annotation) of every development recording."""
    out = []
    for kind, items in tracks(data).items():
        out += [(name, kind, wav, ann) for name, wav, ann in items]
    return out


def annotated_events(ann: Path):
    """The annotations as drumscribe events: subclass labels to instruments, class labels as a fallback."""
    from drumscribe.transcription.instruments import INSTRUMENTS
    from drumscribe.transcription.result import DrumEvent

    rows = read_subclass_annotations(ann)
    if rows is None:
        rows = [(float(p[0]), p[1]) for p in (line.split() for line in ann.read_text().splitlines()) if len(p) >= 2]
        named = [(t, CLASS_LABEL.get(label)) for t, label in rows]
    else:
        named = [(t, SUBCLASS_TO_INSTRUMENT.get(label, "side_stick" if label == "SST" else None)) for t, label in rows]
    return [DrumEvent(round(t, 4), n, INSTRUMENTS[n].note, 100, 1.0) for t, n in named if n is not None]


def reference(ann: Path) -> dict[str, np.ndarray]:
    from accuracy import read_annotations

    return read_annotations(ann)


def estimated(events) -> dict[str, np.ndarray]:
    from accuracy import group_estimates

    return group_estimates(events)


def song_splits(items, how: str) -> list[tuple[str, list, list]]:
    """(label, tuning recordings, test recordings): whole songs on either side."""
    songs = sorted({song for song, _, _, _ in items})
    groups = [[s] for s in songs] if how == "songs" else [list(chunk) for chunk in np.array_split(songs, 3)]
    out = []
    for test in groups:
        label = f"tune on {', '.join(s for s in songs if s not in test)}; test on {', '.join(test)}"
        out.append((label, [i for i in items if i[0] not in test], [i for i in items if i[0] in test]))
    return out


def halves(items, folder: Path) -> tuple[list, list]:
    """Every recording cut in two at its middle (audio and both annotation files, times shifted):
    (first halves, second halves), each as (name, kind, audio, class annotation)."""
    import soundfile as sf

    firsts, seconds = [], []
    for song, kind, wav, ann in items:
        audio, rate = sf.read(wav, always_2d=True)
        middle = len(audio) // 2
        cut = middle / rate
        sub = ann.parent.parent / "subclass" / ann.name.replace("_class", "_subclass")
        for part, (lo, hi, t0) in zip("ab", ((0, middle, 0.0), (middle, len(audio), cut))):
            stem = f"MusicDelta_{song}{part}_{'Drum' if kind == 'drum_only' else 'MIX'}"
            out = folder / "audio" / kind / f"{stem}.wav"
            out.parent.mkdir(parents=True, exist_ok=True)
            sf.write(out, audio[lo:hi], rate, subtype="PCM_16")
            for source, where, suffix in ((ann, "class", "_class"), (sub, "subclass", "_subclass")):
                if not source.exists():
                    continue
                rows = [line.split() for line in source.read_text().splitlines() if len(line.split()) >= 2]
                kept = [f"{float(r[0]) - t0:.6f}\t{r[1]}" for r in rows if lo / rate <= float(r[0]) < hi / rate]
                target = folder / "annotations" / where / f"MusicDelta_{song}{part}{suffix}.txt"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("\n".join(kept) + "\n")
            entry = (f"{song}{part}", kind, out, folder / "annotations" / "class" / f"MusicDelta_{song}{part}_class.txt")
            (firsts if part == "a" else seconds).append(entry)
    return firsts, seconds


def counts(pairs) -> dict:
    from drumscribe.learning.matching import Counts

    out = {c: Counts() for c in EVAL}
    for ref, est in pairs:
        for c in EVAL:
            out[c].add(ref[c], est[c])
    return out


def mean_f(table) -> float:
    return float(np.mean([table[c].f for c in EVAL]))


def ungated(storage, settings, report, test_items, fine_tune: bool):
    """Test-song events of the kind with the best cross-validated mean F, fitted on the tuning jobs."""
    from drumscribe.jobs import profiles
    from drumscribe.learning import examples as ex_mod, finetune, fit
    from drumscribe.learning.tune import gather
    from drumscribe.transcription.network import DEFAULT_MODEL
    from drumscribe.transcription.pipeline import transcribe

    best = max(report.after, key=report.mean_after)
    base = profiles.shipped_model()
    with tempfile.TemporaryDirectory() as tmp:
        examples, _, _ = gather(storage, settings, USER, base, Path(tmp), keep_features=best == fit.FINE_TUNE)
        kinds = fit.fitters(base, examples, finetune.fitter(DEFAULT_MODEL) if fine_tune else None)
        fitted = kinds[best](examples, base)
    if fitted.changes_weights:
        tuned = fitted.model if fitted.model is not None else _with_layers(base, fitted.layers)
    else:
        import copy

        tuned = copy.copy(base)
    tuned.thresholds, tuned.offset = dict(fitted.thresholds), float(fitted.offset)
    return best, {wav: transcribe(str(wav), model=tuned, beats=False).events for _, _, wav, _ in test_items}


def _with_layers(base, layers):
    import copy

    from drumscribe.learning.examples import networks

    model = copy.deepcopy(base)
    for net, (w, b) in zip(networks(model), layers):
        net.layers[-1].weights, net.layers[-1].bias = w, b
    return model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--scenario", choices=("songs", "halves", "both", "all"), default="both",
                   help="all: only tune on every recording (its cross-validation and how long it takes)")
    p.add_argument("--splits", choices=("thirds", "songs"), default="thirds", help="the songs scenario's splits")
    p.add_argument("--fine-tune", action=argparse.BooleanOptionalAction, default=None,
                   help="also try fine-tuning (default: when torch is installed)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for fine-tuning")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    if not (a.data / "audio").is_dir():
        print(f"no development recordings at {a.data}: nothing to measure", file=sys.stderr)
        return 0

    from drumscribe.config import load_settings
    from drumscribe.jobs.edits import import_edit
    from drumscribe.jobs.run import transcribe_and_store
    from drumscribe.learning import finetune
    from drumscribe.learning.tune import tune
    from drumscribe.storage import LocalStorage
    from drumscribe.transcription.result import Transcription

    fine_tune = finetune.available() if a.fine_tune is None else a.fine_tune
    items = recordings(a.data)
    settings = load_settings({"user": USER})
    results = {"fine_tune": fine_tune, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="drumscribe-bench-tune-") as tmp:
        scenarios = {}
        if a.scenario in ("songs", "both"):
            scenarios["songs"] = song_splits(items, a.splits)
        if a.scenario in ("halves", "both"):
            first, second = halves(items, Path(tmp) / "halves")
            scenarios["halves"] = [("tune on the first halves; test on the second halves", first, second),
                                   ("tune on the second halves; test on the first halves", second, first)]
        print(f"{len(items)} recordings ({len({i[0] for i in items})} songs); fine-tuning {'on' if fine_tune else 'off'}\n",
              flush=True)
        if a.scenario == "all":
            results["all"] = tune_on_everything(items, Path(tmp) / "all", settings, fine_tune, a.threads)
        for scenario, splits in scenarios.items():
            recordings_used = {i[2]: i for split in splits for i in split[1] + split[2]}.values()
            template = Path(tmp) / f"template-{scenario}"
            store = LocalStorage(template)
            jobs, before = {}, {}
            for _, _, wav, _ in recordings_used:  # 1. the user transcribes everything with the shipped model
                result, job = transcribe_and_store(wav, storage=store, settings=settings, user_id=USER, beats=False)
                jobs[wav], before[wav] = job.job_id, result.events
            pooled = {"before": [], "after": [], "ungated": []}
            done = []
            print(f"== scenario {scenario}", flush=True)
            for n, (label, tuning, testing) in enumerate(splits, 1):
                mirror = Path(tmp) / f"{scenario}-split{n}"
                shutil.copytree(template, mirror)
                storage = LocalStorage(mirror)
                for name, kind, wav, ann in tuning:  # 2. corrections: the annotations, imported as a transcription JSON
                    doc = Path(tmp) / f"{name}-{kind}.json"
                    doc.write_text(Transcription(events=tuple(annotated_events(ann)), tempo=None).to_json())
                    import_edit(jobs[wav], doc, storage=storage, settings=settings, user=USER)
                t0, c0 = time.perf_counter(), time.process_time()
                report = tune(settings=settings, storage=storage, user=USER, fine_tune=fine_tune, threads=a.threads)
                took, cpu = time.perf_counter() - t0, time.process_time() - c0
                after = {}
                for _, _, wav, _ in testing:  # 3. the test recordings again: with the profile if one was adopted
                    result, _ = transcribe_and_store(wav, storage=storage, settings=settings, user_id=USER, beats=False)
                    assert (result.model.profile is not None) == report.adopted
                    after[wav] = result.events
                best, free = ungated(storage, settings, report, testing, fine_tune)
                refs = {wav: reference(ann) for _, _, wav, ann in testing}
                sources = {"before": before, "after": after, "ungated": free}
                tables = {name: counts([(refs[w], estimated(ev[w])) for w in refs]) for name, ev in sources.items()}
                for name, ev in sources.items():
                    pooled[name] += [(refs[w], estimated(ev[w])) for w in refs]
                print(f"split {n}: {label} ({len(tuning)} jobs, {report.audio_seconds:.0f} s of audio tuned on)")
                print(f"  tune: {took:.0f} s wall, {cpu:.0f} CPU s; cross-validated mean F {report.mean_before:.3f} -> "
                      + ", ".join(f"{k} {report.mean_after(k):.3f}" for k in report.after))
                print(f"  {report.verdict()}")
                print(_table(tables, best), flush=True)
                done.append({"label": label, "report": report.to_dict(), "seconds": took, "cpu_seconds": cpu,
                             "ungated_kind": best, "test": {k: {c: v.as_dict() for c, v in t.items()} for k, t in tables.items()}})
            all_splits = {name: counts(pairs) for name, pairs in pooled.items()}
            print(f"{scenario}: all splits pooled (every test recording once)")
            print(_table(all_splits, "best per split"))
            means = {k: float(np.mean([mean_f({c: _c(d["test"][k][c]) for c in EVAL}) for d in done]))
                     for k in ("before", "after", "ungated")}
            print(f"{scenario}: mean over splits of the mean F: " + ", ".join(f"{k} {v:.3f}" for k, v in means.items()) + "\n")
            results["scenarios"][scenario] = {"splits": done, "pooled": {k: {c: v.as_dict() for c, v in t.items()}
                                                                        for k, t in all_splits.items()},
                                              "mean_over_splits": means}
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))
    return 0


def tune_on_everything(items, folder: Path, settings, fine_tune: bool, threads: int) -> dict:
    """``tune`` on every recording: its leave-one-job-out table, and how long it takes."""
    from drumscribe.jobs.edits import import_edit
    from drumscribe.jobs.run import transcribe_and_store
    from drumscribe.learning.tune import tune
    from drumscribe.storage import LocalStorage
    from drumscribe.transcription.result import Transcription

    storage = LocalStorage(folder)
    for song, kind, wav, ann in items:
        _, job = transcribe_and_store(wav, storage=storage, settings=settings, user_id=USER, beats=False)
        doc = folder / f"{song}-{kind}.json"
        doc.write_text(Transcription(events=tuple(annotated_events(ann)), tempo=None).to_json())
        import_edit(job.job_id, doc, storage=storage, settings=settings, user=USER)
    t0, c0 = time.perf_counter(), time.process_time()
    report = tune(settings=settings, storage=storage, user=USER, fine_tune=fine_tune, threads=threads)
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    print("\n".join(report.lines()))
    print(f"tune on all {len(items)} recordings ({report.audio_seconds:.0f} s of audio): {took:.0f} s wall, {cpu:.0f} CPU s; "
          + ", ".join(f"{k} {v:.0f} s" for k, v in report.seconds.items()))
    return {"report": report.to_dict(), "seconds": took, "cpu_seconds": cpu}


def _c(d):
    from drumscribe.learning.matching import Counts

    return Counts(d["tp"], d["fp"], d["fn"])


def _table(tables, best: str) -> str:
    head = f"  {'':6}" + "".join(f"{c:>8}" for c in EVAL) + f"{'mean':>8}"
    rows = [head]
    for name, label in (("before", "before"), ("after", "after"), ("ungated", f"ungated ({best})")):
        t = tables[name]
        rows.append(f"  {'F':6}" + "".join(f"{t[c].f:>8.3f}" for c in EVAL) + f"{mean_f(t):>8.3f}  {label}")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
