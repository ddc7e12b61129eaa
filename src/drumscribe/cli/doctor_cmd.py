"""``drumscribe doctor``: check configuration, credentials, the bucket and its settings."""

from __future__ import annotations

import json
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from drumscribe.cli.app import app, force_local, out, settings_from

STYLE = {"pass": "green", "fail": "bold red", "skip": "dim", "warn": "yellow"}


@app.command("doctor")
def doctor_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (for scripts)."),
    origins: Optional[List[str]] = typer.Option(None, "--origins", metavar="ORIGINS", help="CORS origins you passed to `setup --origins` (repeat or comma-separate)."),
    origin: Optional[str] = typer.Option(None, "--origin", metavar="ORIGIN", help="Also make the CORS preflight a browser on this page (e.g. `drumscribe serve`'s http://127.0.0.1:8000) makes before uploading."),
) -> None:
    """Check that storage works: credentials, bucket, round trip, encryption, lifecycle, CORS, public access.

    Exits 0 only when no check fails. With no bucket configured (or --local) the local mirror is checked.
    """
    from drumscribe.doctor import doctor

    wanted = [o.strip() for v in origins or [] for o in v.split(",") if o.strip()]
    report = doctor(settings_from(ctx), prefer_local=force_local(ctx), origins=wanted or None, origin=origin)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        for line in report.info:
            out.print(f"[blue]info[/] {line}")
        for title, checks in ((f"drumscribe doctor ({report.backend})", report.checks),
                              ("security (as far as these credentials may see)", report.security)):
            if not checks:
                continue
            table = Table(title=title, title_justify="left")
            table.add_column("check")
            table.add_column("result")
            table.add_column("detail", overflow="fold")
            for c in checks:
                detail = escape(c.detail) + (f"\n[italic]fix: {escape(c.hint)}[/]" if c.hint else "")
                table.add_row(c.name, f"[{STYLE[c.status]}]{c.status}[/]", detail)
            out.print(table)
        failed = [c.name for c in report.checks + report.security if c.status == "fail"]
        skipped = [c.name for c in report.checks if c.status == "skip"]
        if failed:
            out.print(f"[bold red]failed:[/] {', '.join(failed)}")
        elif skipped:
            out.print(f"[green]no check failed[/] (skipped: {', '.join(skipped)})")
        else:
            out.print("[green]all checks passed[/]")
        warned = [c.name for c in report.security if c.status == "warn"]
        if warned:
            out.print(f"[yellow]security warnings:[/] {', '.join(warned)}")
    if not report.ok:
        # SystemExit rather than typer.Exit: GuardedGroup re-raises SystemExit as is
        raise SystemExit(1)
