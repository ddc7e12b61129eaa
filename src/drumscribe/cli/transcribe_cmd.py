"""``drumscribe transcribe``: audio in, MIDI + JSON stored under processed/ (and optionally ``-o``).

Every input becomes one job (see ``drumscribe.jobs.run``). Several inputs run in
parallel worker processes (``--jobs``, default: all cores), each loading the model once; one
failing input is reported on one line and does not stop the others, and the exit status is
non-zero if any failed. Summaries go to stdout; with ``--json`` stdout carries only the result
documents (one object for one input, else an array) and everything else goes to stderr.

With or without a cluster, an input that already has a complete job of the same content, model
and options (``drumscribe.jobs.identity``) is not transcribed again unless ``--force``: the
output names the job that answered, and ``-o`` writes its files.

``--cluster ADDRESS`` (or ``DASK_SCHEDULER_ADDRESS``; ``local`` for a LocalCluster) sends one
task per input to a Dask cluster instead (``drumscribe.jobs.batch``): a progress bar counts
done / failed / skipped, and a summary (or, with ``--json``, the batch report) ends the run.
Ctrl-C cancels the tasks: exit 130.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, List, Optional

import typer

from drumscribe.cli.app import app, err, force_local, leave_without_teardown, out, settings_from
from drumscribe._allocator import keep_freed_memory
from drumscribe.errors import DrumscribeError, InputError
from drumscribe.jobs.batch import BatchResult
from drumscribe.terminal import one_line, printable


# -- output folder -----------------------------------------------------------------------------
def prepare_output(path: Path) -> Path:
    """Create ``-o`` if needed; a one-line ``InputError`` if it is a file or not writable."""
    if path.exists() and not path.is_dir():
        raise InputError(f"-o {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"-o {path}: cannot create folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"-o {path}: folder is not writable")
    return path


def _stem(item: str, used: set[str]) -> str:
    from drumscribe.keys import sanitize_filename

    stem = Path(sanitize_filename(item.rstrip("/").rsplit("/", 1)[-1])).stem or "audio"
    name, n = stem, 2
    while name in used:  # a/x.wav and b/x.wav in one run
        name, n = f"{stem}-{n}", n + 1
    used.add(name)
    return name


def output_names(items: list[str]) -> list[str]:
    """The ``-o`` file stem of each input, decided before any job runs, from the sorted inputs.

    Two inputs with the same name (``a/x.wav``, ``b/x.wav``) become ``x`` and ``x-2`` in the
    order of their sorted paths, so the same command always writes the same files, whichever
    job finishes first.
    """
    names: list[str] = [""] * len(items)
    used: set[str] = set()
    for index in sorted(range(len(items)), key=lambda i: (items[i], i)):
        names[index] = _stem(items[index], used)
    return names


def output_files(folder: Path, stem: str) -> list[Path]:
    return [folder / f"{stem}.mid", folder / f"{stem}.json"]


def check_overwrites(folder: Path, stems: list[str], overwrite: bool) -> None:
    """Refuse, before any job runs, to replace files already in ``-o`` (unless ``--overwrite``)."""
    if overwrite:
        return
    taken = [p for stem in stems for p in output_files(folder, stem) if p.exists()]
    if taken:
        shown = ", ".join(p.name for p in taken[:4]) + (f" and {len(taken) - 4} more" if len(taken) > 4 else "")
        raise InputError(f"-o {folder}: {shown} already exist{'s' if len(taken) == 1 else ''}; nothing was transcribed",
                         hint="pass --overwrite to replace them, or choose another folder")


def _write_outputs(outcome: BatchResult, folder: Path, stem: str, midi_options: dict[str, Any] | None = None) -> list[Path]:
    from drumscribe.transcription.result import Transcription, write_atomic

    result = Transcription.from_json(outcome.document or "")
    midi, doc = output_files(folder, stem)
    try:
        return [write_atomic(midi, result.to_midi(**(midi_options or {}))), write_atomic(doc, outcome.document or "")]
    except OSError as exc:
        raise InputError(f"-o {folder}: cannot write results ({exc.strerror or exc})") from None


# -- display -----------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"


def _summary(outcome: BatchResult, written: list[Path], beats: bool = True) -> str:
    from drumscribe.transcription.result import Transcription
    from drumscribe.views.summary import format_tempo

    result = Transcription.from_json(outcome.document or "")
    counts = ", ".join(f"{name} {n}" for name, n in result.counts().items()) or "no hits"
    job = outcome.job
    where = job["transcription_uri"].rsplit("/", 1)[0] + "/"
    lines = [f"{printable(outcome.input)}: {_clock(result.duration)}, {format_tempo(result.tempo, beats)}, {counts}"]
    if job.get("existing"):
        lines.append(f"  job {job['job_id']}: {where} (already done: {SAME_JOB}; --force transcribes it again)")
    else:
        lines += [f"  job {job['job_id']}: {where} (output.mid, transcription.json)",
                  f"  original {job['upload_key']} ({_stored_what(job)})"]
    if written:
        lines.append("  wrote " + ", ".join(printable(p) for p in written))
    return "\n".join(lines)


SAME_JOB = "same content, model and options"


def _stored_what(job: dict[str, Any]) -> str:
    what = "as a lossless FLAC of the WAV" if job.get("stored_as") == "flac" else "as given"
    return f"stored now {what}" if job["uploaded"] else f"already stored {what}: reused, same content"


class _Progress:
    """A rich progress bar on a terminal, plain lines on stderr otherwise."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done = total, 0
        self.bar = None
        if enabled and err.is_terminal and total > 0:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("transcribing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=err, transient=True, redirect_stdout=False, redirect_stderr=False,
            )
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def advance(self, outcome: BatchResult) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.advance(self.task)
        elif self.total > 1 and outcome.ok:  # a failure is reported by its own error line
            typer.echo(f"[{self.done}/{self.total}] {outcome.status}: {printable(outcome.input)}", err=True)

    def say(self, text: str, *, to_stderr: bool) -> None:
        """Print a line; while the bar is live, lines for the terminal go through it (above the bar)."""
        if self.bar is not None and (to_stderr or out.is_terminal):
            self.bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
        else:
            typer.echo(text, err=to_stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# -- the command -------------------------------------------------------------------------------
@app.command("transcribe")
def transcribe_cmd(
    ctx: typer.Context,
    inputs: List[str] = typer.Argument(..., metavar="INPUT...", help="Audio files, folders, s3://bucket/key or s3://bucket/prefix/.", show_default=False),
    output: Optional[Path] = typer.Option(None, "-o", "--output", metavar="DIR", help="Also write <name>.mid and <name>.json into this folder."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", metavar="N", min=1, help="Parallel worker processes (default: all cores)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result document(s) on stdout, nothing else (with --cluster: the batch report)."),
    model: Optional[Path] = typer.Option(None, "--model", metavar="FILE", help="Use another exported model file."),
    no_beats: bool = typer.Option(False, "--no-beats", help="Skip beat tracking (tempo null, no beats; MIDI at 120 BPM from 0)."),
    midi_align: Optional[str] = typer.Option(None, "--midi-align", metavar="ALIGN", help="audio (default: MIDI times = audio times, from 0) or bar (first downbeat on a bar line)."),
    midi_tracks: Optional[str] = typer.Option(None, "--midi-tracks", metavar="TRACKS", help="single (default: one drum track) or per-instrument (one named track per drum)."),
    midi_tempo: Optional[str] = typer.Option(None, "--midi-tempo", metavar="TEMPO", help="follow (default: a tempo change only where the tempo really changes) or fixed (one tempo, the detected one)."),
    note_map: Optional[str] = typer.Option(None, "--note-map", metavar="MAP", help="general-midi (default), superior-drummer-3, addictive-drums-2, steven-slate-drums-5, or a JSON file."),
    overwrite: bool = typer.Option(False, "--overwrite", help="With -o: replace <name>.mid/.json already there (default: refuse before transcribing)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ADDRESS", envvar="DASK_SCHEDULER_ADDRESS", show_envvar=True,
                                          help="Dask scheduler address (tcp://host:8786), or 'local' for a LocalCluster of --jobs workers: one task per input."),
    force: bool = typer.Option(False, "--force", help="Transcribe again inputs that already have a complete job of the same content, model and options (default: that job answers)."),
) -> None:
    """Transcribe drums to MIDI + JSON; store the original and the results."""
    from drumscribe.cli.jobs_cmd import midi_options
    from drumscribe.jobs.batch import transcribe_many
    from drumscribe.jobs.run import expand_inputs
    from drumscribe.storage import get_storage
    from drumscribe.transcription.pipeline import get_model

    midi = midi_options(midi_align, midi_tracks, note_map, midi_tempo)  # a bad note map fails once, before any work
    settings = settings_from(ctx)
    prefer_local = force_local(ctx)
    folder = prepare_output(output) if output is not None else None
    model_path = str(model) if model is not None else None
    get_model(model_path)  # a bad --model fails once, here, not once per input
    get_storage(settings, prefer_local=prefer_local)  # announces local storage once, on stderr
    if cluster:
        _transcribe_on_cluster(list(inputs), cluster, settings=settings, prefer_local=prefer_local, folder=folder, jobs=jobs,
                               as_json=as_json, model_path=model_path, beats=not no_beats, force=force, midi=midi,
                               overwrite=overwrite)
        return

    leave_without_teardown()  # local processes only: every job is written (or cleaned up) when the command returns
    keep_freed_memory()  # this process transcribes (with --jobs 1): fewer page faults, see drumscribe._allocator
    items = expand_inputs(list(inputs), settings=settings)
    todo = [i for i, (_, error) in enumerate(items) if error is None]  # indexes: an input may repeat
    outcomes: dict[int, BatchResult] = {
        i: BatchResult(i, item, "failed", error=error, exit_code=2) for i, (item, error) in enumerate(items) if error
    }
    stems = output_names([item for item, _ in items])
    if folder is not None:
        check_overwrites(folder, [stems[i] for i in todo], overwrite)
    progress = _Progress(len(todo), enabled=True)

    def finish(outcome: BatchResult) -> None:  # transcribe_many hands each result on once, a Ctrl-C held back meanwhile
        index = todo[outcome.index]  # transcribe_many numbers the inputs it was given
        outcomes[index] = outcome
        written = _written(outcome, folder, stems[index], midi)
        if outcome.ok and not as_json:
            # stdout; while a bar is live, rich routes stdout above it
            progress.say(_summary(outcome, written, not no_beats), to_stderr=False)
        progress.advance(outcome)
        if not outcome.ok:
            progress.say(_failure_line(outcome), to_stderr=True)

    for outcome in outcomes.values():
        progress.say(_failure_line(outcome), to_stderr=True)
    try:
        if todo:
            transcribe_many([items[i][0] for i in todo], jobs=jobs, force=force, settings=settings, model=model_path,
                            beats=not no_beats, documents=True, prefer_local=prefer_local, on_result=finish,
                            midi_options=midi)
    except KeyboardInterrupt:  # every input that finished has been reported (transcribe_many holds a Ctrl-C back until it is)
        progress.close()
        kept = sum(outcomes[i].ok for i in todo if i in outcomes)
        typer.echo(f"Interrupted: {kept} of {len(todo)} input{'s' if len(todo) != 1 else ''} finished (reported, "
                   "kept); the others were stopped and left nothing behind.", err=True)
        if as_json:
            _print_documents(outcomes, len(items))
        raise SystemExit(130) from None
    finally:
        progress.close()

    if as_json:
        _print_documents(outcomes, len(items))
    _exit_for_failures([o for o in outcomes.values() if not o.ok], len(items))


def _print_documents(outcomes: dict[int, BatchResult], inputs: int) -> None:
    """--json: one input's document, or an array of them in input order (the inputs that finished)."""
    documents = [outcomes[i].document for i in sorted(outcomes) if outcomes[i].ok]
    if inputs == 1 and documents:
        typer.echo(documents[0])
    elif inputs > 1:
        typer.echo(json.dumps([json.loads(d) for d in documents], indent=2, ensure_ascii=False))


def _written(outcome: BatchResult, folder: Path | None, stem: str, midi: dict[str, Any] | None = None,
             overwrite: bool = True) -> list[Path]:
    """-o: write the results of a finished input; a write failure makes the input failed."""
    if not outcome.ok or folder is None or outcome.document is None:  # done, or answered by an earlier job
        return []
    try:
        if not overwrite:  # a cluster batch names files as inputs are listed: check each one
            check_overwrites(folder, [stem], overwrite)
        return _write_outputs(outcome, folder, stem, midi)
    except DrumscribeError as exc:
        outcome.status, outcome.error, outcome.exit_code = "failed", str(exc), exc.exit_code
        return []


def _exit_for_failures(failed: list[BatchResult], total: int) -> None:
    if failed:
        if total > 1:
            typer.echo(f"{len(failed)} of {total} inputs failed.", err=True)
        codes = {o.exit_code for o in failed}
        # SystemExit, not typer.Exit: GuardedGroup passes SystemExit through untouched
        raise SystemExit(codes.pop() if len(codes) == 1 else 1)


# -- on a Dask cluster -------------------------------------------------------------------------
def _transcribe_on_cluster(inputs: list[str], cluster: str, *, settings: Any, prefer_local: bool, folder: Path | None,
                           jobs: int | None, as_json: bool, model_path: str | None, beats: bool, force: bool,
                           midi: dict[str, Any] | None = None, overwrite: bool = False) -> None:
    from drumscribe.jobs.batch import transcribe_many

    progress = _BatchProgress(enabled=True)
    used: set[str] = set()

    def finish(result: BatchResult) -> None:
        written = _written(result, folder, _stem(result.input, used), midi, overwrite)
        progress.advance(result)
        if not result.ok:
            progress.say(_failure_line(result), to_stderr=True)
        elif not as_json:
            job = result.job.get("job_id")
            name = printable(result.input)
            line = f"{name}: done, job {job}" if result.status == "done" else f"{name}: skipped, job {job} is complete ({SAME_JOB})"
            progress.say(line + ("".join(f"\n  wrote {printable(p)}" for p in written)), to_stderr=False)

    try:
        report = transcribe_many(inputs, cluster=cluster, jobs=jobs, force=force, settings=settings, model=model_path, beats=beats,
                                 documents=folder is not None, prefer_local=prefer_local, on_result=finish, on_submit=progress.grow,
                                 midi_options=midi)
    except KeyboardInterrupt:
        progress.close()
        typer.echo("Interrupted: the submitted tasks were cancelled; finished jobs are kept and a rerun skips them.", err=True)
        raise SystemExit(130) from None
    finally:
        progress.close()

    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo(_batch_summary(report))
    _exit_for_failures(report.failed, len(report.results))


def _batch_summary(report: Any) -> str:
    s = report.summary()
    where = s["cluster"] or "local processes"
    return (f"{s['done']} done, {s['skipped']} skipped, {s['failed']} failed: {_clock(s['audio_seconds'])} of audio in "
            f"{_clock(s['wall_seconds'])} ({s['audio_hours_per_hour']:.1f} audio hours per hour) on {s['workers']} "
            f"worker{'s' if s['workers'] != 1 else ''} ({where})")


class _BatchProgress(_Progress):
    """The bar grows as inputs are listed and counts done / failed / skipped and throughput."""

    def __init__(self, enabled: bool):
        self.total, self.done, self.bar = 0, 0, None
        self.counts = {"done": 0, "failed": 0, "skipped": 0}
        self.audio_seconds, self.started = 0.0, None
        if enabled and err.is_terminal:
            import time

            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("transcribing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[tally]}"),
                TimeElapsedColumn(), console=err, transient=True, redirect_stdout=False, redirect_stderr=False,
            )
            self.task = self.bar.add_task("", total=None, tally="")
            self.started = time.perf_counter()
            self.bar.start()

    def grow(self, total: int) -> None:
        self.total = total
        if self.bar is not None:
            self.bar.update(self.task, total=total)

    def advance(self, outcome: BatchResult) -> None:
        import time

        self.done += 1
        self.counts[outcome.status] += 1
        if outcome.status == "done":
            self.audio_seconds += outcome.audio_seconds
        if self.bar is not None:
            elapsed = max(1e-9, time.perf_counter() - self.started)
            tally = " · ".join(f"{k} {v}" for k, v in self.counts.items()) + f" · {self.audio_seconds / elapsed:.1f} audio h/h"
            self.bar.update(self.task, advance=1, tally=tally)


def _failure_line(outcome: BatchResult) -> str:
    message = outcome.error or "failed"
    shown = message if outcome.input in message else f"{outcome.input}: {message}"
    return f"Error: {one_line(shown)}"
