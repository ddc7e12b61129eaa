"""``drumscribe jobs | show JOB | view JOB | open JOB | stats``: look at stored results."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from drumscribe.cli.app import app, err, force_local, out, settings_from
from drumscribe.downloads import download_name
from drumscribe.errors import InputError
from drumscribe.terminal import printable
from drumscribe.views import VIEWS
from drumscribe.views.summary import format_date as _date, format_duration as _duration, format_hits as _hits

_LOCATION = {"s3": "bucket", "local": "local", "offline": "offline"}
REVISION_OPTION = typer.Option("latest", "--revision", metavar="REVISION",
                               help="latest (the edited one when the job was corrected), model, or edited.")
# the file `show -o FOLDER` writes for each format: FOLDER/<song><suffix>
SUFFIXES = {"tab": ".txt", "json": ".json", "midi": ".mid", "musicxml": ".musicxml", "html": ".html", "png": ".png", "svg": ".svg"}


def _usd(amount: float) -> str:
    # a test bucket costs fractions of a cent: show them instead of $0.0000
    return f"${amount:.2f}" if amount >= 1 else f"${amount:.6f}".rstrip("0").rstrip(".") if amount else "$0"


def _wide(console):
    """Piped output is read by scripts and pagers: do not squeeze tables into 80 columns."""
    from rich.console import Console

    return console if console.is_terminal else Console(highlight=False, width=200)


@app.command("jobs")
def jobs(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, "--user", "-u", metavar="USER", help="Whose jobs (default: DRUMSCRIBE_USER; '*' for everyone)."),
    limit: int = typer.Option(20, "--limit", "-n", metavar="N", help="Show at most N jobs (0: all)."),
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
    offline = [j for j in found if j.location == "offline"]
    table = Table(show_edge=False, pad_edge=False)
    id_width = max(len(f"{j.user_id}/{j.job_id}" if all_users else j.job_id) for j in found)
    table.add_column("job", no_wrap=True, min_width=id_width)  # ids are what `show` takes: never cut them
    table.add_column("source", overflow="fold")
    table.add_column("date (UTC)", no_wrap=True)
    table.add_column("length", justify="right", no_wrap=True)
    table.add_column("BPM", justify="right", no_wrap=True)
    table.add_column("hits", overflow="fold")
    if offline:  # some jobs live only in the offline folder: say where each one is
        table.add_column("stored", no_wrap=True)
    for j in found:
        job = f"{j.user_id}/{j.job_id}" if all_users else j.job_id
        where = [_LOCATION.get(j.location, j.location)] if offline else []
        if j.error:
            table.add_row(escape(job), "", "", "", "", escape(f"unreadable: {j.error}"), *where)
            continue
        table.add_row(escape(job), escape(printable(j.source or "")), _date(j.created_at), _duration(j.duration),
                      f"{j.tempo:.0f}" if j.tempo else "", escape(_hits(j.counts)) + (" (edited)" if j.edited else ""), *where)
    _wide(out).print(table)
    if offline:
        from drumscribe.storage import offline_root

        err.print(escape(f"{len(offline)} job(s) are only in the offline folder {offline_root(settings)}; "
                         "`drumscribe sync push --from-local` sends them to the bucket"))


@app.command("show")
def show(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., metavar="JOB", help="Job id (see `drumscribe jobs`)."),
    fmt: str = typer.Option("tab", "--format", "-f", metavar="FORMAT", help=f"One of: {', '.join(VIEWS)} (docs/views.md)."),
    bars: Optional[str] = typer.Option(None, "--bars", metavar="A-B", help="Only bars A-B (tab, png, svg), e.g. 5-8."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="PATH", help="Write to this file instead of stdout; a folder: into it, named after the song."),
    embed_audio: bool = typer.Option(False, "--embed-audio", help="html: put the original audio inside the page."),
    expires: int = typer.Option(3600, "--expires", metavar="SECONDS", help="html on S3: seconds the page's links stay valid (max 7 days)."),
    midi_align: Optional[str] = typer.Option(None, "--midi-align", metavar="ALIGN", help="midi: audio (times as in the audio, from 0) or bar (first downbeat on a bar line)."),
    midi_tracks: Optional[str] = typer.Option(None, "--midi-tracks", metavar="TRACKS", help="midi: single (one drum track) or per-instrument (one named track per drum)."),
    midi_tempo: Optional[str] = typer.Option(None, "--midi-tempo", metavar="TEMPO", help="midi: follow (a tempo change only where the tempo really changes) or fixed (one tempo, the detected one)."),
    note_map: Optional[str] = typer.Option(None, "--note-map", metavar="MAP", help="midi: general-midi, superior-drummer-3, addictive-drums-2, steven-slate-drums-5, or a JSON file."),
    revision: str = REVISION_OPTION,
) -> None:
    """Show one job: a summary and a drum tab, or its JSON, MIDI, MusicXML notation, HTML page or grid image.

    A job someone corrected (`drumscribe edit`) shows its edited revision, and says so."""
    from drumscribe.views import render, view
    from drumscribe.views.tab import parse_bars

    view(fmt)  # an unknown format fails here, before anything is read
    if embed_audio and fmt != "html":
        raise InputError("--embed-audio is for --format html (the page); leave it out for other formats")
    options = midi_options(midi_align, midi_tracks, note_map, midi_tempo)  # bad values fail before any lookup
    chosen = parse_bars(bars)
    settings = settings_from(ctx)
    found = find_revision_said(ctx, job_id, revision)
    storage, t = found.storage, found.transcription
    if output is not None and output.is_dir():  # a folder: the file inside is named after the song
        output = output / download_name(t.source.name, SUFFIXES[fmt], job_id)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        from drumscribe.jobs.page import job_page

        folder = output.parent if output else Path.cwd()
        result: str | bytes = job_page(job_id, settings, storage, page_dir=folder, embed_audio=embed_audio, expires=expires,
                                       found=found)
    elif fmt == "midi":
        # the stored output.mid as it is, unless asked for another layout or the job was edited: then rendered from the events
        result = t.to_midi(**options) if options or found.which == "edited" else _midi_bytes(storage, settings, t, job_id)
    elif fmt == "json" and found.which == "edited":
        from drumscribe.keys import edited_key

        result = storage.get(edited_key(t.user_id or settings.user, job_id)).decode("utf-8")  # with its "edit" object
    else:
        result = render(t, fmt, bars=chosen, job_id=job_id)
    if isinstance(result, bytes):
        _write_binary(result, output, fmt, suggested=download_name(t.source.name, SUFFIXES[fmt], job_id))
    elif output:
        from drumscribe.transcription.result import write_atomic

        write_atomic(output, result)
        err.print(f"Wrote {escape(str(output))}")
    else:
        typer.echo(result, nl=False)


@app.command("view")
def view_cmd(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., metavar="JOB", help="Job id (see `drumscribe jobs`)."),
    no_open: bool = typer.Option(False, "--no-open", help="Only write the page and print its path."),
    embed_audio: bool = typer.Option(False, "--embed-audio", help="Put the original audio inside the page."),
    expires: int = typer.Option(3600, "--expires", metavar="SECONDS", help="S3: seconds the page's links stay valid (max 7 days)."),
    revision: str = REVISION_OPTION,
) -> None:
    """Open a job's page in the browser: drum grid, playback with synthesized drums, summary.

    The page edits too; with no server behind it, Save downloads edited.json (`drumscribe edit JOB
    --import edited.json` stores it). `drumscribe edit JOB` opens it with a server that saves."""
    from drumscribe.jobs.page import open_in_browser, view_job

    settings = settings_from(ctx)
    find_revision_said(ctx, job_id, revision)  # says which revision the page shows
    path = view_job(job_id, settings, open_browser=False, embed_audio=embed_audio, expires=expires,
                    prefer_local=force_local(ctx), revision=revision)
    typer.echo(str(path))
    if not no_open and not open_in_browser(path):
        err.print("No browser could be opened here: open the file above in one.")


def find_revision_said(ctx: typer.Context, job_id: str, revision: str):
    """The job's revision to show (``edits.find_revision``); says on stderr where it comes from
    (the offline folder, an edited revision)."""
    from drumscribe.jobs.edits import find_revision

    settings = settings_from(ctx)
    found = find_revision(job_id, revision, settings=settings, prefer_local=force_local(ctx))
    _say_if_offline(found.storage, settings)
    if found.note():
        err.print(escape(found.note()))
    return found


def midi_options(align: Optional[str], tracks: Optional[str], note_map: Optional[str], tempo: Optional[str] = None) -> dict:
    """The MIDI options given on the command line, checked (a one-line error for a bad one)."""
    from drumscribe.transcription.midi import DEFAULT_ALIGN, DEFAULT_TEMPO, DEFAULT_TRACKS, check_options
    from drumscribe.transcription.notemap import load_note_map

    check_options(align or DEFAULT_ALIGN, tracks or DEFAULT_TRACKS, tempo or DEFAULT_TEMPO)
    given = {"align": align, "tracks": tracks, "tempo": tempo, "note_map": load_note_map(note_map) if note_map else None}
    return {k: v for k, v in given.items() if v is not None}


def _say_if_offline(storage, settings) -> None:
    from drumscribe.storage import offline_root

    if getattr(storage, "root", None) is not None and settings.bucket and Path(storage.root) == offline_root(settings).absolute():
        err.print(escape(f"(from the offline folder {storage.root}: not in the bucket yet; "
                         "`drumscribe sync push --from-local` sends it)"))


def _midi_bytes(storage, settings, t, job_id: str) -> bytes:
    from drumscribe.errors import NotFoundError
    from drumscribe.keys import midi_key

    try:
        return storage.get(midi_key(t.user_id or settings.user, job_id))
    except NotFoundError:
        return t.to_midi()  # older jobs without output.mid: render it from the JSON


def _write_binary(data: bytes, output: Optional[Path], fmt: str = "midi", suggested: str | None = None) -> None:
    if output:
        from drumscribe.transcription.result import write_atomic

        write_atomic(output, data)
        err.print(f"Wrote {escape(str(output))} ({len(data)} bytes)")
        return
    if sys.stdout.isatty():
        name = shlex.quote(suggested or f"FILE{SUFFIXES.get(fmt, '.' + fmt)}")
        raise InputError(f"not writing {fmt} to a terminal; use -o {name} (or -o FOLDER) or redirect stdout")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@app.command("open")
def open_job(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., metavar="JOB", help="Job id (see `drumscribe jobs`)."),
    expires: int = typer.Option(3600, "--expires", metavar="SECONDS", help="Seconds the S3 links stay valid (max 7 days)."),
    revision: str = REVISION_OPTION,
) -> None:
    """Print links (S3: presigned URLs) or paths (local) to a job's MIDI and JSON (the edited ones when it was corrected)."""
    from drumscribe.jobs.edits import edited_midi
    from drumscribe.jobs.store import job_files
    from drumscribe.keys import edited_key

    settings = settings_from(ctx)
    found = find_revision_said(ctx, job_id, revision)
    storage, t = found.storage, found.transcription
    files = job_files(job_id, settings, storage)
    if found.which == "edited":
        user = t.user_id or settings.user
        files = {"midi": edited_midi(storage, user, job_id, found.edited), "json": edited_key(user, job_id)}
    for label, suffix in (("midi", ".mid"), ("json", ".json")):
        key = files[label]
        if storage.name == "local":
            path = Path(storage.root) / key  # type: ignore[attr-defined]
            typer.echo(f"{label}  {path}" + ("" if path.exists() else "  (missing)"))
        else:  # the browser saves it after the song, not as output.mid
            typer.echo(f"{label}  {storage.presign(key, expires=expires, filename=download_name(t.source.name, suffix, job_id))}")


@app.command("stats")
def stats(
    ctx: typer.Context,
    prices: Optional[Path] = typer.Option(None, "--prices", metavar="FILE", help="JSON price table (USD per GB-month per storage class)."),
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
    if any(cls != "STANDARD" for cls in s.classes):
        out.print(f"storage classes other than STANDARD save {_usd(s.saving_usd_month)}/month against keeping it all in STANDARD"
                  " (retrieval and restore charges not included)")
    if s.unpriced:
        err.print(f"no price for {', '.join(s.unpriced)}: add it with --prices FILE.json")
