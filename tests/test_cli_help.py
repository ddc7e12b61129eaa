"""Every command's --help: on/off flags read as flags (``--json``), never as options taking a value
(``--json <bool>`` made ``--json true`` look valid; it is refused); values are named like gh's and
aws's help name them, in UPPERCASE (``INPUT...``, ``FILE``, ``KEY``, ``N``), never by a Python
type (``<str>``, ``<list[Path]>``, ``<int range> [x>=1]``) or in braces (``{INPUT}...``)."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from drumscribe.cli import app


def command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    if hasattr(command, "commands"):  # a group (typer may vendor its own click: no isinstance)
        for name, sub in sorted(command.commands.items()):
            paths += command_paths(sub, path + (name,))
    return paths


ROOT = typer.main.get_command(app)
PATHS = command_paths(ROOT)


def test_every_command_is_reached():
    names = {" ".join(p) for p in PATHS}
    assert {"", "doctor", "setup", "setup tls-policy", "sync push", "transcribe"} <= names


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "drumscribe")
def test_help_shows_flags_without_a_value_type(path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    for bool_metavar in ("<bool>", "BOOLEAN", "[true|false]"):
        assert bool_metavar not in result.output


def test_a_flag_given_a_value_is_a_usage_error():
    result = CliRunner().invoke(app, ["--local", "doctor", "--json", "true"])
    assert result.exit_code == 2


PYTHON_TYPE = re.compile(r"<(?:str|int|float|bool|path|file|text|list\[[^>]*\]|tuple\[[^>]*\]|\w+ range)>", re.I)
RANGE = re.compile(r"\[(?:-?\d+(?:\.\d+)?<=)?x(?:[<>]=?-?\d+(?:\.\d+)?)?\]")
METAVAR = re.compile(r"^\[?[A-Z][A-Z0-9_-]*(?:\.\.\.)?\]?$|^A-B$")


def command_of(path: tuple[str, ...]):
    command = ROOT
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "drumscribe")
def test_help_names_values_in_uppercase_and_shows_no_python_types(path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    shown = CliRunner().invoke(app, [*path, "--help"]).output
    assert not PYTHON_TYPE.findall(shown) and not RANGE.findall(shown)
    usage = next(line for line in shown.splitlines() if "Usage:" in line)
    assert "{" not in usage and "}" not in usage
    command = command_of(path)
    ctx = ROOT.make_context("drumscribe", [], resilient_parsing=True)
    for param in command.params:
        if param.param_type_name == "argument":
            named = param.get_usage_pieces(ctx)[0]
            assert METAVAR.match(named) and named in usage, (param.name, named)
        elif not (param.is_flag or param.count) and not param.hidden:
            named = param.display_type_rich(ctx)
            assert METAVAR.match(named), (param.name, named)
            assert named in shown, (param.name, named)
