"""``drumscribe restore KEY...``: bring archived originals (GLACIER, DEEP_ARCHIVE) back for reading.

A restore makes a temporary readable copy for ``days`` days; the object stays in its archive
class. It takes hours (``storage.s3.RESTORE_WAIT``), so this asks for it and reports the state:
asked now, already under way, or ready (until when). Objects in other classes need no restore.
"""

from __future__ import annotations

import botocore.exceptions as bexc

from drumscribe import aws
from drumscribe.config import Settings, load_settings
from drumscribe.errors import ConfigError
from drumscribe.keys import validate_key
from drumscribe.storage.s3 import RESTORE_WAIT, S3Storage

TIERS = ("Standard", "Bulk", "Expedited")


def restore(key: str, *, days: int = 7, tier: str = "Standard", settings: Settings | None = None, storage: S3Storage | None = None) -> str:
    """Ask S3 to restore ``key``; returns one line that says where the restore stands."""
    validate_key(key)
    if tier not in TIERS:
        raise ConfigError(f"unknown restore tier {tier!r}", hint="choose from " + ", ".join(TIERS))
    if not isinstance(days, int) or days < 1:
        raise ConfigError(f"--days must be a whole number of days, at least 1, got {days!r}")
    storage = storage or S3Storage(settings or load_settings())
    try:
        head = storage.client.head_object(Bucket=storage.bucket, Key=key)
    except (bexc.ClientError, bexc.BotoCoreError) as exc:
        raise storage._error(exc, key, "read") from None
    cls = head.get("StorageClass") or "STANDARD"
    if cls not in RESTORE_WAIT:
        return f"{storage.uri(key)} is in {cls}: it reads back without a restore"
    state = head.get("Restore") or ""
    if 'ongoing-request="true"' in state:
        return f"{storage.uri(key)}: a restore is already under way ({RESTORE_WAIT[cls]})"
    if 'ongoing-request="false"' in state:
        until = state.split("expiry-date=", 1)[-1].strip('"') if "expiry-date=" in state else "its expiry"
        return f"{storage.uri(key)} is restored and readable until {until}"
    try:
        storage.client.restore_object(Bucket=storage.bucket, Key=key, RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}})
    except bexc.ClientError as exc:
        if aws.error_code(exc) == "RestoreAlreadyInProgress":
            return f"{storage.uri(key)}: a restore is already under way ({RESTORE_WAIT[cls]})"
        raise storage._error(exc, key, "restore") from None
    except bexc.BotoCoreError as exc:
        raise storage._error(exc, key, "restore") from None
    wait = RESTORE_WAIT[cls] if tier == "Standard" else f"the {tier} tier's time"
    return f"{storage.uri(key)}: restore from {cls} requested: readable in {wait}, for {days} days"
