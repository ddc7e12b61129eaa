"""The root Typer app, global options and error handling shared by every command."""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import typer
from rich.console import Console
from typer.core import TyperGroup

from drumscribe import __version__
from drumscribe.config import Settings, load_settings
from drumscribe.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, DrumscribeError
from drumscribe.terminal import one_line

out = Console(highlight=False, soft_wrap=True)  # results (stdout)
err = Console(stderr=True, highlight=False, soft_wrap=True)  # messages and errors (stderr)


def fail(message: str, code: int = 1) -> None:
    """Print one line on stderr and exit non-zero."""
    typer.echo(f"Error: {one_line(message)}", err=True)
    raise SystemExit(code)


def _is_cli_framework_exception(exc: BaseException) -> bool:
    """typer.Exit, usage errors, Abort...: typer (which vendors its own click) handles these itself."""
    return type(exc).__module__.split(".")[0] in ("typer", "click")


def _flags_show_no_value_type() -> None:
    """typer's rich help (0.29) prints a value type after on/off flags too (``--json <bool>``),
    which reads as if ``--json true`` were valid; it is refused. Flags take no value: show none.
    Older typers skip the type themselves; there this changes nothing."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "flag_aware", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> Any:
        return None if self.is_flag or self.count else shown(self, ctx)

    display_type_rich.flag_aware = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_value_type()


def _help_reads_like_gh() -> None:
    """typer's rich help (0.29) shows Python types (``<str>``, ``<list[Path]>``, ``<int range>
    [x>=1]``) and writes arguments as ``{INPUT}...``, ``{files}...``, ``[prefix]``. Help reads like
    gh's or aws's instead: each value is named by an UPPERCASE metavar (declared with the
    option, else the option's name), required arguments bare (``INPUT...``), optional ones in
    brackets (``[PREFIX]``), no Python types and no ranges (a value out of range is refused with
    the range). Where typer lacks these hooks (another version), help stays as typer writes it."""
    from typer.core import TyperArgument, TyperOption

    if getattr(TyperArgument, "reads_like_gh", False) or not hasattr(TyperArgument, "_usage_display_name"):
        return

    def raw_name(self: Any) -> str:  # typer's table adds "..." itself when no metavar was declared
        name = self.metavar or (self.name or "").upper()
        return name + "..." if self.metavar and self.nargs != 1 and not name.endswith("...") else name

    def argument_name(self: Any) -> str:
        name = raw_name(self)
        return name if self.nargs == 1 or name.endswith("...") else name + "..."

    def usage_name(self: Any) -> str:
        return argument_name(self) if self.required else f"[{argument_name(self)}]"

    def option_metavar(self: Any, ctx: Any) -> Any:
        if self.is_flag or self.count:
            return None
        return self.metavar or (self.name or "VALUE").upper()

    TyperArgument.display_name_raw = property(raw_name)  # type: ignore[assignment]
    TyperArgument._rich_display_name = argument_name  # type: ignore[method-assign]
    TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]  # the name says it
    TyperOption.display_type_rich = option_metavar  # type: ignore[method-assign]
    for kind in (TyperArgument, TyperOption):
        kind._get_number_range_help_str = lambda self: None  # type: ignore[method-assign]
    TyperArgument.reads_like_gh = True  # type: ignore[attr-defined]


_help_reads_like_gh()


class GuardedGroup(TyperGroup):
    """Turns errors raised by any sub-command into one line on stderr and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DrumscribeError as exc:
            if os.environ.get("DRUMSCRIBE_DEBUG"):
                raise
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise SystemExit(EXIT_INTERRUPTED)
        except SystemExit:
            raise
        except BrokenPipeError:
            # e.g. `drumscribe ls | head`: stop quietly
            sys.stderr.close()
            raise SystemExit(0)
        except Exception as exc:  # a bug: still one line, with a way to get the details
            if _is_cli_framework_exception(exc) or os.environ.get("DRUMSCRIBE_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (run with DRUMSCRIBE_DEBUG=1 for details)", EXIT_INTERNAL)


app = typer.Typer(
    cls=GuardedGroup,
    name="drumscribe",
    help="Turn recorded drums into MIDI and JSON; keep uploads and results in S3 or a local mirror.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"drumscribe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    bucket: Optional[str] = typer.Option(None, "--bucket", metavar="BUCKET", help="S3 bucket (overrides AWS_S3_BUCKET)."),
    region: Optional[str] = typer.Option(None, "--region", metavar="REGION", help="AWS region (overrides AWS_REGION)."),
    profile: Optional[str] = typer.Option(None, "--profile", metavar="PROFILE", help="AWS profile (overrides AWS_PROFILE)."),
    endpoint_url: Optional[str] = typer.Option(None, "--endpoint-url", metavar="URL", help="S3-compatible endpoint (overrides AWS_ENDPOINT_URL)."),
    user: Optional[str] = typer.Option(None, "--user", metavar="USER", help="User id for keys (overrides DRUMSCRIBE_USER)."),
    local: bool = typer.Option(False, "--local", help="Use the local mirror even when S3 is configured."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    ctx.obj = {
        "overrides": {"bucket": bucket, "region": region, "profile": profile, "endpoint_url": endpoint_url, "user": user},
        "local": local,
    }


def settings_from(ctx: typer.Context, **more: Any) -> Settings:
    """Effective settings for this invocation: every layer plus global and command flags."""
    root = ctx.find_root()
    overrides = dict((root.obj or {}).get("overrides", {}))
    overrides.update({k: v for k, v in more.items() if v is not None})
    return load_settings(overrides=overrides)


def force_local(ctx: typer.Context) -> bool:
    return bool((ctx.find_root().obj or {}).get("local"))


_nothing_left_to_finish = False


def leave_without_teardown() -> None:
    """Say that this command's work is complete once it returns: every file is written (atomically,
    fsynced) and no thread or process it started is still running. ``main`` then ends the process
    without the interpreter's teardown, which frees every module and object one by one (numpy,
    madmom, boto3: a few hundredths of a CPU second per run, CPU seconds being what a transcription
    costs). Not for commands that leave threads finishing work at exit (``serve``)."""
    global _nothing_left_to_finish
    _nothing_left_to_finish = True


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        if not _nothing_left_to_finish:
            raise
        code = exc.code
    else:
        if not _nothing_left_to_finish:
            return
        code = 0
    if not isinstance(code, int):  # None (success) or a message, as SystemExit takes them
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    if "multiprocessing" in sys.modules:
        # what the interpreter's exit would run for multiprocessing: its finalizers release the
        # semaphores of a process pool (after a Ctrl-C, say), which its resource tracker would
        # otherwise report as leaked on stderr. Its workers are gone by now (jobs.pool).
        from multiprocessing import util

        util._exit_function()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more to say
            pass
    os._exit(code)
