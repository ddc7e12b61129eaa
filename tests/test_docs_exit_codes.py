"""The docs' transcripts say what the CLI exits with (``[exit N]`` after a command): for the errors
that need no bucket, no credentials and no recording, run the command and compare.

A job that does not exist is such an error: every `show`, `view` or `open` of a missing job in
the docs runs here against an empty local mirror (with ``--local``; the docs ran some of them on
a bucket, where the code is the same: a missing job is bad input, exit 2)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drumscribe.cli import app

DOCS = Path(__file__).resolve().parents[1] / "docs"
COMMAND = re.compile(r"^\$ drumscribe (.+)$")
EXIT = re.compile(r"^\[exit (\d+)\]$")


def missing_job_transcripts() -> list[tuple[str, list[str], int]]:
    """(where, arguments, documented exit code) of each doc command whose answer is 'Error: no job'."""
    found = []
    for doc in sorted(DOCS.glob("*.md")):
        command, said_no_job = None, False
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            if match := COMMAND.match(line):
                command, said_no_job = match.group(1), False
            elif line.startswith("Error: no job "):
                said_no_job = True
            elif (code := EXIT.match(line)) and command and said_no_job:
                found.append((f"{doc.name}:{number}", shlex.split(command), int(code.group(1))))
                command = None
    return found


TRANSCRIPTS = missing_job_transcripts()


def test_the_docs_show_missing_jobs():
    assert {where.split(":")[0] for where, _, _ in TRANSCRIPTS} >= {"views.md", "sync.md"}


@pytest.mark.parametrize("where, args, documented", TRANSCRIPTS, ids=[t[0] for t in TRANSCRIPTS])
def test_a_missing_job_exits_as_the_docs_say(where, args, documented):
    result = CliRunner().invoke(app, ["--local", *args])
    assert result.stderr.splitlines()[-1].startswith("Error: no job ")
    assert result.exit_code == documented, f"{where} says [exit {documented}]; the command exits {result.exit_code}"
