"""Errors users see. Each carries one line of text that says what went wrong and how to fix it.

The CLI prints ``str(error)`` on stderr and exits with ``error.exit_code``; it never shows a
traceback for a ``DrumscribeError``. Library users catch ``DrumscribeError`` (or a subclass).

Exit codes: one table for every command (docs/troubleshooting.md shows it to users). The same
kind of mistake gives the same code wherever it happens: a missing local file and a missing S3
key are both "something you named is not there", so both exit 2.

    0    success
    1    FAILED       the command ran and something failed: S3 or network trouble, a setup step,
                      a transcription, a doctor check, some files of a sync; a declined confirmation
    2    BAD_INPUT    fix the command or the settings: a usage error (unknown option...), a setting
                      missing or invalid (endpoint URL, bucket name, config file, no credentials at
                      all), a file, key, job or bucket that does not exist, input that is not audio
    3    CONFLICT     sync left conflicts unresolved (re-run with --prefer local|remote); an edit
                      saved from a revision that is no longer the latest (reload and edit again)
    4    AUTH         credentials rejected or expired, or access denied (none at all: 2)
    70   INTERNAL     a bug: "internal error", details with DRUMSCRIBE_DEBUG=1
    130  INTERRUPTED  Ctrl-C
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_CONFLICT = 3
EXIT_AUTH = 4
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class DrumscribeError(Exception):
    """Base class: a problem the user can act on, described in one line."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None):
        message = " ".join(str(message).split())  # always one line
        if hint:
            message = f"{message} ({' '.join(hint.split())})"
        super().__init__(message)


class ConfigError(DrumscribeError):
    """Settings are missing or invalid."""

    exit_code = EXIT_BAD_INPUT


class InvalidKeyError(DrumscribeError):
    """An object key, user id or file name is unsafe or malformed."""

    exit_code = EXIT_BAD_INPUT


class InputError(DrumscribeError):
    """An input file is missing, unreadable, too large or not audio."""

    exit_code = EXIT_BAD_INPUT


class StorageError(DrumscribeError):
    """A storage backend failed (S3 or the local mirror)."""


class NotFoundError(StorageError):
    """The object, job or bucket does not exist (the same exit code as a missing local file)."""

    exit_code = EXIT_BAD_INPUT


class ChangedError(StorageError):
    """A conditional write found the object changed since it was read (nothing was written)."""

    exit_code = EXIT_CONFLICT


class ArchivedObjectError(StorageError):
    """The object is in an archive storage class (GLACIER, DEEP_ARCHIVE) and must be restored first."""


class AccessDeniedError(StorageError):
    """Credentials are valid but not allowed to do this."""

    exit_code = EXIT_AUTH


class CredentialsError(StorageError):
    """Credentials are invalid or expired (AWS said no)."""

    exit_code = EXIT_AUTH


class MissingCredentialsError(CredentialsError):
    """No credentials are configured at all: a setting to add, so the same code as other missing settings."""

    exit_code = EXIT_BAD_INPUT


class EndpointError(StorageError):
    """The S3 endpoint could not be reached."""


class ProvisioningError(DrumscribeError):
    """A setup step failed."""


class TranscriptionError(DrumscribeError):
    """Audio could not be transcribed."""


class StaleRevision(DrumscribeError):
    """An edit was saved from a revision that someone else has replaced since (nothing was written)."""

    exit_code = EXIT_CONFLICT
