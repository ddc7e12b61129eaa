"""``drumscribe config show``: effective settings and where each came from (secrets masked)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from drumscribe.cli.app import app, out, settings_from

config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Effective settings, lowest to highest priority: defaults, config file, .env, environment, flags."""
    settings = settings_from(ctx)
    rows = settings.describe()
    if as_json:
        out.print_json(json.dumps({name: {"value": value, "source": source} for name, value, source in rows}))
        return
    table = Table("Setting", "Value", "Source", title="drumscribe configuration")
    for name, value, source in rows:
        table.add_row(name, value or "[dim]-[/dim]", source)
    out.print(table)
