"""``drumscribe transcribe``: audio in, MIDI + JSON stored under processed/ (and optionally ``-o``).

Every input becomes one job (see ``drumscribe.jobs.run``). Several inputs run in
parallel worker processes (``--jobs``, default: all cores), each loading the model once; one
failing input is reported on one line and does not stop the others, and the exit status is
non-zero if any failed. Summaries go to stdout; with ``--json`` stdout carries only the result
documents (one object for one input, else an array) and everything else goes to stderr.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

import typer

from drumscribe.cli.app import app, err, force_local, out, settings_from
from drumscribe.config import Settings
from drumscribe.errors import DrumscribeError, InputError


@dataclass
class Outcome:
    input: str
    ok: bool
    document: str | None = None  # the transcription JSON
    job: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    exit_code: int = 1


# -- worker side (runs in the CLI process for one job, or in each pool process) ----------------
_worker: dict[str, Any] = {}


def _init_worker(settings: Settings, prefer_local: bool, model_path: str | None, beats: bool, one_thread: bool = False,
                 midi: dict[str, Any] | None = None) -> None:
    if one_thread:  # N processes x N BLAS threads would oversubscribe the cores; numpy is not imported yet
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = "1"
    from drumscribe.storage import get_storage
    from drumscribe.transcription.pipeline import get_model

    _worker.update(
        settings=settings,
        storage=get_storage(settings, prefer_local=prefer_local, announce=False),
        model=get_model(model_path),  # loaded once per process
        beats=beats,
        midi=midi or {},
    )


def _run_one(item: str) -> Outcome:
    from drumscribe.jobs.run import transcribe_and_store

    try:
        result, job = transcribe_and_store(
            item, storage=_worker["storage"], settings=_worker["settings"], model=_worker["model"], beats=_worker["beats"],
            midi_options=_worker["midi"],
        )
        return Outcome(item, True, document=result.to_json(), job=job.to_dict())
    except DrumscribeError as exc:
        return Outcome(item, False, error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # a bug: still one line, never a traceback from a worker
        return Outcome(item, False, error=f"internal error: {type(exc).__name__}: {exc}", exit_code=70)


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


def output_names(items: list[str]) -> list[str]:
    """The ``-o`` file stem of each input, decided before any job runs, from the sorted inputs.

    Two inputs with the same name (``a/x.wav``, ``b/x.wav``) become ``x`` and ``x-2`` in the
    order of their sorted paths, so the same command always writes the same files, whichever
    job finishes first.
    """
    from drumscribe.keys import sanitize_filename

    names: list[str] = [""] * len(items)
    used: set[str] = set()
    for index in sorted(range(len(items)), key=lambda i: (items[i], i)):
        stem = Path(sanitize_filename(items[index].rstrip("/").rsplit("/", 1)[-1])).stem or "audio"
        name, n = stem, 2
        while name in used:
            name, n = f"{stem}-{n}", n + 1
        used.add(name)
        names[index] = name
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


def _write_outputs(outcome: Outcome, folder: Path, stem: str, midi_options: dict[str, Any] | None = None) -> list[Path]:
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


def _summary(outcome: Outcome, written: list[Path], beats: bool = True) -> str:
    from drumscribe.transcription.result import Transcription
    from drumscribe.views.summary import format_tempo as tempo_text

    result = Transcription.from_json(outcome.document or "")
    counts = ", ".join(f"{name} {n}" for name, n in result.counts().items()) or "no hits"
    job = outcome.job
    where = job["transcription_uri"].rsplit("/", 1)[0] + "/"
    lines = [
        f"{outcome.input}: {_clock(result.duration)}, {tempo_text(result.tempo, beats)}, {counts}",
        f"  job {job['job_id']}: {where} (output.mid, transcription.json)",
        f"  original {job['upload_key']} ({_stored_what(job)})",
    ]
    if written:
        lines.append("  wrote " + ", ".join(str(p) for p in written))
    return "\n".join(lines)


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

    def advance(self, outcome: Outcome) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.advance(self.task)
        elif self.total > 1 and outcome.ok:  # a failure is reported by its own error line
            typer.echo(f"[{self.done}/{self.total}] done: {outcome.input}", err=True)

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
    inputs: List[str] = typer.Argument(..., help="Audio files, folders, s3://bucket/key or s3://bucket/prefix/.", show_default=False, metavar="INPUT"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write <name>.mid and <name>.json into this folder."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Parallel worker processes (default: all cores)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result document(s) on stdout, nothing else."),
    model: Optional[Path] = typer.Option(None, "--model", help="Use another exported model file."),
    no_beats: bool = typer.Option(False, "--no-beats", help="Skip beat tracking (tempo null, no beats; MIDI at 120 BPM from 0)."),
    midi_align: Optional[str] = typer.Option(None, "--midi-align", help="audio (default: MIDI times = audio times, from 0) or bar (first downbeat on a bar line)."),
    midi_tracks: Optional[str] = typer.Option(None, "--midi-tracks", help="single (default: one drum track) or per-instrument (one named track per drum)."),
    note_map: Optional[str] = typer.Option(None, "--note-map", help="general-midi (default), superior-drummer-3, addictive-drums-2, steven-slate-drums-5, or a JSON file."),
    overwrite: bool = typer.Option(False, "--overwrite", help="With -o: replace <name>.mid/.json already there (default: refuse before transcribing)."),
) -> None:
    """Transcribe drums to MIDI + JSON; store the original and the results."""
    from drumscribe.cli.jobs_cmd import midi_options
    from drumscribe.storage import get_storage
    from drumscribe.jobs.run import expand_inputs
    from drumscribe.transcription.pipeline import get_model

    midi = midi_options(midi_align, midi_tracks, note_map)  # a bad note map fails once, before any work
    settings = settings_from(ctx)
    prefer_local = force_local(ctx)
    folder = prepare_output(output) if output is not None else None
    model_path = str(model) if model is not None else None
    get_model(model_path)  # a bad --model fails once, here, not once per input
    get_storage(settings, prefer_local=prefer_local)  # announces local storage once, on stderr

    items = expand_inputs(list(inputs), settings=settings)
    todo = [i for i, (_, error) in enumerate(items) if error is None]  # indexes: an input may repeat
    workers = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    outcomes: dict[int, Outcome] = {i: Outcome(item, False, error=error, exit_code=2) for i, (item, error) in enumerate(items) if error}
    stems = output_names([item for item, _ in items])
    if folder is not None:
        check_overwrites(folder, [stems[i] for i in todo], overwrite)
    progress = _Progress(len(todo), enabled=True)

    def finish(index: int, outcome: Outcome) -> None:
        written: list[Path] = []
        if outcome.ok and folder is not None:
            try:
                written = _write_outputs(outcome, folder, stems[index], midi)
            except DrumscribeError as exc:
                outcome.ok, outcome.error, outcome.exit_code = False, str(exc), exc.exit_code
        outcomes[index] = outcome
        progress.advance(outcome)
        if not outcome.ok:
            progress.say(_failure_line(outcome), to_stderr=True)
        elif not as_json:
            # stdout; while a bar is live, rich routes stdout above it
            progress.say(_summary(outcome, written, not no_beats), to_stderr=False)

    for outcome in outcomes.values():
        progress.say(_failure_line(outcome), to_stderr=True)
    try:
        if workers == 1:
            _init_worker(settings, prefer_local, model_path, not no_beats, midi=midi)
            for i in todo:
                finish(i, _run_one(items[i][0]))
        else:
            ctx_mp = multiprocessing.get_context("spawn")  # no fork of a process with threads
            with ProcessPoolExecutor(workers, mp_context=ctx_mp, initializer=_init_worker, initargs=(settings, prefer_local, model_path, not no_beats, True, midi)) as pool:
                index = {pool.submit(_run_one, items[i][0]): i for i in todo}
                pending = set(index)
                try:
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            finish(index[future], future.result())
                except BaseException:
                    for future in pending:
                        future.cancel()
                    raise
    finally:
        progress.close()

    if as_json:
        documents = [outcomes[i].document for i in range(len(items)) if outcomes[i].ok]
        if len(items) == 1 and documents:
            typer.echo(documents[0])
        elif len(items) > 1:
            typer.echo(json.dumps([json.loads(d) for d in documents], indent=2, ensure_ascii=False))
    failed = [o for o in outcomes.values() if not o.ok]
    if failed:
        if len(items) > 1:
            typer.echo(f"{len(failed)} of {len(items)} inputs failed.", err=True)
        codes = {o.exit_code for o in failed}
        # SystemExit, not typer.Exit: GuardedGroup passes SystemExit through untouched
        raise SystemExit(codes.pop() if len(codes) == 1 else 1)


def _failure_line(outcome: Outcome) -> str:
    message = outcome.error or "failed"
    shown = message if outcome.input in message else f"{outcome.input}: {message}"
    return f"Error: {' '.join(shown.split())}"
