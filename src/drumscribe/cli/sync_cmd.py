"""``drumscribe sync push|pull|status [PREFIX]``: mirror uploads/ and processed/ with the bucket."""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter, defaultdict
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from drumscribe.cli.app import app, err, force_local, out, settings_from
from drumscribe.errors import ConfigError, InputError
from drumscribe.terminal import printable

sync_app = typer.Typer(
    help="Mirror uploads/ and processed/ between the local folder and the S3 bucket (content-based, three-way).",
    no_args_is_help=True,
)
app.add_typer(sync_app, name="sync")

SHOWN_KEYS = 20  # per action, in the plan table's key listing


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _base_reason(reason: str) -> str:
    return reason.split(" (--prefer")[0]


def print_plan(plan, console, *, title: str) -> None:
    """The plan as a table: one row per (action, reason) with counts and bytes, then the keys that matter."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for item in plan.items:
        groups[(item.action, _base_reason(item.reason))].append(item)
    order = {a: n for n, a in enumerate(("upload", "download", "delete", "conflict", "error", "skip"))}
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("action")
    table.add_column("files", justify="right")
    table.add_column("bytes", justify="right")
    table.add_column("reason")
    for (action, reason), items in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1])):
        table.add_row(action, str(len(items)), _size(sum(i.size for i in items)), escape(reason))
    if not groups:
        table.add_row("-", "0", "0 B", "nothing under this prefix on either side")
    console.print(table)
    if plan.excluded:
        console.print(f"excluded by --include/--exclude: {plan.excluded}")
    for action in ("delete", "conflict", "error"):
        items = plan.of(action)
        for item in items[:SHOWN_KEYS]:
            where = f" ({item.side})" if item.side else ""
            console.print(f"  {action}{where}: {escape(printable(item.key))} — {escape(printable(item.reason))}")
        if len(items) > SHOWN_KEYS:
            console.print(f"  … and {len(items) - SHOWN_KEYS} more {action}s (--json lists them all)")


class _Reporter:
    """Progress: a rich bar (files and bytes) on a terminal, one plain line per file otherwise."""

    def __init__(self, plan, *, quiet: bool):
        from drumscribe.sync.plan import DOWNLOAD, UPLOAD

        self.quiet = quiet
        self.total_files = sum(1 for i in plan.items if i.action in (UPLOAD, DOWNLOAD, "delete"))
        self.total_bytes = plan.bytes_to_transfer()
        self.files = 0
        self.lock = threading.Lock()
        self.bar = None
        if not quiet and err.is_terminal and self.total_files:
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

            self.bar = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                console=err, transient=False,
            )
            self.task = self.bar.add_task(self._label(), total=self.total_bytes or None)

    def _label(self) -> str:
        return f"{self.files}/{self.total_files} files"

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()

    def __call__(self, event: str, item, nbytes: int) -> None:
        if event == "bytes" and self.bar:
            self.bar.update(self.task, advance=nbytes)
        elif event in ("done", "error"):
            with self.lock:
                self.files += 1
            if self.bar:
                self.bar.update(self.task, description=self._label())
            elif not self.quiet and event == "done":
                where = f" ({item.side})" if item.side else ""
                print(f"{item.action}{where} {printable(item.key)} ({_size(item.size)})", file=sys.stderr, flush=True)


def _stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def _confirm_deletes(plan) -> bool:
    deletes = plan.of("delete")
    sides = Counter(i.side for i in deletes)
    what = ", ".join(f"{n} {side}" for side, n in sides.items())
    if not _stdin_is_tty():
        raise InputError(f"--delete would delete {len(deletes)} file(s) ({what}); re-run with --yes to confirm (no terminal to ask on)")
    for item in deletes[:SHOWN_KEYS]:
        err.print(f"  delete ({item.side}): {escape(printable(item.key))}")
    if len(deletes) > SHOWN_KEYS:
        err.print(f"  … and {len(deletes) - SHOWN_KEYS} more")
    return typer.confirm(f"Delete {len(deletes)} file(s) ({what})?", default=False, err=True)


def _run(ctx: typer.Context, direction: str, prefix: str, *, dry_run: bool = False, delete: bool = False, yes: bool = False,
         max_delete: Optional[int] = None, include: List[str] = (), exclude: List[str] = (), prefer: Optional[str] = None,
         concurrency: int = 10, quiet: bool = False, as_json: bool = False, from_local: bool = False) -> None:
    from drumscribe import sync as lib

    if force_local(ctx):
        raise ConfigError("sync copies between the local folder and S3, so it cannot run with --local")
    settings = settings_from(ctx)
    if concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {concurrency}")
    lib.check_from_local(direction, delete=delete, from_local=from_local)
    client, _ = lib.open_bucket(settings, concurrency)
    plan, manifest = lib.make_plan(direction, prefix, settings=settings, client=client, include=include, exclude=exclude,
                                   prefer=prefer, delete=delete and direction != "status", concurrency=concurrency,
                                   from_local=from_local)
    title = escape(f"{direction}: {lib.sync_root(settings, from_local)} ⇄ s3://{settings.bucket}/{plan.prefix}")
    if direction == "status" or dry_run:
        report = lib.report_for(plan, settings, dry_run=dry_run, from_local=from_local)
        if as_json:
            out.print_json(json.dumps(report.as_dict()))
        else:
            print_plan(plan, out, title=("(dry run) " if dry_run else "") + title)
        raise SystemExit(report.exit_code)
    lib.check_deletes(plan, max_delete=max_delete)
    if plan.of("delete") and not yes:
        if not as_json and not quiet:
            print_plan(plan, err, title=title)
        if not _confirm_deletes(plan):
            raise InputError("deletions not confirmed; nothing was changed")
    with _Reporter(plan, quiet=quiet or as_json) as reporter:
        report = lib.run_plan(plan, manifest, settings=settings, client=client, concurrency=concurrency, progress=reporter,
                              from_local=from_local)
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    elif not quiet:
        c = report.planned
        err.print(
            f"{direction}{' --from-local' if from_local else ''}: {report.transferred} transferred ({_size(report.bytes_transferred)}), {report.deleted} deleted, "
            f"{c['skip']} unchanged/skipped, {len(report.conflicts)} conflict(s), {len(report.errors)} error(s) in {report.seconds:.1f} s"
        )
    if direction == "push" and not from_local and not as_json and not quiet:
        waiting = lib.offline_jobs_to_push(settings)
        if waiting:  # the usual surprise after setup: "0 transferred" while offline work waits
            err.print(f"{len(waiting)} job(s) made offline are not in the bucket yet: `drumscribe sync push --from-local` sends them")
    for key in report.conflicts[:SHOWN_KEYS]:
        err.print(f"conflict: {escape(printable(key))} (changed on both sides or never synced; --prefer local|remote settles it)")
    if report.errors:
        err.print(f"{len(report.errors)} file(s) failed:")
        for key, message in report.errors:
            err.print(escape(printable(f"  {key}: {message}" if key not in message else f"  {message}")))
    raise SystemExit(report.exit_code)


_PREFIX = typer.Argument("", metavar="PREFIX", help="Only keys under this prefix, e.g. processed/alice/ (default: uploads/ and processed/).")
_DRY = typer.Option(False, "--dry-run", "-n", help="Print the plan; change nothing.")
_DELETE = typer.Option(False, "--delete", help="Also delete files the source side deleted since the last sync.")
_YES = typer.Option(False, "--yes", "-y", help="Do not ask before deleting.")
_MAXDEL = typer.Option(None, "--max-delete", metavar="N", help="Refuse to run if more than N files would be deleted.")
_INCLUDE = typer.Option([], "--include", metavar="PATTERN", help="Only keys matching this glob (relative to the sync root; repeatable).")
_EXCLUDE = typer.Option([], "--exclude", metavar="PATTERN", help="Skip keys matching this glob (repeatable); never deleted either.")
_PREFER = typer.Option(None, "--prefer", metavar="SIDE", help="Settle conflicts: local or remote wins.")
_CONC = typer.Option(10, "--concurrency", "-j", metavar="N", help="Files transferred in parallel.")
_QUIET = typer.Option(False, "--quiet", "-q", help="Only errors.")
_JSON = typer.Option(False, "--json", help="Print the plan and results as JSON on stdout.")
_FROM_LOCAL = typer.Option(False, "--from-local", help="Send what was made offline (the default local folder, "
                           "$DRUMSCRIBE_HOME/local) to the configured bucket. Content-based: safe to run again; never deletes.")


@sync_app.command("push")
def push(ctx: typer.Context, prefix: str = _PREFIX, dry_run: bool = _DRY, delete: bool = _DELETE, yes: bool = _YES,
         max_delete: Optional[int] = _MAXDEL, include: List[str] = _INCLUDE, exclude: List[str] = _EXCLUDE,
         prefer: Optional[str] = _PREFER, concurrency: int = _CONC, quiet: bool = _QUIET, as_json: bool = _JSON,
         from_local: bool = _FROM_LOCAL) -> None:
    """Upload local changes to the bucket (--from-local: what was made before a bucket was configured)."""
    _run(ctx, "push", prefix, dry_run=dry_run, delete=delete, yes=yes, max_delete=max_delete, include=include,
         exclude=exclude, prefer=prefer, concurrency=concurrency, quiet=quiet, as_json=as_json, from_local=from_local)


@sync_app.command("pull")
def pull(ctx: typer.Context, prefix: str = _PREFIX, dry_run: bool = _DRY, delete: bool = _DELETE, yes: bool = _YES,
         max_delete: Optional[int] = _MAXDEL, include: List[str] = _INCLUDE, exclude: List[str] = _EXCLUDE,
         prefer: Optional[str] = _PREFER, concurrency: int = _CONC, quiet: bool = _QUIET, as_json: bool = _JSON) -> None:
    """Download remote changes into the local folder."""
    _run(ctx, "pull", prefix, dry_run=dry_run, delete=delete, yes=yes, max_delete=max_delete, include=include,
         exclude=exclude, prefer=prefer, concurrency=concurrency, quiet=quiet, as_json=as_json)


@sync_app.command("status")
def status(ctx: typer.Context, prefix: str = _PREFIX, include: List[str] = _INCLUDE, exclude: List[str] = _EXCLUDE,
           as_json: bool = _JSON, from_local: bool = _FROM_LOCAL) -> None:
    """Show what push and pull would do (upload / download / conflict), changing nothing."""
    _run(ctx, "status", prefix, include=include, exclude=exclude, as_json=as_json, from_local=from_local)
