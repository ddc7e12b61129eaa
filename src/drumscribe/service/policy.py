"""Browser uploads: the POST policy that bounds them, and its evaluation.

A browser uploads a song with one ``multipart/form-data`` POST whose form carries a *policy*:
a signed list of conditions the upload must meet. With S3 the policy comes from boto3's
``generate_presigned_post`` and S3 enforces it; with the local mirror the app signs the same
policy with a per-process secret and ``check_post`` enforces it, exactly as S3 would:

* every condition must hold, and every form field (but the policy, signature and file) must be
  named by a condition (S3 refuses a form with a field the policy does not mention);
* ``{"field": value}`` and ``["eq", "$field", value]`` match exactly, ``["starts-with", "$field",
  prefix]`` by prefix (field names are case-insensitive); ``["content-length-range", lo, hi]``
  bounds the file's size; the policy expires at ``expiration``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from drumscribe import keys
from drumscribe.errors import InputError
from drumscribe.storage._common import AUDIO_TYPES

AUDIO_PREFIX = "audio/"
# form fields that carry the policy itself, never subject to it
UNCHECKED_FIELDS = frozenset({"policy", "signature", "x-amz-signature", "awsaccesskeyid", "file", "x-drumscribe-signature"})
# browsers label some audio with a non-audio type; these are accepted and sent on as audio
EXPLICIT_AUDIO_TYPES = frozenset(AUDIO_TYPES.values()) | {"audio/x-wav", "audio/x-flac", "audio/x-aiff", "audio/webm"}


class PolicyError(InputError):
    """An upload does not meet its policy (S3 answers 403 AccessDenied)."""


def audio_content_type(content_type: str | None, filename: str) -> str:
    """The content type an upload is stored with: the browser's if it is audio, else by extension."""
    from drumscribe.storage._common import guess_content_type

    given = (content_type or "").split(";")[0].strip().lower()
    if given.startswith(AUDIO_PREFIX):
        return given
    guessed = guess_content_type(filename)
    if guessed.startswith(AUDIO_PREFIX):
        return guessed
    raise InputError(f"{filename!r} is not audio (content type {given or 'unknown'})",
                     hint="upload WAV, FLAC, MP3, OGG, AIFF or M4A")


def conditions(user_id: str, key: str, max_bytes: int, content_type: str) -> list[Any]:
    """The conditions every browser upload is held to (S3 adds ``bucket`` and the exact key)."""
    return [
        {"key": key},
        ["starts-with", "$key", f"{keys.UPLOADS}/{keys.sanitize_user_id(user_id)}/"],
        ["content-length-range", 1, int(max_bytes)],
        ["starts-with", "$Content-Type", AUDIO_PREFIX],
        {"Content-Type": content_type},
    ]


def expiration(seconds: int, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(policy: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(policy).encode("utf-8")).decode("ascii")


def decode(policy_b64: str) -> dict[str, Any]:
    try:
        return json.loads(base64.b64decode(policy_b64, validate=True))
    except (ValueError, TypeError):
        raise PolicyError("the upload policy is not valid base64 JSON") from None


def sign(secret: bytes, policy_b64: str) -> str:
    return hmac.new(secret, policy_b64.encode("ascii"), hashlib.sha256).hexdigest()


def verify(secret: bytes, policy_b64: str, signature: str) -> None:
    if not hmac.compare_digest(sign(secret, policy_b64), str(signature or "")):
        raise PolicyError("the upload policy's signature does not match")


def check_post(policy: Mapping[str, Any], fields: Mapping[str, str], size: int, now: datetime | None = None) -> None:
    """Raise ``PolicyError`` unless a form with ``fields`` and a file of ``size`` bytes meets ``policy``."""
    now = now or datetime.now(timezone.utc)
    try:
        expires = datetime.strptime(str(policy["expiration"])[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except (KeyError, ValueError):
        raise PolicyError("the upload policy has no valid expiration") from None
    if now > expires:
        raise PolicyError("the upload policy has expired; ask for a new upload")
    form = {name.lower(): str(value) for name, value in fields.items()}
    covered: set[str] = set()
    for condition in policy.get("conditions", []):
        if isinstance(condition, Mapping):
            for name, want in condition.items():
                covered.add(name.lower())
                if name.lower() != "bucket" and form.get(name.lower()) != str(want):
                    raise PolicyError(f"upload refused: {name} must be {want!r}")
            continue
        op, *args = condition
        op = str(op).lower()
        if op == "content-length-range":
            low, high = int(args[0]), int(args[1])
            if not low <= size <= high:
                raise PolicyError(f"upload refused: the file is {size} bytes, outside {low}..{high}")
            continue
        name = str(args[0]).lstrip("$").lower()
        covered.add(name)
        value = form.get(name)
        if value is None:
            raise PolicyError(f"upload refused: the form has no {args[0][1:]} field")
        if op == "eq" and value != str(args[1]):
            raise PolicyError(f"upload refused: {args[0][1:]} must be {args[1]!r}")
        if op == "starts-with" and not value.startswith(str(args[1])):
            raise PolicyError(f"upload refused: {args[0][1:]} must start with {args[1]!r}")
    extra = sorted(set(form) - covered - UNCHECKED_FIELDS)
    if extra:
        raise PolicyError(f"upload refused: the policy does not allow the form field(s) {', '.join(extra)}")
