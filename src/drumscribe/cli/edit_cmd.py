"""``drumscribe edit JOB``: correct a transcription in the page, or bring corrections back from a DAW."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from drumscribe.cli.app import app, err, force_local, settings_from
from drumscribe.errors import InputError


@app.command("edit")
def edit(
    ctx: typer.Context,
    job_id: str = typer.Argument(..., metavar="JOB", help="Job id (see `drumscribe jobs`)."),
    import_file: Optional[Path] = typer.Option(None, "--import", metavar="FILE",
                                               help="Store this MIDI or transcription JSON as the job's edited revision (no browser)."),
    note_map: Optional[str] = typer.Option(None, "--note-map", help="--import of MIDI: the note map it was written with (default general-midi)."),
    midi_align: str = typer.Option("auto", "--midi-align", help="--import of MIDI: auto, audio or bar (as `show --midi-align` wrote it)."),
    force: bool = typer.Option(False, "--force", help="--import: even a JSON edited from an older revision, or another job's."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the editor's URL instead of opening a browser."),
    revision: str = typer.Option("latest", "--revision", help="Start from: latest (the edited one when there is one) or model."),
) -> None:
    """Correct a job's transcription: the page with a server on this machine that saves (edited.json,
    next to the model's transcription.json); every view and export then uses it."""
    settings = settings_from(ctx)
    if import_file is None:
        if note_map or midi_align != "auto" or force:
            raise InputError("--note-map, --midi-align and --force go with --import FILE")
        from drumscribe.jobs.edit_server import edit_job

        session = edit_job(job_id, settings, revision=revision, open_browser=not no_browser, prefer_local=force_local(ctx),
                           announce=lambda line: err.print(escape(line)))
        why = {"closed": "its page was closed", "idle": "its page stopped answering", "interrupted": "Ctrl-C"}.get(session.reason, "stopped")
        if session.last is None:
            err.print(f"Editor stopped ({why}); nothing was saved.")
        else:
            err.print(escape(f"Editor stopped ({why}); saved {len(session.saves)} time(s): job {job_id} now shows its "
                             f"{session.last.describe()}, revision {session.last.revision}."))
        return
    if no_browser or revision != "latest":
        raise InputError("--import stores the file without a browser; leave out --no-browser and --revision")
    from drumscribe.jobs.edits import import_edit

    result = import_edit(job_id, import_file, note_map=note_map, midi_align=midi_align, force=force, settings=settings,
                         prefer_local=force_local(ctx))
    edited = result.edited
    how = f", read as aligned to the {'audio' if result.align == 'audio' else 'bar grid (midi_offset undone)'}" if result.align else ""
    err.print(escape(f"Stored {import_file.name} as job {job_id}'s {edited.describe()}{how}; revision {edited.revision}"
                     + (f", replacing revision {result.replaced.revision}" if result.replaced else "") + "."))
    if result.ignored_notes:
        notes = ", ".join(f"{note} (x{n})" for note, n in sorted(result.ignored_notes.items()))
        err.print(escape(f"Left out notes no drum maps to: {notes}; --note-map names the map the file was written with."))
