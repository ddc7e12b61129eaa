"""The bucket layout, in one place.

::

    uploads/{user_id}/{timestamp}_{hash}_{filename}      original audio
    processed/{user_id}/{job_id}/transcription.json       results
    processed/{user_id}/{job_id}/output.mid
    processed/{user_id}/{job_id}/edited.json              the user's corrections (never the model's file)
    processed/{user_id}/{job_id}/edited.mid               edited.json as MIDI (re-rendered when stale)
    temp/{job_id}/...                                     scratch, expires after a day

Every key drumscribe builds comes from here, and every key a user hands us goes through
``validate_key`` before it touches a backend. user ids and file names are sanitized and bounded
so a hostile name can neither escape a prefix nor produce a key S3 or a file system rejects.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime, timezone
from pathlib import PurePosixPath

from drumscribe.errors import ConfigError, InvalidKeyError

UPLOADS = "uploads"
PROCESSED = "processed"
TEMP = "temp"
TOP_LEVEL = (UPLOADS, PROCESSED, TEMP)

TRANSCRIPTION_JSON = "transcription.json"
OUTPUT_MIDI = "output.mid"
EDITED_JSON = "edited.json"
EDITED_MIDI = "edited.mid"

MAX_KEY_BYTES = 1024  # S3's limit
MAX_USER_ID = 64
MAX_FILENAME = 120
HASH_CHARS = 12

_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_JOB_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{5,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


_BUCKET_CHARS = re.compile(r"[^a-z0-9.-]")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# Reserved by AWS for its own naming schemes (access points, Object Lambda, directory buckets...).
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def validate_bucket_name(name: str) -> str:
    """Return ``name`` if it follows S3's naming rules for general purpose buckets, else raise
    ``ConfigError`` naming the rule that is broken (checked before any request, so a name AWS
    would refuse never gets as far as creating a key or a half-made bucket)."""
    shown = str(name).encode("unicode_escape").decode("ascii")[:80]

    def broken(rule: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"invalid bucket name {shown!r}: {rule}", hint=hint)

    if not isinstance(name, str) or not name:
        raise broken("it is empty")
    lowered = name.lower()
    for scheme in ("s3://", "arn:aws:s3:::", "https://", "http://"):
        if lowered.startswith(scheme):
            bare = name[len(scheme):].split("/")[0]
            raise broken(f"give the bucket name without {scheme}", hint=f"for example --bucket {bare}" if bare else None)
    if not 3 <= len(name) <= 63:
        raise broken(f"bucket names are 3 to 63 characters long (this one has {len(name)})")
    bad = list(dict.fromkeys(_BUCKET_CHARS.findall(name)))  # in order of appearance
    if bad:
        upper = any(c.isupper() for c in bad)
        raise broken("only lowercase letters, digits, hyphens and dots are allowed (found " + ", ".join(repr(c) for c in bad) + ")",
                     hint=f"for example {re.sub(r'[^a-z0-9.-]+', '-', lowered).strip('-.')}" if upper or "_" in bad else None)
    if not (name[0].isalnum() and name[-1].isalnum()):
        raise broken("it must start and end with a letter or a digit")
    if ".." in name:
        raise broken("two dots may not be next to each other")
    if _IPV4.match(name):
        raise broken("it may not look like an IP address")
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            raise broken(f"names starting with {prefix!r} are reserved by AWS")
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            raise broken(f"names ending in {suffix!r} are reserved by AWS")
    return name


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative object key, else raise ``InvalidKeyError``.

    Rejected: empty keys, absolute paths, ``.`` or ``..`` segments, empty segments (``a//b``),
    backslashes, NUL and other control characters, keys over 1024 UTF-8 bytes.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("empty object key")
    shown = key.encode("unicode_escape").decode("ascii")[:80]
    if _CONTROL.search(key):
        raise InvalidKeyError(f"object key contains control characters: {shown!r}")
    if "\\" in key:
        raise InvalidKeyError(f"object key contains a backslash: {shown!r}")
    if key.startswith("/"):
        raise InvalidKeyError(f"object key must be relative, not absolute: {shown!r}")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKeyError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    parts = key.split("/")
    # a trailing "/" is allowed for prefixes only; validate_prefix handles that
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidKeyError(f"object key has an empty, '.' or '..' segment: {shown!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Like ``validate_key`` but allows the empty prefix and one trailing slash."""
    if prefix in ("", None):
        return ""
    body = prefix[:-1] if prefix.endswith("/") else prefix
    validate_key(body)
    return prefix


def sanitize_user_id(user_id: str) -> str:
    """Validate a user id: 1-64 of ``A-Z a-z 0-9 . _ -``, starting with a letter or digit.

    User ids name a prefix, so we refuse rather than silently rewrite them: two users must
    never end up sharing a folder because their names sanitized to the same string.
    """
    if not isinstance(user_id, str) or not _USER_RE.match(user_id) or user_id in (".", ".."):
        shown = str(user_id).encode("unicode_escape").decode("ascii")[:40]
        raise InvalidKeyError(
            f"invalid user id {shown!r}: use 1-{MAX_USER_ID} letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return user_id


def sanitize_filename(name: str) -> str:
    """Reduce any file name to a safe, bounded, readable key segment.

    Keeps the base name only (no directories), NFC-normalizes, replaces anything outside
    ``A-Z a-z 0-9 . _ -`` with ``_``, collapses runs, strips leading dots, and keeps the
    extension when truncating to ``MAX_FILENAME`` characters. Never returns an empty string.
    """
    name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    name = re.split(r"[\\/]", name)[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    name = re.sub(r"_{2,}", "_", name).strip("._ ") or "audio"
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


def validate_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not _JOB_RE.match(job_id):
        shown = str(job_id).encode("unicode_escape").decode("ascii")[:40]
        raise InvalidKeyError(f"invalid job id {shown!r}")
    return job_id


def utc_timestamp(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_CHARS]


def new_job_id(now: datetime | None = None) -> str:
    """Sortable, unique job id: ``YYYYmmddTHHMMSSZ-<8 hex>`` (newest sorts last)."""
    return f"{utc_timestamp(now)}-{secrets.token_hex(4)}"


def upload_key(user_id: str, filename: str, digest: str, now: datetime | None = None) -> str:
    """``uploads/{user_id}/{timestamp}_{hash}_{filename}``; ``digest`` is a hex SHA-256 (any length ≥ 12)."""
    if not re.fullmatch(r"[0-9a-f]{12,64}", digest or ""):
        raise InvalidKeyError("content hash must be hexadecimal")
    key = f"{UPLOADS}/{sanitize_user_id(user_id)}/{utc_timestamp(now)}_{digest[:HASH_CHARS]}_{sanitize_filename(filename)}"
    return validate_key(key)


def parse_upload_key(key: str) -> tuple[str, str, str, str] | None:
    """``uploads/u/{timestamp}_{hash}_{name}`` -> (user_id, timestamp, hash, name); None for other keys.

    The hash is the first ``HASH_CHARS`` hex digits of the SHA-256 of the file the user gave
    (for a FLAC stored in place of a WAV: of the WAV), which is what makes uploads findable by
    content with one listing of ``uploads/{user}/`` (see ``storage.uploads.find_upload``).
    """
    parts = PurePosixPath(key).parts
    if len(parts) != 3 or parts[0] != UPLOADS:
        return None
    stamp, _, rest = parts[2].partition("_")
    digest, _, name = rest.partition("_")
    if len(digest) != HASH_CHARS or not name or not re.fullmatch(r"[0-9a-f]+", digest):
        return None
    return parts[1], stamp, digest, name


def job_prefix(user_id: str, job_id: str) -> str:
    return f"{PROCESSED}/{sanitize_user_id(user_id)}/{validate_job_id(job_id)}/"


def transcription_key(user_id: str, job_id: str) -> str:
    return job_prefix(user_id, job_id) + TRANSCRIPTION_JSON


def midi_key(user_id: str, job_id: str) -> str:
    return job_prefix(user_id, job_id) + OUTPUT_MIDI


def edited_key(user_id: str, job_id: str) -> str:
    """The user's corrected transcription of a job, next to the model's (``jobs/edits.py``)."""
    return job_prefix(user_id, job_id) + EDITED_JSON


def edited_midi_key(user_id: str, job_id: str) -> str:
    return job_prefix(user_id, job_id) + EDITED_MIDI


def temp_prefix(job_id: str) -> str:
    return f"{TEMP}/{validate_job_id(job_id)}/"


def temp_key(job_id: str, name: str) -> str:
    return temp_prefix(job_id) + sanitize_filename(name)


def parse_processed_key(key: str) -> tuple[str, str, str] | None:
    """``processed/u/j/file`` -> (user_id, job_id, file); None for any other key."""
    parts = PurePosixPath(key).parts
    if len(parts) == 4 and parts[0] == PROCESSED:
        return parts[1], parts[2], parts[3]
    return None
