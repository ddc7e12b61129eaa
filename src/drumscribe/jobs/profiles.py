"""A user's tuning profile in storage, and the tuned model ``transcribe`` runs for that user.

``drumscribe tune`` (``drumscribe.learning``) fits profiles; this module is what jobs need of them
(profiles are data about a user's jobs, like their edits), so ``jobs`` never imports ``learning``.

Layout (``keys.py``)::

    models/{user}/profile.json          the profile in use (absent: the shipped model)
    models/{user}/model-{id}.npz        its model file, when tuning changed weights (same format as
                                        the shipped model file: inference stays numpy)
    models/{user}/last-tune.json        the report of the last ``tune``, adopted or not

``profile.json`` is written last and deleted first, so a reader that finds it finds a complete
profile; each write is one ``Storage.put`` (atomic on both backends). ``models/`` is synced like
uploads and results, and the bucket's lifecycle rules (which expire ``temp/`` and ``processed/``)
keep it.

A profile is tied to the shipped model it was tuned from (``based_on``, name and version, and that
file's SHA-256): after an upgrade to another model it is stale, transcriptions use the new shipped
model as it is, and ``tune`` fits a new profile from the same corrections.

The profile's id is a hash of everything that changes what it detects (base model, thresholds,
offset, weights), so the same tuning gives the same id, and ``transcription.json`` records it in
``model.profile`` (``model.based_on``: the shipped model's name and version).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from drumscribe import keys
from drumscribe.errors import DrumscribeError, InputError, InvalidKeyError, NotFoundError, TranscriptionError

SCHEMA = "drumscribe.profile/1"
log = logging.getLogger("drumscribe.tune")


@dataclass(frozen=True)
class Profile:
    id: str
    user: str
    kind: str  # "thresholds", "last_layer" or "fine_tune" (learning/fit.py)
    based_on: str  # the shipped model's "name version"
    base_sha256: str  # of the shipped model file
    thresholds: Mapping[str, float]
    offset: float
    model_file: str | None = None  # key of the profile's model file, when weights changed
    model_sha256: str | None = None
    created_at: str = ""
    jobs: tuple[str, ...] = ()  # the corrected jobs it was tuned on
    hits: Mapping[str, int] = field(default_factory=dict)  # corrected hits per class
    audio_seconds: float = 0.0
    report: Mapping[str, Any] = field(default_factory=dict)  # the cross-validation (learning.tune.TuneReport.to_dict)
    drumscribe_version: str = ""
    schema: str = SCHEMA

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["jobs"] = list(self.jobs)
        return json.dumps(doc, indent=1, allow_nan=False).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, where: str = "profile.json") -> "Profile":
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("drumscribe.profile/"):
                raise ValueError("not a drumscribe profile")
            if int(str(doc["schema"]).rsplit("/", 1)[1]) > 1:
                raise InputError(f"{where} was written by a newer drumscribe; upgrade drumscribe or run `drumscribe tune --reset`")
            names = set(cls.__dataclass_fields__)
            doc = {k: v for k, v in doc.items() if k in names}
            doc["jobs"] = tuple(doc.get("jobs") or ())
            doc["thresholds"] = {str(k): float(v) for k, v in dict(doc["thresholds"]).items()}
            doc["offset"] = float(doc["offset"])
            # json reads NaN and Infinity: a threshold must be an activation (0-1), the offset a few seconds at most
            if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in doc["thresholds"].values()):
                raise ValueError(f"a threshold outside 0-1: {doc['thresholds']}")
            if not (math.isfinite(doc["offset"]) and abs(doc["offset"]) <= 1.0):
                raise ValueError(f"offset {doc['offset']} s")
            profile = cls(**doc)
            keys.sanitize_user_id(profile.user)
            if profile.model_file is not None:
                keys.validate_key(profile.model_file)
                if not profile.model_file.startswith(keys.models_prefix(profile.user)):
                    raise ValueError(f"model file {profile.model_file!r} is not under {keys.models_prefix(profile.user)}")
            return profile
        except InvalidKeyError as exc:  # a user id or key no drumscribe writes: the file was edited or damaged
            raise InputError(f"{where} is damaged ({exc})",
                             hint="`drumscribe tune --reset` removes it; `drumscribe tune` makes a new one") from None
        except DrumscribeError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{where} is damaged ({type(exc).__name__}: {exc})",
                             hint="`drumscribe tune --reset` removes it; `drumscribe tune` makes a new one") from None


def identity(model: Any) -> str:
    """A model's "name version", as ``based_on`` records it."""
    return f"{getattr(model, 'name', '')} {getattr(model, 'version', '')}".strip()


def profile_id(based_on: str, base_sha256: str, thresholds: Mapping[str, float], offset: float,
               model_sha256: str | None) -> str:
    doc = {"based_on": based_on, "base": base_sha256, "thresholds": {k: round(float(v), 6) for k, v in sorted(thresholds.items())},
           "offset": round(float(offset), 6), "weights": model_sha256}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:12]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- storage --------------------------------------------------------------------------------


def load(storage: Any, user: str) -> Profile | None:
    """The user's profile, or None when they have none."""
    key = keys.profile_key(user)
    try:
        data = storage.get(key)
    except NotFoundError:
        return None
    profile = Profile.from_json(data, storage.uri(key))
    if profile.user != user:  # another user's file put here: its model file would be looked for under their folder
        raise InputError(f"{storage.uri(key)} is damaged (it is the profile of {profile.user!r})",
                         hint="`drumscribe tune --reset` removes it; `drumscribe tune` makes a new one")
    return profile


def load_report(storage: Any, user: str) -> dict | None:
    """The report of the user's last ``tune`` (adopted or not), or None."""
    try:
        return json.loads(storage.get(keys.tuning_report_key(user)))
    except NotFoundError:
        return None
    except ValueError:
        return None  # a damaged report is only a missing history


def save(storage: Any, profile: Profile, model_bytes: bytes | None = None) -> None:
    """Store a profile: its model file first, ``profile.json`` last, then remove the model file of
    the profile it replaced.

    Only that one, and only while ``profile.json`` (read again) does not name it: a tuning that
    ran at the same time on another machine may have stored its own profile since, and its model
    file must stay. Files of profiles that never became current are removed by ``tune --reset``."""
    try:
        replaced = load(storage, profile.user)
    except InputError:
        replaced = None  # a damaged profile.json: replaced here, its model file (if any) is unknown
    if model_bytes is not None:
        storage.put(profile.model_file, model_bytes, content_type="application/octet-stream")
    storage.put(keys.profile_key(profile.user), profile.to_json(), content_type="application/json")
    old = replaced.model_file if replaced is not None else None
    if old and old != profile.model_file:
        try:
            current = load(storage, profile.user)
        except InputError:
            current = None
        if current is None or current.model_file != old:
            try:
                storage.delete(old)
            except NotFoundError:
                pass


def save_report(storage: Any, user: str, report: Mapping[str, Any]) -> None:
    storage.put(keys.tuning_report_key(user), json.dumps(report, indent=1, allow_nan=False).encode("utf-8"),
                content_type="application/json")


def remove(storage: Any, user: str, *, report: bool = False) -> bool:
    """Delete the user's profile (``profile.json`` first) and its model files; True if there was one.
    ``report``: also the last tuning report (``tune --reset`` removes everything under models/{user}/)."""
    had = storage.exists(keys.profile_key(user))
    storage.delete(keys.profile_key(user))
    _remove_model_files(storage, user, keep=None)
    if report:
        doomed = [o.key for o in storage.list(keys.models_prefix(user))]
        if doomed:
            storage.delete_many(doomed)
    return had


def _remove_model_files(storage: Any, user: str, keep: str | None) -> None:
    doomed = [o.key for o in storage.list(keys.models_prefix(user))
              if o.key.rsplit("/", 1)[-1].startswith("model-") and o.key != keep]
    if doomed:
        storage.delete_many(doomed)


# --- the tuned model ------------------------------------------------------------------------

_cache: dict[tuple[str, str], Any] = {}  # (profile key's URI, profile id) -> tuned model
_warned: set[str] = set()
_lock = threading.Lock()


def shipped_model() -> Any:
    from drumscribe.transcription.pipeline import get_model

    return get_model(None)


def shipped_sha256() -> str:
    from drumscribe.transcription.network import DEFAULT_MODEL

    with _lock:
        if "sha" not in _shipped:
            _shipped["sha"] = file_sha256(DEFAULT_MODEL)
        return _shipped["sha"]


_shipped: dict[str, str] = {}


def is_shipped(model: Any) -> bool:
    """None (the packaged default) or the packaged model as ``pipeline.get_model(None)`` loaded it."""
    if model is None:
        return True
    from drumscribe.transcription.pipeline import _models

    return model is _models.get(None)


def stale_reason(profile: Profile, base: Any) -> str | None:
    """Why a profile cannot be used with the installed shipped model, or None."""
    if profile.based_on != identity(base) or profile.base_sha256 != shipped_sha256():
        return (f"the tuning profile {profile.id} was made for {profile.based_on}, but this drumscribe ships "
                f"{identity(base)}; transcribing with the shipped model - run `drumscribe tune` to tune it again")
    return None


def tuned(profile: Profile, base: Any, storage: Any) -> Any:
    """The model a profile makes: the shipped one (or the profile's model file) with its thresholds and offset."""
    key = (storage.uri(keys.profile_key(profile.user)), profile.id)
    with _lock:
        if key in _cache:
            return _cache[key]
    model = base
    if profile.model_file:
        from drumscribe.transcription.network import load_model

        with tempfile.TemporaryDirectory(prefix="drumscribe-profile-") as tmp:
            path = storage.download(profile.model_file, Path(tmp) / "model.npz")
            if profile.model_sha256 and file_sha256(path) != profile.model_sha256:
                raise InputError(f"{storage.uri(profile.model_file)} does not match its profile (SHA-256 differs)",
                                 hint="`drumscribe tune` makes a new profile; `drumscribe tune --reset` removes it")
            model = load_model(path)
    model = copy.copy(model)  # the network is shared, read-only; only the profile's settings differ
    model.thresholds = {c: float(profile.thresholds.get(c, base.thresholds[c])) for c in base.classes}
    model.offset = float(profile.offset)
    model.profile = profile.id
    model.based_on = profile.based_on
    with _lock:
        for stale in [k for k in _cache if k[0] == key[0] and k != key]:
            del _cache[stale]  # a re-tuned user's earlier model: a long-running `serve` keeps one per user
        _cache[key] = model
    return model


def for_user(model: Any, storage: Any, user: str) -> Any:
    """What a job of ``user`` runs: their tuned model when ``model`` is the shipped one and they have a
    usable profile, else ``model`` unchanged.

    A damaged or stale profile, or one whose model file is gone, does not fail the job: it is
    reported once per process (a warning on stderr) and the shipped model is used, which the job's
    ``transcription.json`` then says (no ``model.profile``). A storage error reading it (throttling,
    a dropped connection) fails the job like any other storage error, so a batch retries it rather
    than quietly transcribing with the wrong model."""
    if not is_shipped(model):
        return model  # an explicit --model is used as it is
    try:
        profile = load(storage, user)
        if profile is None:
            return model
        base = shipped_model()
        why = stale_reason(profile, base)
        if why is not None:
            _warn(why)
            return model
        return tuned(profile, base, storage)
    except (InputError, NotFoundError, TranscriptionError) as exc:
        _warn(f"the tuning profile of {user} cannot be used ({exc}); transcribing with the shipped model")
        return model


def active_id(storage: Any, user: str) -> str | None:
    """The id of the profile ``user``'s transcriptions would record now (None: the shipped model as
    it is). With the model's name and version it is the "same model" identity: a job made before a
    tuning, or after a reset, is not a job of the model in use."""
    return getattr(for_user(None, storage, user), "profile", None)


def _warn(message: str) -> None:
    with _lock:
        if message in _warned:
            return
        _warned.add(message)
    log.warning("warning: %s", message)
