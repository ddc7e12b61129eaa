"""Storage: one interface (``Storage``), two backends (``S3Storage``, ``LocalStorage``).

``get_storage()`` picks S3 when a bucket is configured and AWS credentials resolve, and
otherwise the local mirror at ``$DRUMSCRIBE_HOME/<bucket or "local">``. Choosing local is not
an error; it is announced once per process on stderr so nobody wonders where files went.

``S3Storage`` is imported on first use so that working locally never loads boto3.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from drumscribe.config import Settings, load_settings
from drumscribe.storage._common import DeleteError
from drumscribe.storage.base import ObjectInfo, Storage
from drumscribe.storage.local import LocalStorage

if TYPE_CHECKING:  # pragma: no cover
    from drumscribe.storage.s3 import S3Storage

__all__ = ["get_storage", "Storage", "ObjectInfo", "LocalStorage", "S3Storage", "DeleteError"]

_announced = False


def get_storage(settings: Settings | None = None, *, prefer_local: bool = False, announce: bool = True) -> Storage:
    """The storage to use for ``settings`` (default: the effective settings)."""
    settings = settings or load_settings()
    if settings.bucket and not prefer_local:
        from drumscribe import aws

        if aws.has_credentials(settings):
            from drumscribe.storage.s3 import S3Storage

            return S3Storage(settings)
        reason = f"S3 bucket {settings.bucket!r} is configured but no AWS credentials were found"
    elif prefer_local:
        reason = "--local"
    else:
        reason = "no S3 bucket configured"
    storage = LocalStorage(settings.local_root, bucket=settings.bucket)
    if announce:
        _announce(f"Using local storage at {storage.root} ({reason})")
    return storage


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
