"""Mirror ``uploads/`` and ``processed/`` between the local folder and the bucket.

``sync("push")`` sends local changes, ``sync("pull")`` fetches remote ones, ``sync("status")``
only reports. Decisions are content-based and three-way (see ``drumscribe.sync.plan``); transfers
are atomic, parallel and resumable (see ``drumscribe.sync.transfer``).

``from_local=True`` pushes from the *offline* mirror instead (``$DRUMSCRIBE_HOME/local``, where
work lands while no bucket is configured) to the configured bucket: the same content-based plan,
so running it again sends nothing twice, nothing is deleted on either side, and a key that
differs on both sides is a conflict, never overwritten.
"""

from __future__ import annotations

import inspect
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import botocore.exceptions as bexc

from drumscribe import aws
from drumscribe.config import Settings, load_settings
from drumscribe.errors import ConfigError, InputError, MissingCredentialsError
from drumscribe.keys import validate_bucket_name
from drumscribe.storage import offline_root
from drumscribe.sync.manifest import Manifest
from drumscribe.sync.plan import CONFLICT, DELETE, DOWNLOAD, ERROR, UPLOAD, Item, Plan, build_plan
from drumscribe.sync.transfer import Executor, Progress

__all__ = ["sync", "SyncReport", "Plan", "Item", "make_plan", "run_plan", "open_bucket", "offline_root"]

def sync_root(settings: Settings, from_local: bool = False) -> Path:
    return offline_root(settings) if from_local else settings.local_root


@dataclass
class SyncReport:
    """What a sync planned and did. ``items`` are plain dicts (key, action, reason, size, status)."""

    direction: str
    prefix: str
    bucket: str
    local_root: str
    dry_run: bool
    planned: dict[str, int]
    items: list[dict[str, Any]] = field(default_factory=list)
    transferred: int = 0
    deleted: int = 0
    bytes_transferred: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (key, one line)
    conflicts: list[str] = field(default_factory=list)
    excluded: int = 0
    heads: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors and not self.interrupted

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some files failed, 3 conflicts left unresolved (status/dry runs: 0 unless errors)."""
        if self.errors or self.interrupted:
            return 1
        if self.conflicts and self.direction != "status" and not self.dry_run:
            return 3
        return 0

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        data = asdict(self)
        data["errors"] = [{"key": k, "error": e} for k, e in self.errors]
        data["ok"] = self.ok
        return data


def open_bucket(settings: Settings, concurrency: int = 10) -> tuple[Any, str]:
    """An S3 client and the bucket name, or one line saying how to configure S3."""
    if not settings.bucket:
        raise ConfigError(
            "sync needs an S3 bucket and none is configured",
            hint="set AWS_S3_BUCKET in .env or the environment, or pass --bucket; `drumscribe setup` creates one",
        )
    validate_bucket_name(settings.bucket)
    if not aws.has_credentials(settings):
        raise MissingCredentialsError(
            "sync needs AWS credentials and none were found",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in .env, AWS_PROFILE, or run `aws sso login`",
        )
    session = aws.make_session(settings)
    # Listing 1,000 keys spends most of its client time in dateutil parsing LastModified, which
    # sync never reads; S3's ISO-8601 timestamps parse ~50x faster with fromisoformat.
    session._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_fast_timestamp)
    return aws.client(settings, "s3", session=session, max_pool_connections=max(32, concurrency * 2)), settings.bucket


def _fast_timestamp(value: str):
    from datetime import datetime, timezone

    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        from botocore.utils import parse_timestamp

        return parse_timestamp(value)  # HTTP-date headers (HEAD/GET Last-Modified) and anything else
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def make_plan(
    direction: str,
    prefix: str = "",
    *,
    settings: Settings,
    client: Any,
    manifest: Manifest | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    prefer: str | None = None,
    delete: bool = False,
    concurrency: int = 10,
    from_local: bool = False,
) -> tuple[Plan, Manifest]:
    root = sync_root(settings, from_local)
    manifest = manifest or Manifest.load(root, settings.bucket, settings.endpoint_url)
    try:
        plan = build_plan(
            client=client, bucket=settings.bucket, root=root, manifest=manifest, direction=direction,
            prefix=prefix, include=include, exclude=exclude, prefer=prefer, delete=delete, concurrency=concurrency,
        )
    except (bexc.BotoCoreError, bexc.ClientError) as exc:
        raise aws.translate(exc, bucket=settings.bucket, action="list") from None
    return plan, manifest


def check_deletes(plan: Plan, *, max_delete: int | None) -> list[str]:
    """Refusals (raised) and warnings (returned) about the deletions in ``plan``."""
    deletes = plan.of(DELETE)
    if not deletes:
        return []
    where = plan.prefix or "uploads/, processed/ and models/"
    if plan.source_count() == 0:
        raise InputError(
            f"refusing to delete {len(deletes)} file(s): the {plan.source_side} side has nothing under {where}, "
            "which would empty the other side; nothing was changed"
        )
    if max_delete is not None and len(deletes) > max_delete:
        raise InputError(f"would delete {len(deletes)} files, more than --max-delete {max_delete}; nothing was changed")
    return []


def run_plan(
    plan: Plan,
    manifest: Manifest,
    *,
    settings: Settings,
    client: Any,
    concurrency: int = 10,
    progress: Progress | None = None,
    from_local: bool = False,
) -> SyncReport:
    started = time.monotonic()
    executor = Executor(client=client, bucket=settings.bucket, root=sync_root(settings, from_local), manifest=manifest,
                        concurrency=concurrency, progress=progress)
    report = report_for(plan, settings, dry_run=False, from_local=from_local)
    status: dict[str, tuple[str, str | None]] = {}
    try:
        outcome = executor.run(plan)
    except KeyboardInterrupt:
        report.interrupted = True
        raise
    for item in outcome.done:
        status[item.key] = ("done", None)
    for item, message in outcome.errors:
        status[item.key] = ("failed", message)
        report.errors.append((item.key, message))
    for row in report.items:
        if row["action"] in (UPLOAD, DOWNLOAD, DELETE):
            row["status"], error = status.get(row["key"], ("not run", None))
            if error:
                row["error"] = error
    report.transferred = sum(1 for i in outcome.done if i.action in (UPLOAD, DOWNLOAD))
    report.deleted = sum(1 for i in outcome.done if i.action == DELETE)
    report.bytes_transferred = outcome.bytes
    report.interrupted = outcome.interrupted
    report.seconds = round(time.monotonic() - started, 3)
    return report


def report_for(plan: Plan, settings: Settings, *, dry_run: bool, from_local: bool = False) -> SyncReport:
    report = SyncReport(
        direction=plan.direction, prefix=plan.prefix, bucket=plan.bucket, local_root=str(sync_root(settings, from_local)),
        dry_run=dry_run, planned=plan.counts(), items=[i.as_dict() for i in plan.items],
        conflicts=[i.key for i in plan.of(CONFLICT)], excluded=plan.excluded, heads=plan.heads,
    )
    # keys that could not even be planned (hostile remote keys, unreadable files) are errors too
    report.errors = [(i.key, i.reason) for i in plan.of(ERROR)]
    return report


def sync(
    direction: str = "push",
    prefix: str = "",
    *,
    settings: Settings | None = None,
    dry_run: bool = False,
    delete: bool = False,
    yes: bool = False,
    max_delete: int | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    prefer: str | None = None,
    concurrency: int = 10,
    progress: Progress | None = None,
    confirm: Callable[[Plan], bool] | None = None,
    from_local: bool = False,
) -> SyncReport:
    """Push, pull or report (``"status"``) the differences between the local mirror and the bucket.

    Deletions happen only with ``delete=True``; they need ``yes=True`` or a ``confirm(plan)``
    callback that returns True, are refused beyond ``max_delete`` or when the source side is
    empty. Conflicts (both sides changed) are never overwritten unless ``prefer`` names a side.

    ``from_local=True`` (push or status only, no deletions): the offline mirror (``offline_root``)
    is the local side, so work made before a bucket was configured goes to the bucket.
    """
    settings = settings or load_settings()
    check_from_local(direction, delete=delete, from_local=from_local)
    if concurrency < 1:
        raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
    if max_delete is not None and max_delete < 0:
        raise ConfigError(f"--max-delete must be 0 or more, got {max_delete}")
    client, _ = open_bucket(settings, concurrency)
    started = time.monotonic()
    plan, manifest = make_plan(
        direction, prefix, settings=settings, client=client, include=include, exclude=exclude,
        prefer=prefer, delete=delete and direction != "status", concurrency=concurrency, from_local=from_local,
    )
    if direction == "status" or dry_run:
        report = report_for(plan, settings, dry_run=dry_run, from_local=from_local)
        report.seconds = round(time.monotonic() - started, 3)
        return report
    check_deletes(plan, max_delete=max_delete)
    if plan.of(DELETE) and not yes:
        if confirm is None or not confirm(plan):
            raise InputError(f"{len(plan.of(DELETE))} deletion(s) not confirmed; nothing was changed (pass yes=True or --yes)")
    report = run_plan(plan, manifest, settings=settings, client=client, concurrency=concurrency, progress=progress,
                      from_local=from_local)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def check_from_local(direction: str, *, delete: bool, from_local: bool) -> None:
    """``from_local`` only ever adds to the bucket: push (or status), never a deletion."""
    if not from_local:
        return
    if direction == "pull":
        raise ConfigError("--from-local sends offline work to the bucket: use it with push (or status), not pull")
    if delete:
        raise ConfigError("--from-local never deletes: the offline folder holds only part of the bucket; drop --delete")




class _CallableModule(types.ModuleType):
    """``drumscribe.sync`` names both this package and the ``sync()`` function (the public API says so).

    Python binds the *package* to ``drumscribe.sync`` whenever a submodule is imported, and the
    lazy export binds the function there otherwise; whichever wins, the other spelling breaks
    (``import drumscribe.sync.plan`` after ``from drumscribe import sync``, or a call after an
    import). So the package itself is the public object: calling it runs ``sync()``.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> SyncReport:
        return _sync(*args, **kwargs)


_sync = sync
_sync.__name__ = "sync"
sys.modules[__name__].__class__ = _CallableModule
sync = sys.modules[__name__]  # so ``from drumscribe import sync`` (lazy export) yields the callable package
_CallableModule.__call__.__signature__ = inspect.signature(_sync)  # type: ignore[attr-defined]


def offline_jobs_to_push(settings: Settings | None = None) -> list[str]:
    """``transcription.json`` keys of jobs made offline that the configured bucket does not have.

    What ``sync push --from-local`` would send jobs for; ``setup`` and a plain ``sync push`` name
    that command when this is not empty. One listing of ``processed/`` in the bucket; when the
    bucket cannot be listed every offline job counts (better a hint too many than work stranded).
    """
    from drumscribe.errors import DrumscribeError
    from drumscribe.storage import get_storage

    settings = settings or load_settings()
    root = offline_root(settings)
    if not settings.bucket or root == settings.local_root or not (root / "processed").is_dir():
        return []
    made = {p.relative_to(root).as_posix() for p in (root / "processed").glob("*/*/transcription.json")}
    try:
        there = {o.key for o in get_storage(settings, announce=False).list("processed/")} if made else set()
    except DrumscribeError:
        there = set()
    return sorted(made - there)

