"""``drumscribe restore KEY...``: ask S3 to bring archived originals back (see storage/restore.py)."""

from __future__ import annotations

from typing import List

import typer

from drumscribe.cli.app import app, settings_from


@app.command("restore")
def restore_cmd(
    ctx: typer.Context,
    keys: List[str] = typer.Argument(..., metavar="KEY...", help="Keys of archived objects (GLACIER, DEEP_ARCHIVE), e.g. uploads/alice/….wav.", show_default=False),
    days: int = typer.Option(7, "--days", metavar="N", help="How long the restored copy stays readable."),
    tier: str = typer.Option("Standard", "--tier", metavar="TIER", help="Standard, Bulk (cheaper, slower) or Expedited (GLACIER only, minutes, dearer)."),
) -> None:
    """Restore archived objects for reading; prints where each restore stands (asked, under way, ready)."""
    from drumscribe.storage.restore import restore
    from drumscribe.storage.s3 import S3Storage

    storage = S3Storage(settings_from(ctx))
    for key in keys:
        typer.echo(restore(key, days=days, tier=tier, storage=storage))
