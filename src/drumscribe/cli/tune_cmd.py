"""``drumscribe tune``: learn from the user's corrections (a profile under models/{user}/)."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.markup import escape

from drumscribe.cli.app import app, err, force_local, out, settings_from
from drumscribe.errors import InputError


@app.command("tune")
def tune(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, "--user", "-u", help="Whose corrections (default: DRUMSCRIBE_USER)."),
    show_status: bool = typer.Option(False, "--status", help="Show the profile in use and the last tuning; change nothing."),
    reset: bool = typer.Option(False, "--reset", help="Remove the profile: transcriptions use the shipped model again."),
    fine_tune: Optional[bool] = typer.Option(None, "--fine-tune/--no-fine-tune",
                                             help="Also try fine-tuning the networks (default: when the `train` extra is installed)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report (or the status) as JSON."),
) -> None:
    """Tune the model on your corrected jobs: thresholds and offset, the last layer, or (with the train
    extra) the networks; kept only when leave-one-job-out cross-validation says it helps."""
    from drumscribe.learning import tune as tuning

    if show_status and reset:
        raise InputError("--status and --reset: give one of them")
    if (show_status or reset) and fine_tune is not None:
        raise InputError("--fine-tune/--no-fine-tune go with tuning, not with --status or --reset")
    settings = settings_from(ctx)
    local = force_local(ctx)
    if reset:
        removed = tuning.reset(settings=settings, user=user, prefer_local=local)
        who = user or settings.user
        if as_json:
            out.print_json(json.dumps({"user": who, "removed": removed}))
        elif removed:
            err.print(escape(f"Removed the tuning profile of {who}: transcriptions use the shipped model again."))
        else:
            err.print(escape(f"{who} has no tuning profile; transcriptions already use the shipped model."))
        return
    if show_status:
        found = tuning.status(settings=settings, user=user, prefer_local=local)
        if as_json:
            from dataclasses import asdict

            doc = {"user": found.user, "profile": asdict(found.profile) if found.profile else None, "stale": found.stale,
                   "damaged": found.damaged, "last": found.last.to_dict() if found.last else None}
            out.print_json(json.dumps(doc))
            return
        for line in found.lines():
            out.print(escape(line))
        return
    with err.status("tuning", spinner="dots") as bar:
        def progress(line: str) -> None:
            bar.update(escape(f"tuning: {line}"))

        report = tuning.tune(settings=settings, user=user, fine_tune=fine_tune, prefer_local=local,
                             progress=progress if err.is_terminal else None)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    for line in report.lines():
        out.print(escape(line))
