"""The ``drumscribe`` command line: a thin layer over the library.

Each command group lives in its own module and registers itself on ``app``.
Errors: a ``DrumscribeError`` anywhere in a command becomes one line on stderr and a non-zero
exit (see ``GuardedGroup``); users never see a traceback unless ``DRUMSCRIBE_DEBUG=1``.
"""

from __future__ import annotations

from drumscribe.cli.app import app, main

# Importing a command module registers its commands on ``app``.
from drumscribe.cli import config_cmd, storage_cmd, setup_cmd, doctor_cmd, transcribe_cmd, sync_cmd, jobs_cmd, serve_cmd  # noqa: E402,F401
from drumscribe.cli import setup_security_cmd, restore_cmd  # noqa: E402,F401  (issue 14)
from drumscribe.cli import edit_cmd  # noqa: E402,F401  (issue 23)

__all__ = ["app", "main"]
