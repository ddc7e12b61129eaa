"""``drumscribe jobs | show JOB | open JOB | stats``: look at stored results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from drumscribe.cli.app import app, err, force_local, out, settings_from
from drumscribe.errors import InputError

FORMATS = ("tab", "json", "midi")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def _hits(counts: dict[str, int]) -> str:
    from drumscribe.transcription.instruments import INSTRUMENTS

    return " ".join(f"{INSTRUMENTS[n].label if n in INSTRUMENTS else n} {c}" for n, c in counts.items())


def _usd(amount: float) -> str:
    # a test bucket costs fractions of a cent: show them instead of $0.0000
    return f"${amount:.2f}" if amount >= 1 else f"${amount:.6f}".rstrip("0").rstrip(".") if amount else "$0"


def _wide(console):
    """Piped output is read by scripts and pagers: do not squeeze tables into 80 columns."""
    from rich.console import Console

    return console if console.is_terminal else Console(highlight=False, width=200)


def _date(created_at: str | None) -> str:
    return (created_at or "").replace("T", " ").rstrip("Z")[:16]


@app.command("jobs")
def jobs(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, "--user", "-u", help="Whose jobs (default: DRUMSCRIBE_USER; '*' for everyone)."),
    limit: int = typer.Option(20, "--limit", "-n", help="Show at most N jobs (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List transcription jobs, newest first."""
    from drumscribe.jobs.store import list_jobs

    settings = settings_from(ctx)
    found = list_jobs(settings, user=user, limit=limit or None, prefer_local=force_local(ctx))
    if as_json:
        out.print_json(json.dumps([j.as_dict() for j in found]))
        return
    if not found:
        err.print(f"No jobs for user {user or settings.user!r}.")
        return
    all_users = (user or "") == "*"
    table = Table(show_edge=False, pad_edge=False)
    id_width = max(len(f"{j.user_id}/{j.job_id}" if all_users else j.job_id) for j in found)
    table.add_column("job", no_wrap=True, min_width=id_width)  # ids are what `show` takes: never cut them
    table.add_column("source", overflow="fold")
    table.add_column("date (UTC)", no_wrap=True)
    table.add_column("length", justify="right", no_wrap=True)
    table.add_column("BPM", justify="right", no_wrap=True)
    table.add_column("hits", overflow="fold")
    for j in found:
        job = f"{j.user_id}/{j.job_id}" if all_users else j.job_id
        if j.error:
            table.add_row(escape(job), "", "", "", "", escape(f"unreadable: {j.error}"))
            continue
        table.add_row(escape(job), escape(j.source or ""), _date(j.created_at), _duration(j.duration),
                      f"{j.tempo:.0f}" if j.tempo else "", escape(_hits(j.counts)))
    _wide(out).print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., metavar="JOB", help="Job id (see `drumscribe jobs`)."),
    fmt: str = typer.Option("tab", "--format", "-f", help="tab (summary and drum tab), json or midi."),
    bars: Optional[str] = typer.Option(None, "--bars", help="Only bars A-B of the tab, e.g. 5-8."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Show one job: a summary and a drum tab, or its JSON or MIDI."""
    from drumscribe.jobs.store import load_job
    from drumscribe.views.tab import parse_bars, render_tab

    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    chosen = parse_bars(bars)
    settings = settings_from(ctx)
    t = load_job(job_id, settings, prefer_local=force_local(ctx))
    if fmt == "midi":
        data = _midi_bytes(ctx, settings, t, job_id)
        _write_binary(data, output)
        return
    if fmt == "json":
        text = t.to_json() + "\n"
    else:
        counts = _hits(t.counts()) or "no hits"
        lines = [
            f"job      {t.job_id or job_id}" + (f"  (user {t.user_id})" if t.user_id else ""),
            f"source   {t.source.name or t.source.key or '?'}",
            f"created  {_date(t.created_at)} UTC",
            f"length   {_duration(t.duration)}   tempo {f'{t.tempo:.1f} BPM' if t.tempo is not None else 'none (no steady pulse)'}   {len(t.beats)} beats",
            f"hits     {counts}",
            "",
            render_tab(t, chosen),
        ]
        text = "\n".join(lines)
    if output:
        from drumscribe.transcription.result import write_atomic

        write_atomic(output, text)
        err.print(f"Wrote {output}")
    else:
        typer.echo(text, nl=False)


def _midi_bytes(ctx: typer.Context, settings, t, job_id: str) -> bytes:
    from drumscribe.errors import NotFoundError
    from drumscribe.keys import midi_key
    from drumscribe.storage import get_storage

    storage = get_storage(settings, prefer_local=force_local(ctx), announce=False)
    try:
        return storage.get(midi_key(t.user_id or settings.user, job_id))
    except NotFoundError:
        return t.to_midi()  # older jobs without output.mid: render it from the JSON


def _write_binary(data: bytes, output: Optional[Path]) -> None:
    if output:
        from drumscribe.transcription.result import write_atomic

        write_atomic(output, data)
        err.print(f"Wrote {output} ({len(data)} bytes)")
        return
    if sys.stdout.isatty():
        raise InputError("not writing binary MIDI to a terminal; use -o FILE.mid or redirect stdout")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@app.command("open")
def open_job(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., metavar="JOB", help="Job id (see `drumscribe jobs`)."),
    expires: int = typer.Option(3600, "--expires", help="Seconds the S3 links stay valid (max 7 days)."),
) -> None:
    """Print links (S3: presigned URLs) or paths (local) to a job's MIDI and JSON."""
    from drumscribe.jobs.store import job_files
    from drumscribe.storage import get_storage

    settings = settings_from(ctx)
    storage = get_storage(settings, prefer_local=force_local(ctx))
    files = job_files(job_id, settings, storage)
    for label in ("midi", "json"):
        key = files[label]
        if storage.name == "local":
            path = Path(storage.root) / key  # type: ignore[attr-defined]
            typer.echo(f"{label}  {path}" + ("" if path.exists() else "  (missing)"))
        else:
            typer.echo(f"{label}  {storage.presign(key, expires=expires)}")


@app.command("stats")
def stats(
    ctx: typer.Context,
    prices: Optional[Path] = typer.Option(None, "--prices", help="JSON price table (USD per GB-month per storage class)."),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
) -> None:
    """Objects and bytes per prefix and user, and an estimated monthly storage cost."""
    from drumscribe.cli.sync_cmd import _size
    from drumscribe.stats import storage_stats

    settings = settings_from(ctx)
    s = storage_stats(settings, prices=prices, prefer_local=force_local(ctx))
    if as_json:
        out.print_json(json.dumps(s.as_dict()))
        return
    out.print(f"{s.backend}: {escape(s.location)}   {s.total.objects} objects, {_size(s.total.bytes)}")
    for title, rows in (("prefix", s.prefixes), ("user", s.users)):
        table = Table(show_edge=False, pad_edge=False)
        table.add_column(title)
        table.add_column("objects", justify="right")
        table.add_column("bytes", justify="right")
        for name, tally in rows.items():
            table.add_row(escape(name), str(tally.objects), _size(tally.bytes))
        _wide(out).print(table)
    table = Table(show_edge=False, pad_edge=False)
    for name in ("storage class", "objects", "bytes", "USD/GB-month", "USD/month"):
        table.add_column(name, justify="left" if name == "storage class" else "right")
    for cls, cost in s.classes.items():
        table.add_row(cls, str(cost.objects), _size(cost.bytes),
                      "?" if cost.usd_per_gb_month is None else f"{cost.usd_per_gb_month:g}",
                      "?" if cost.usd_month is None else _usd(cost.usd_month))
    _wide(out).print(table)
    out.print(f"estimated storage cost: {_usd(s.usd_month)}/month ({escape(s.prices_source)}, prices of {s.prices_date}; "
              "requests and transfer not included)")
    if s.unpriced:
        err.print(f"no price for {', '.join(s.unpriced)}: add it with --prices FILE.json")
