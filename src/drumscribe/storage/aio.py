"""``AsyncStorage``: the storage API for async web back ends (FastAPI, Starlette, aiohttp).

Every call runs the blocking backend in a worker thread (``asyncio.to_thread``), so a slow S3
request never stalls the event loop. Method names follow the original ``S3Service``::

    storage = AsyncStorage()                     # get_storage(): S3 if configured, else local
    uri = await storage.upload_file(file_data=data, key="uploads/u1/a.mp3", content_type="audio/mpeg")
    url = await storage.generate_presigned_url(key="processed/u1/j1/output.mid", expiration=3600)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Mapping

from drumscribe.storage.base import ObjectInfo, Storage


class AsyncStorage:
    def __init__(self, storage: Storage | None = None):
        if storage is None:
            from drumscribe.storage import get_storage

            storage = get_storage()
        self.storage = storage

    def is_configured(self) -> bool:
        return self.storage.is_configured()

    async def upload_file(
        self, file_data: Any, key: str, content_type: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> str:
        """Store bytes, a path or a binary stream (or an ``UploadFile``: its ``.file``); returns the URI."""
        data = getattr(file_data, "file", file_data)  # Starlette's UploadFile wraps a real file
        await asyncio.to_thread(self.storage.put, key, data, content_type=content_type, metadata=metadata)
        return self.storage.uri(key)

    async def generate_presigned_url(self, key: str, expiration: int = 3600, method: str = "GET", filename: str | None = None) -> str:
        return await asyncio.to_thread(self.storage.presign, key, expires=expiration, method=method, filename=filename)

    async def download_file(self, key: str, dest: str | Path | None = None) -> bytes | Path:
        """The object's bytes, or, with ``dest``, the path it was written to."""
        if dest is None:
            return await asyncio.to_thread(self.storage.get, key)
        return await asyncio.to_thread(self.storage.download, key, dest)

    async def delete_file(self, key: str) -> None:
        await asyncio.to_thread(self.storage.delete, key)

    async def list_files(self, prefix: str = "") -> list[ObjectInfo]:
        # list() is a lazy generator over paginated requests; drain it off the loop
        return await asyncio.to_thread(lambda: list(self.storage.list(prefix)))

    async def file_exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.storage.exists, key)

    async def head(self, key: str) -> ObjectInfo:
        return await asyncio.to_thread(self.storage.head, key)
