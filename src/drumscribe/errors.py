"""Errors users see. Each carries one line of text that says what went wrong and how to fix it.

The CLI prints ``str(error)`` on stderr and exits with ``error.exit_code``; it never shows a
traceback for a ``DrumscribeError``. Library users catch ``DrumscribeError`` (or a subclass).
"""

from __future__ import annotations


class DrumscribeError(Exception):
    """Base class: a problem the user can act on, described in one line."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        message = " ".join(str(message).split())  # always one line
        if hint:
            message = f"{message} ({' '.join(hint.split())})"
        super().__init__(message)


class ConfigError(DrumscribeError):
    """Settings are missing or invalid."""

    exit_code = 2


class InvalidKeyError(DrumscribeError):
    """An object key, user id or file name is unsafe or malformed."""

    exit_code = 2


class InputError(DrumscribeError):
    """An input file is missing, unreadable, too large or not audio."""

    exit_code = 2


class StorageError(DrumscribeError):
    """A storage backend failed (S3 or the local mirror)."""


class NotFoundError(StorageError):
    """The object or bucket does not exist."""


class ArchivedObjectError(StorageError):
    """The object is in an archive storage class (GLACIER, DEEP_ARCHIVE) and must be restored first."""


class AccessDeniedError(StorageError):
    """Credentials are valid but not allowed to do this."""


class CredentialsError(StorageError):
    """Credentials are missing, invalid or expired."""


class EndpointError(StorageError):
    """The S3 endpoint could not be reached."""


class ProvisioningError(DrumscribeError):
    """A setup step failed."""


class TranscriptionError(DrumscribeError):
    """Audio could not be transcribed."""
