"""``tune()``: a user's corrected jobs in, a profile (or the reason there is none) out.

1. the user's edited jobs (``jobs.edits.edited_jobs``) and their stored originals; fewer than
   ``MIN_JOBS`` usable ones is a one-line ``NotEnoughCorrections`` saying how many more to correct;
2. per job, once: features, the shipped networks' penultimate and detection activations, and the
   corrected onsets per class (``examples.build``);
3. leave-one-job-out cross-validation of every kind of fit that applies (``fit.py``: thresholds
   and offset; the last layer; with torch, fine-tuning): per class P/R/F before and after on the
   held-out jobs;
4. the gate (``fit.choose``): the best kind whose mean F rises with no class of 20 or more corrected
   hits losing more than 0.01; it is fitted again on every job and stored as the user's profile
   (``jobs.profiles``). When no kind passes, the user's profile is removed: the held-out jobs say
   the shipped model does at least as well;
5. the report is stored either way (``models/{user}/last-tune.json``) for ``tune --status``.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from drumscribe import __version__, keys
from drumscribe.config import Settings
from drumscribe.errors import DrumscribeError, InputError
from drumscribe.jobs import profiles
from drumscribe.learning import examples as ex_mod
from drumscribe.learning import fit
from drumscribe.learning.matching import Counts, mean_f

MIN_JOBS = 3
MAX_JOBS = 40  # the newest corrected jobs one tuning reads; the last layer's nested folds grow with them
MAX_SECONDS = 60 * 60  # and at most this much audio (memory: ~0.45 GB of activations per hour)
KIND_NAMES = {fit.THRESHOLDS: "thresholds and offset", fit.LAST_LAYER: "last layer refitted",
              fit.FINE_TUNE: "fine-tuned networks", fit.DEFAULTS: "shipped model"}


class NotEnoughCorrections(InputError):
    """Fewer corrected jobs than tuning needs."""


@dataclass
class TuneReport:
    """What one ``tune`` did: the cross-validation table, the choice, and whether a profile was stored."""

    user: str
    based_on: str
    classes: list[str]
    jobs: list[str]
    skipped: dict[str, str]  # job id -> why it could not be used
    hits: dict[str, int]
    audio_seconds: float
    before: dict[str, dict]  # class -> Counts.as_dict(), held-out, shipped model
    after: dict[str, dict[str, dict]]  # kind -> class -> Counts.as_dict(), held-out
    kinds: list[str]
    chosen: str  # a kind, or "defaults"
    reasons: dict[str, str]  # kind -> the gate's verdict
    adopted: bool
    profile_id: str | None
    replaced: str | None  # the id of the profile this run replaced or removed
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds: features, each kind's folds, final fit, total
    cpu_seconds: float = 0.0
    created_at: str = ""
    fine_tune: str = ""  # why fine-tuning was or was not tried

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "TuneReport":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in dict(doc).items() if k in names})

    @property
    def mean_before(self) -> float:
        return float(np.mean([self.before[c]["F"] for c in self.classes]))

    def mean_after(self, kind: str) -> float:
        return float(np.mean([self.after[kind][c]["F"] for c in self.classes]))

    @property
    def shown(self) -> str | None:
        """The kind whose held-out figures the table shows: the adopted one, else the best tried."""
        if self.chosen in self.after:
            return self.chosen
        return max(self.after, key=self.mean_after) if self.after else None

    def verdict(self) -> str:
        if self.adopted:
            return (f"Adopted profile {self.profile_id} ({KIND_NAMES.get(self.chosen, self.chosen)}): "
                    f"transcriptions of {self.user} use it from now on.")
        why = "; ".join(f"{KIND_NAMES.get(k, k)}: {r}" for k, r in self.reasons.items())
        removed = f" Profile {self.replaced} was removed." if self.replaced else ""
        return f"Not adopted ({why}): transcriptions of {self.user} keep the shipped model.{removed}"

    def lines(self) -> list[str]:
        """The report as plain text: the header, the per-class table, the verdict."""
        kind = self.shown
        minutes, secs = divmod(int(round(self.audio_seconds)), 60)
        out = [f"{self.user}: {len(self.jobs)} corrected jobs ({minutes}:{secs:02d} of audio, "
               f"{sum(self.hits.values())} hits), leave-one-job-out, ±50 ms; base {self.based_on}"]
        after = f"after: {KIND_NAMES.get(kind, kind)}" if kind else ""
        out.append(f"{'':20}  {'before: shipped model':<20}  {after}".rstrip())
        out.append(f"{'class':<14}{'hits':>6}  " + "  ".join(f"{'P':>6}{'R':>7}{'F':>7}" for _ in range(2 if kind else 1)))

        def prf(d: Mapping[str, Any]) -> str:
            return f"{d['P']:>6.3f}{d['R']:>7.3f}{d['F']:>7.3f}"

        for c in self.classes:
            cells = [prf(self.before[c])] + ([prf(self.after[kind][c])] if kind else [])
            out.append(f"{c:<14}{self.hits.get(c, 0):>6}  " + "  ".join(cells))
        means = [self.mean_before] + ([self.mean_after(kind)] if kind else [])
        out.append(f"{'mean F':<20}  " + "  ".join(f"{'':>13}{m:>7.3f}" for m in means))
        if len(self.after) > 1:
            out.append("kinds tried: " + ", ".join(f"{KIND_NAMES.get(k, k)} {self.mean_after(k):.3f}" for k in self.after))
        if self.fine_tune:
            out.append(self.fine_tune)
        for job, why in self.skipped.items():
            out.append(f"skipped {job}: {why}")
        total = self.seconds.get("total")
        if total is not None:
            out.append(f"took {total:.0f} s ({self.cpu_seconds:.0f} CPU s)")
        out.append(self.verdict())
        return out


# --- the steps ------------------------------------------------------------------------------


def _resolve(settings: Settings | None, storage: Any, user: str | None, prefer_local: bool = False):
    from drumscribe.jobs.store import _storage

    storage, settings = _storage(settings, storage, prefer_local)
    return storage, settings, keys.sanitize_user_id(user or settings.user)


def _not_enough(user: str, found: int, usable: int | None = None) -> NotEnoughCorrections:
    have = found if usable is None else usable
    more = MIN_JOBS - have
    unusable = "" if usable is None or usable == found else f" ({found - usable} of {found} have no readable original audio)"
    return NotEnoughCorrections(
        f"tuning needs at least {MIN_JOBS} corrected jobs; {user} has {have}{unusable}: correct {more} more",
        hint="`drumscribe edit JOB` in the page, or `drumscribe edit JOB --import FILE` from a DAW")


def gather(storage: Any, settings: Settings, user: str, model: Any, workdir: Path, *, keep_features: bool,
           progress: Callable[[str], None] | None = None) -> tuple[list[ex_mod.Example], dict[str, str], int]:
    """(examples, skipped job -> why, jobs found): every edited job whose original can be read."""
    from drumscribe.jobs.edits import edited_jobs

    found = edited_jobs(settings=settings, storage=storage, user=user)
    if len(found) < MIN_JOBS:
        raise _not_enough(user, len(found))
    examples, skipped = [], {}
    seconds = 0.0
    for n, job in enumerate(reversed(found), 1):  # newest first: a capped set keeps the latest corrections
        if len(examples) >= MAX_JOBS or seconds >= MAX_SECONDS:
            skipped[job.job_id] = f"over the {MAX_JOBS} jobs or {MAX_SECONDS // 60} minutes of audio one tuning reads (the newest are used)"
            continue
        if progress is not None:
            progress(f"reading job {n} of {len(found)}: {job.job_id}")
        if not job.original_key:
            skipped[job.job_id] = "its original audio was never stored"
            continue
        try:
            keys.validate_key(job.original_key)
            local = storage.download(job.original_key, workdir / f"{job.job_id}{Path(job.original_key).suffix}")
            examples.append(ex_mod.build(job.job_id, local, job.edited.transcription.events, model,
                                         keep_features=keep_features))
            seconds += examples[-1].duration
        except DrumscribeError as exc:
            skipped[job.job_id] = f"its original cannot be read ({exc})"
            continue
        if not keep_features:
            local.unlink(missing_ok=True)
    if len(examples) < MIN_JOBS:
        raise _not_enough(user, len(found), len(examples))
    examples.sort(key=lambda e: e.job_id)
    return examples, skipped, len(found)


def model_file(fitted: fit.Fitted, model: Any, profile_meta: Mapping[str, Any]) -> tuple[bytes, str] | None:
    """(the profile's model file, a hash of its arrays) when the fit changed weights, else None."""
    from drumscribe.transcription.network import DEFAULT_MODEL, member_specs

    if not fitted.changes_weights:
        return None
    if fitted.arrays is not None:
        arrays = dict(fitted.arrays)
    else:
        with np.load(DEFAULT_MODEL, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    if fitted.layers is not None:
        for (prefix, spec), (w, b) in zip(member_specs(meta), fitted.layers):
            last = len(spec) - 1
            arrays[f"{prefix}l{last}_w"], arrays[f"{prefix}l{last}_b"] = w.astype(np.float32), b.astype(np.float32)
    meta["thresholds"] = {c: float(v) for c, v in fitted.thresholds.items()}
    meta["offset"] = float(fitted.offset)
    meta["tuning"] = dict(profile_meta)
    digest = _arrays_sha256(arrays)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, meta=np.array(json.dumps(meta)), **arrays)
    return buffer.getvalue(), digest


def _arrays_sha256(arrays: Mapping[str, np.ndarray]) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    return h.hexdigest()


def _counts(table: Mapping[str, Counts]) -> dict[str, dict]:
    return {c: k.as_dict() for c, k in table.items()}


# --- the public functions -------------------------------------------------------------------


def tune(*, settings: Settings | None = None, storage: Any = None, user: str | None = None,
         fine_tune: bool | None = None, threads: int | None = None, prefer_local: bool = False,
         progress: Callable[[str], None] | None = None) -> TuneReport:
    """Fit, judge and (when it helps) store a profile for ``user`` from their corrected jobs.

    ``fine_tune``: try fine-tuning the networks (needs the ``train`` extra); None: when torch is
    installed. ``progress`` is called with a short line per step. Raises ``NotEnoughCorrections``
    when fewer than ``MIN_JOBS`` corrected jobs can be used.
    """
    from drumscribe.learning import finetune
    from drumscribe.transcription.network import DEFAULT_MODEL

    started, cpu = time.perf_counter(), time.process_time()
    storage, settings, user = _resolve(settings, storage, user, prefer_local)
    base = profiles.shipped_model()
    if fine_tune is None:
        fine_tune = finetune.available()
        why_not = "" if fine_tune else "fine-tuning not tried: the `train` extra (torch) is not installed"
    else:
        why_not = "" if fine_tune else "fine-tuning not tried (--no-fine-tune)"
    if fine_tune and not finetune.available():
        raise InputError("fine-tuning needs PyTorch", hint='pip install "drumscribe[train]"')
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="drumscribe-tune-") as tmp:
        t = time.perf_counter()
        examples, skipped, _ = gather(storage, settings, user, base, Path(tmp), keep_features=fine_tune, progress=progress)
        seconds["features"] = time.perf_counter() - t
        if fine_tune and sum(e.duration for e in examples) > finetune.MAX_SECONDS:
            fine_tune, why_not = False, (f"fine-tuning not tried: more than {finetune.MAX_SECONDS // 60} minutes of corrected "
                                         "audio (it keeps every recording's augmented features in memory)")
        torch_fit = finetune.fitter(DEFAULT_MODEL, threads=threads, progress=progress) if fine_tune else None
        kinds = fit.fitters(base, examples, torch_fit)
        cv = fit.cross_validate(examples, base, kinds, progress=progress)
        seconds.update({f"cv_{k}": v for k, v in cv.seconds.items()})
        hits = ex_mod.class_counts(examples, base.classes)
        choice = fit.choose(cv, hits)
        previous = _current_id(storage, user)
        report = TuneReport(
            user=user, based_on=profiles.identity(base), classes=list(base.classes), jobs=[e.job_id for e in examples],
            skipped=skipped, hits=hits, audio_seconds=round(sum(e.duration for e in examples), 2),
            before=_counts(cv.before), after={k: _counts(v) for k, v in cv.after.items()}, kinds=list(kinds),
            chosen=choice.kind, reasons=choice.reasons, adopted=False, profile_id=None, replaced=None,
            created_at=_now(), fine_tune=why_not,
        )
        if choice.kind == fit.DEFAULTS:
            if previous is not None and profiles.remove(storage, user):
                report.replaced = previous
        else:
            if progress is not None:
                progress(f"fitting the profile ({choice.kind}) on all {len(examples)} jobs")
            t = time.perf_counter()
            fitted = kinds[choice.kind](examples, base)
            seconds["final_fit"] = time.perf_counter() - t
            report.seconds = seconds
            profile, data = _profile(fitted, base, user, examples, report)
            profiles.save(storage, profile, data)
            report.adopted, report.profile_id = True, profile.id
            report.replaced = previous if previous not in (None, profile.id) else None
    seconds["total"] = time.perf_counter() - started
    report.seconds = {k: round(v, 2) for k, v in seconds.items()}
    report.cpu_seconds = round(time.process_time() - cpu, 2)
    profiles.save_report(storage, user, report.to_dict())
    return report


def _profile(fitted: fit.Fitted, base: Any, user: str, examples, report: TuneReport) -> tuple[profiles.Profile, bytes | None]:
    based_on, base_sha = profiles.identity(base), profiles.shipped_sha256()
    made = model_file(fitted, base, {"user": user, "kind": fitted.kind, "based_on": based_on, "jobs": report.jobs})
    data, weights_sha = made if made else (None, None)
    pid = profiles.profile_id(based_on, base_sha, fitted.thresholds, fitted.offset, weights_sha)
    import hashlib

    profile = profiles.Profile(
        id=pid, user=user, kind=fitted.kind, based_on=based_on, base_sha256=base_sha,
        thresholds={c: float(v) for c, v in fitted.thresholds.items()}, offset=float(fitted.offset),
        model_file=keys.profile_model_key(user, pid) if data is not None else None,
        model_sha256=hashlib.sha256(data).hexdigest() if data is not None else None,
        created_at=report.created_at, jobs=tuple(report.jobs), hits=dict(report.hits), audio_seconds=report.audio_seconds,
        report={**report.to_dict(), "adopted": True, "profile_id": pid}, drumscribe_version=__version__,
    )
    return profile, data


def _current_id(storage: Any, user: str) -> str | None:
    try:
        current = profiles.load(storage, user)
    except DrumscribeError:
        return "(damaged)"
    return current.id if current else None


def _now() -> str:
    from drumscribe.transcription.result import utc_now

    return utc_now()


@dataclass
class TuneStatus:
    """``tune --status``: the profile in use (if any), whether it is usable, and the last tuning."""

    user: str
    profile: profiles.Profile | None
    stale: str | None  # why the profile is not used with the installed model
    damaged: str | None  # why profile.json cannot be read
    last: TuneReport | None  # the last tune, adopted or not

    def lines(self) -> list[str]:
        out = []
        p = self.profile
        if self.damaged:
            out.append(f"{self.user}: the profile cannot be read ({self.damaged}); transcriptions use the shipped model")
        elif p is None:
            out.append(f"{self.user}: no tuning profile; transcriptions use the shipped model")
        else:
            minutes, secs = divmod(int(round(p.audio_seconds)), 60)
            out.append(f"{self.user}: profile {p.id} ({KIND_NAMES.get(p.kind, p.kind)}), tuned {p.created_at} on "
                       f"{len(p.jobs)} jobs ({minutes}:{secs:02d} of audio, {sum(p.hits.values())} hits), base {p.based_on}")
            out.append("  " + self.stale if self.stale else "  in use: transcriptions of this user record it in model.profile")
            out.append("  thresholds " + ", ".join(f"{c} {v:.3f}" for c, v in p.thresholds.items()) + f"; offset {p.offset * 1000:+.1f} ms")
            if p.report:
                out += ["  " + line for line in _report_lines(p.report)[1:-1]]
        if self.last is not None and (p is None or self.last.profile_id != p.id):
            out.append(f"last tuning {self.last.created_at}:")
            out += ["  " + line for line in _report_lines(self.last)]
        return out


def _report_lines(report: "TuneReport | Mapping[str, Any]") -> list[str]:
    """A stored report's table; one line when it cannot be read (a damaged file is history lost, not an error)."""
    try:
        return (report if isinstance(report, TuneReport) else TuneReport.from_dict(report)).lines()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return ["", f"(the report cannot be read: {type(exc).__name__})", ""]


def status(*, settings: Settings | None = None, storage: Any = None, user: str | None = None,
           prefer_local: bool = False) -> TuneStatus:
    """The user's profile and the last tuning, as ``tune --status`` shows them."""
    storage, settings, user = _resolve(settings, storage, user, prefer_local)
    damaged = stale = None
    try:
        profile = profiles.load(storage, user)
    except InputError as exc:
        profile, damaged = None, str(exc)
    if profile is not None:
        stale = profiles.stale_reason(profile, profiles.shipped_model())
    doc = profiles.load_report(storage, user)
    try:
        last = TuneReport.from_dict(doc) if doc else None
    except (TypeError, ValueError):
        last = None
    return TuneStatus(user, profile, stale, damaged, last)


def reset(*, settings: Settings | None = None, storage: Any = None, user: str | None = None,
          prefer_local: bool = False) -> bool:
    """Remove the user's profile (and tuning report): back to the shipped model. True if there was a profile."""
    storage, settings, user = _resolve(settings, storage, user, prefer_local)
    return profiles.remove(storage, user, report=True)
