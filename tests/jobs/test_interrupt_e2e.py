"""Ctrl-C during `drumscribe transcribe --jobs 2` (issue 22, point 7): a prompt exit that reports
every job that finished, and leaves nothing half-written or unreported behind.

The command runs as a real process in its own process group, and SIGINT goes to the whole group,
as a terminal's Ctrl-C does (the worker processes get it too).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import soundfile as sf

from drumscribe.config import load_settings
from synth import SR, groove, render

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SONGS = 6


def test_ctrl_c_during_parallel_jobs_exits_promptly_and_reports_every_finished_job(tmp_path):
    songs = tmp_path / "songs"
    songs.mkdir()
    for n in range(SONGS):
        bpm = 100.0 + 4 * n  # each its own content
        sf.write(songs / f"song{n}.wav", render(groove(int(40 * bpm / 240), bpm=bpm, start=0.2), 40.0, SR, seed=n), SR,
                 subtype="PCM_16")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "drumscribe", "--local", "transcribe", str(songs), "--jobs", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    errors: list[str] = []
    first_done = threading.Event()

    def read_stderr() -> None:
        for line in proc.stderr:
            errors.append(line)
            if line.startswith("[1/"):
                first_done.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    stdout: list[str] = []
    out_reader = threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)  # EOF: every writer gone
    out_reader.start()
    try:
        assert first_done.wait(240), "no job finished: " + "".join(errors)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        interrupted = time.monotonic()
        proc.wait(120)
        elapsed = time.monotonic() - interrupted
        out_reader.join(10)
        # nothing of the command outlives it: no worker holding memory and the terminal's pipes
        assert not out_reader.is_alive(), "a process of the command still holds its stdout after it exited"
        assert _group_gone(proc.pid, within=5.0), "a process of the command is still running after it exited"
        out = stdout[0]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group (nothing, when the test passes)
        except ProcessLookupError:
            pass
    reader.join(10)

    assert proc.returncode == 130, "".join(errors)
    root = load_settings().local_root
    stored = sorted(p.parent.name for p in (root / "processed").rglob("transcription.json"))
    reported = sorted(re.findall(r"^  job (\S+): ", out, re.M))
    assert stored == reported and 1 <= len(stored) < SONGS  # every kept job is reported; the batch stopped
    # nothing half-written: each job folder is complete, and each stored original belongs to a kept job
    assert all(sorted(p.name for p in (root / "processed" / "tester" / job).iterdir()) == ["output.mid", "transcription.json"]
               for job in stored)
    assert len([p for p in (root / "uploads").rglob("*") if p.is_file()]) == len(stored)
    assert f"Interrupted: {len(stored)} of {SONGS} inputs finished" in "".join(errors)
    assert "Warning" not in "".join(errors) and "Traceback" not in "".join(errors), "".join(errors)  # e.g. leaked semaphores
    assert elapsed < 30, f"{elapsed:.1f} s from Ctrl-C to exit"  # it used to run what was queued (tens of seconds)


def _group_gone(pgid: int, within: float) -> bool:
    """True once no process is left in the process group (exited children are reaped by init)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
