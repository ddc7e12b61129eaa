"""Storage: one interface (``Storage``), two backends (``S3Storage``, ``LocalStorage``).

``get_storage()`` picks S3 when a bucket is configured, and the local mirror at
``$DRUMSCRIBE_HOME/local`` when none is (or ``$DRUMSCRIBE_HOME/<bucket>`` with ``--local``).
Choosing local is announced once per process on stderr so nobody wonders where files went.
A bucket that is named but cannot be used (no credentials resolve) is an error, never a quiet
detour to a folder named after it: the user asked for that bucket.

``S3Storage`` is imported on first use so that working locally never loads boto3.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drumscribe.config import Settings, load_settings
from drumscribe.errors import MissingCredentialsError
from drumscribe.storage._common import DeleteError
from drumscribe.storage.base import ObjectInfo, Storage
from drumscribe.storage.local import LocalStorage

if TYPE_CHECKING:  # pragma: no cover
    from drumscribe.storage.s3 import S3Storage

__all__ = ["get_storage", "offline_storage", "offline_root", "Storage", "ObjectInfo", "LocalStorage", "S3Storage", "DeleteError"]

OFFLINE_FOLDER = "local"  # Settings.local_root while no bucket is configured: where offline work lands

_announced = False


def get_storage(settings: Settings | None = None, *, prefer_local: bool = False, announce: bool = True) -> Storage:
    """The storage to use for ``settings`` (default: the effective settings)."""
    settings = settings or load_settings()
    if settings.bucket:  # a name S3 would refuse is refused here too, even for its local mirror
        from drumscribe.keys import validate_bucket_name

        validate_bucket_name(settings.bucket)
    if settings.bucket and not prefer_local:
        from drumscribe import aws

        if not aws.has_credentials(settings):
            raise _no_credentials(settings)
        from drumscribe.storage.s3 import S3Storage

        return S3Storage(settings)
    if prefer_local:
        reason = "--local"
    else:
        reason = "no S3 bucket configured"
    storage = LocalStorage(settings.local_root, bucket=settings.bucket)
    if announce:
        _announce(f"Using local storage at {storage.root} ({reason})")
    return storage


def _no_credentials(settings: Settings) -> MissingCredentialsError:
    origin = settings.sources.get("bucket", "")
    named = {"override": "--bucket", "environment": "AWS_S3_BUCKET in the environment"}.get(origin, f"AWS_S3_BUCKET in {origin}" if origin else "AWS_S3_BUCKET")
    return MissingCredentialsError(
        f"bucket {settings.bucket!r} is named ({named}) but no AWS credentials were found",
        hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in .env, AWS_PROFILE, or run `aws sso login`; "
             f"or run `drumscribe --local ...` to work in the local mirror {settings.local_root}",
    )


def offline_root(settings: Settings) -> Path:
    """The local mirror used while no bucket is configured: ``$DRUMSCRIBE_HOME/local``."""
    return settings.home / OFFLINE_FOLDER


def offline_storage(settings: Settings, active: Storage | None = None) -> LocalStorage | None:
    """The offline mirror, when a bucket is configured and the folder holds work; None otherwise.

    Work made before ``setup`` stays there until ``drumscribe sync push --from-local`` sends it;
    ``jobs`` and ``show`` look there too so it is never out of sight.
    """
    root = offline_root(settings)
    if not settings.bucket or root == settings.local_root or not root.is_dir():
        return None
    if isinstance(active, LocalStorage) and Path(active.root).resolve() == root.resolve():
        return None
    return LocalStorage(root)


def _announce(message: str) -> None:
    global _announced
    if not _announced:
        _announced = True
        print(message, file=sys.stderr, flush=True)


def __getattr__(name: str) -> Any:
    if name == "S3Storage":
        from drumscribe.storage.s3 import S3Storage

        return S3Storage
    raise AttributeError(f"module 'drumscribe.storage' has no attribute {name!r}")
