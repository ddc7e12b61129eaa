"""CLI commands (placeholder module: its owner replaces this with the real commands)."""

from drumscribe.cli.app import app  # noqa: F401
