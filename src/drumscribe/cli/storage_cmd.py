"""Storage commands: ``upload``, ``ls``, ``get``, ``rm``, ``presign``.

They work the same on S3 and on the local mirror (``--local``, or no bucket configured).
Results go to stdout (one key, path or URL per line, so they pipe well); messages to stderr.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import List, Optional

import typer

from drumscribe.cli.app import app, err, force_local, settings_from
from drumscribe.errors import ConfigError, InputError, NotFoundError
from drumscribe.keys import validate_key, validate_prefix
from drumscribe.terminal import printable
from drumscribe.storage import get_storage
from drumscribe.storage._common import check_expiry, download_target
from drumscribe.storage.base import Storage

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _storage(ctx: typer.Context) -> Storage:
    return get_storage(settings_from(ctx), prefer_local=force_local(ctx))


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``12h``, ``7d`` -> seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(f"--expires takes seconds or a duration like 15m, 12h, 7d; got {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _interactive() -> bool:
    return sys.stdin.isatty()


@app.command("upload")
def upload_cmd(
    ctx: typer.Context,
    files: List[Path] = typer.Argument(..., metavar="FILE...", help="Audio files to upload.", show_default=False),
    content_type: Optional[str] = typer.Option(None, "--content-type", metavar="TYPE", help="Override the type guessed from the extension."),
    force: bool = typer.Option(False, "--force", help="Store a file again even if its content is already stored (default: say which key has it)."),
) -> None:
    """Upload files to uploads/<user>/…; prints each object's key (content already stored is not stored again)."""
    from drumscribe.storage.uploads import _checked_size, store_upload

    settings = settings_from(ctx)
    for path in files:  # check every file first, so a bad one does not leave a half-done batch
        _checked_size(path, settings)
    storage = get_storage(settings, prefer_local=force_local(ctx))
    for path in files:
        info, already = store_upload(path, storage=storage, settings=settings, content_type=content_type, force=force)
        if already:
            err.print(f"{printable(str(path))}: already stored as {printable(info.key)}, not stored again (--force stores it again)",
                      markup=False, highlight=False, soft_wrap=True)
        typer.echo(info.key)


@app.command("ls")
def ls_cmd(
    ctx: typer.Context,
    prefix: str = typer.Argument("", metavar="PREFIX", help="Only keys starting with this (e.g. uploads/alice/).", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List objects: key, size in bytes, last modified (UTC)."""
    validate_prefix(prefix)
    storage = _storage(ctx)
    objects = list(storage.list(prefix))
    if as_json:
        rows = [
            {
                "key": o.key,
                "size": o.size,
                "etag": o.etag,
                "last_modified": o.last_modified.isoformat() if o.last_modified else None,
                "storage_class": o.storage_class,
            }
            for o in objects
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not objects:
        err.print(f"No objects under {storage.uri(prefix) if prefix else storage.uri()}")
        return
    keys = [printable(o.key) for o in objects]  # a bucket may hold keys other tools wrote
    width = max(len("KEY"), *(len(k) for k in keys))
    size_width = max(len("SIZE"), *(len(str(o.size)) for o in objects))
    typer.echo(f"{'KEY':<{width}}  {'SIZE':>{size_width}}  MODIFIED")
    for o, key in zip(objects, keys):
        modified = o.last_modified.strftime("%Y-%m-%d %H:%M:%S") if o.last_modified else "-"
        typer.echo(f"{key:<{width}}  {o.size:>{size_width}}  {modified}")


@app.command("get")
def get_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., metavar="KEY", help="Object key.", show_default=False),
    dest: Optional[str] = typer.Argument(None, metavar="DEST", help="File or folder (ending in /) to write; default: the key's file name here.", show_default=False),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing file."),
) -> None:
    """Download an object; prints the path written."""
    validate_key(key)
    target = download_target(key, dest or Path.cwd()).absolute()
    if target.exists() and not force:
        raise InputError(f"{target} already exists", hint="pass --force to overwrite it")
    written = _storage(ctx).download(key, target)
    typer.echo(str(written))


@app.command("rm")
def rm_cmd(
    ctx: typer.Context,
    keys: List[str] = typer.Argument(..., metavar="KEY...", help="Object keys to delete.", show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete objects (asks first unless --yes)."""
    keys = list(dict.fromkeys(validate_key(k) for k in keys))
    if not yes and not _interactive():
        raise InputError("refusing to delete without confirmation: pass --yes (stdin is not a terminal)")
    storage = _storage(ctx)
    if not yes:
        what = keys[0] if len(keys) == 1 else f"{len(keys)} objects"
        if not typer.confirm(f"Delete {what} from {storage.uri()}?", default=False, err=True):
            err.print("Nothing deleted.")
            raise typer.Exit(1)
    present = [k for k in keys if storage.exists(k)]
    missing = [k for k in keys if k not in present]
    for key in storage.delete_many(present) if present else []:
        typer.echo(f"deleted {printable(key)}")
    if missing:
        raise NotFoundError(f"not found: {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")


@app.command("presign")
def presign_cmd(
    ctx: typer.Context,
    key: str = typer.Argument(..., metavar="KEY", help="Object key.", show_default=False),
    expires: str = typer.Option("3600", "--expires", "-e", metavar="DURATION", help="Lifetime: seconds or 15m / 12h / 7d (max 7 days)."),
    put: bool = typer.Option(False, "--put", help="A URL that uploads to KEY instead of downloading it."),
    content_type: Optional[str] = typer.Option(None, "--content-type", metavar="TYPE", help="With --put: the Content-Type the uploader must send."),
) -> None:
    """Print a temporary URL for downloading (or, with --put, uploading) an object."""
    validate_key(key)
    seconds = check_expiry(parse_duration(expires))  # before any request
    storage = _storage(ctx)
    if not put:
        storage.head(key)  # a URL to a missing object would only fail later, in someone's browser
    typer.echo(storage.presign(key, expires=seconds, method="PUT" if put else "GET", content_type=content_type))
