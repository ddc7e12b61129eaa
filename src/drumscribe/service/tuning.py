"""``/api/tune``: tune the caller's profile on their corrections, in the background.

``POST /api/tune`` starts ``learning.tune.tune`` for the caller in a thread of its own (one tuning
per user at a time: a second start while one runs is 409) and answers 202; ``GET /api/tune`` says
how it is going, and shows the profile in use and the last tuning's report (the same table
``drumscribe tune`` prints). Fewer than three corrected jobs is refused at once (400) with how many
more are needed. A tuning's state lives in memory: after a restart, ``GET`` still shows the
profile and the last report, which are in storage.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from drumscribe import keys
from drumscribe.errors import DrumscribeError
from drumscribe.service.api import context, current_user

router = APIRouter(prefix="/api")
IDLE, RUNNING, DONE, FAILED = "idle", "running", "done", "failed"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Tuning:
    user: str
    state: str = RUNNING
    progress: str = ""
    error: Optional[str] = None
    started_at: str = field(default_factory=_now)
    finished_at: Optional[str] = None


# a tuning holds its recordings' activations (about 0.45 GB an hour of audio, more fine-tuning) beside
# the server's transcriptions: one at a time, whoever asks
MAX_AT_ONCE = 1


class TuneRunner:
    """One background tuning per user; ``tune`` is ``learning.tune.tune`` (tests pass their own)."""

    def __init__(self, storage: Any, settings: Any, tune: Callable[..., Any] | None = None):
        self.storage, self.settings = storage, settings
        self._tune = tune
        self._lock = threading.Lock()
        self._runs: dict[str, Tuning] = {}

    def get(self, user: str) -> Tuning | None:
        with self._lock:
            return self._runs.get(user)

    def start(self, user: str) -> Tuning:
        from drumscribe.learning.tune import MIN_JOBS, _not_enough

        self._refuse_if_running(user)
        found = corrected_jobs(self.storage, user)  # one listing, outside the lock
        if found < MIN_JOBS:
            raise _not_enough(user, found)
        with self._lock:
            self._refuse_if_running(user, locked=True)
            if sum(r.state == RUNNING for r in self._runs.values()) >= MAX_AT_ONCE:
                raise Busy("the server is tuning for another user now; try again when that is done")
            run = self._runs[user] = Tuning(user)
        threading.Thread(target=self._run, args=(run,), name=f"drumscribe-tune-{user}", daemon=True).start()
        return run

    def _refuse_if_running(self, user: str, locked: bool = False) -> None:
        current = self._runs.get(user) if locked else self.get(user)
        if current is not None and current.state == RUNNING:
            raise Busy(f"a tuning for {user} is already running (since {current.started_at})")

    def _run(self, run: Tuning) -> None:
        from drumscribe.learning.tune import tune

        def progress(line: str) -> None:
            run.progress = line

        try:
            (self._tune or tune)(settings=self.settings, storage=self.storage, user=run.user, progress=progress)
        except DrumscribeError as exc:
            run.error = str(exc)
        except Exception as exc:  # a bug still ends the tuning with one line
            run.error = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"
        with self._lock:
            run.state = FAILED if run.error else DONE
            run.finished_at = _now()
            run.progress = ""


class Busy(DrumscribeError):
    """A tuning for this user is already running (HTTP 409)."""


def corrected_jobs(storage: Any, user: str) -> int:
    """How many of ``user``'s jobs have an edited.json (one listing)."""
    return sum(1 for info in storage.list(f"{keys.PROCESSED}/{keys.sanitize_user_id(user)}/")
               if (parsed := keys.parse_processed_key(info.key)) and parsed[2] == keys.EDITED_JSON)


# --- the API ---------------------------------------------------------------------------------


class ProfileInfo(BaseModel):
    id: str
    kind: str
    created_at: str
    based_on: str
    jobs: int
    hits: int
    stale: Optional[str] = Field(None, description="why the profile is not used with this server's model")


class TuneStatus(BaseModel):
    user: str
    state: str = Field(..., description="idle (nothing started since the server started), running, done or failed")
    progress: str = ""
    error: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    profile: Optional[ProfileInfo] = Field(None, description="the profile transcriptions of this user use; null: the shipped model")
    report: Optional[dict[str, Any]] = Field(None, description="the last tuning: per-class P/R/F before and after on held-out jobs")
    lines: list[str] = Field(default_factory=list, description="the last tuning's report as `drumscribe tune` prints it")


def runner(request: Request) -> TuneRunner:
    return request.app.state.drumscribe_tune


def _status(storage: Any, settings: Any, user: str, run: Tuning | None) -> TuneStatus:
    from drumscribe.learning.tune import status

    found = status(settings=settings, storage=storage, user=user)
    p = found.profile
    profile = None if p is None else ProfileInfo(id=p.id, kind=p.kind, created_at=p.created_at, based_on=p.based_on,
                                                  jobs=len(p.jobs), hits=sum(p.hits.values()), stale=found.stale)
    out = TuneStatus(user=user, state=run.state if run else IDLE, progress=run.progress if run else "",
                     error=(run.error if run else None) or found.damaged, started_at=run.started_at if run else None,
                     finished_at=run.finished_at if run else None, profile=profile)
    if found.last is not None:
        out.report, out.lines = found.last.to_dict(), found.last.lines()
    return out


@router.post("/tune", response_model=TuneStatus, status_code=202, summary="Tune your profile on your corrected jobs",
             responses={400: {"description": "fewer than 3 corrected jobs"}, 409: {"description": "a tuning is running"}})
async def start_tune(request: Request, user: str = Depends(current_user)) -> TuneStatus:
    ctx = context(request)
    tuner = runner(request)
    try:
        run = await asyncio.to_thread(tuner.start, user)
    except Busy as exc:
        raise HTTPException(409, str(exc)) from None
    return await asyncio.to_thread(_status, ctx.storage, ctx.settings, user, run)


@router.get("/tune", response_model=TuneStatus, summary="Your tuning: the one running, the profile in use, the last report")
async def tune_status(request: Request, user: str = Depends(current_user)) -> TuneStatus:
    ctx = context(request)
    return await asyncio.to_thread(_status, ctx.storage, ctx.settings, user, runner(request).get(user))


@router.delete("/tune", response_model=TuneStatus, summary="Remove your profile: back to the shipped model",
               responses={409: {"description": "a tuning is running"}})
async def reset_tune(request: Request, user: str = Depends(current_user)) -> TuneStatus:
    from drumscribe.learning.tune import reset

    ctx = context(request)
    run = runner(request).get(user)
    if run is not None and run.state == RUNNING:
        raise HTTPException(409, f"a tuning for {user} is running; wait for it to finish")
    await asyncio.to_thread(reset, settings=ctx.settings, storage=ctx.storage, user=user)
    return await asyncio.to_thread(_status, ctx.storage, ctx.settings, user, run)
