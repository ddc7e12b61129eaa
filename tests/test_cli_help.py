"""Every command's --help: on/off flags read as flags (``--json``), never as options taking a value
(``--json <bool>`` made ``--json true`` look valid; it is refused)."""

from __future__ import annotations

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
