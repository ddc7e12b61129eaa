"""AsyncStorage: the S3Service-shaped API for web back ends, off the event loop."""

from __future__ import annotations

import asyncio
import time

from drumscribe.storage.aio import AsyncStorage


def test_the_s3service_calls(storage, tmp_path):
    async def scenario():
        s = AsyncStorage(storage)
        assert s.is_configured()
        uri = await s.upload_file(file_data=b"ID3", key="uploads/user123/audio.mp3", content_type="audio/mpeg")
        assert uri == storage.uri("uploads/user123/audio.mp3")
        assert await s.file_exists(key="uploads/user123/audio.mp3")
        assert [o.key for o in await s.list_files(prefix="uploads/")] == ["uploads/user123/audio.mp3"]
        assert await s.download_file(key="uploads/user123/audio.mp3") == b"ID3"
        assert (await s.download_file(key="uploads/user123/audio.mp3", dest=tmp_path)).read_bytes() == b"ID3"
        assert await s.generate_presigned_url(key="uploads/user123/audio.mp3", expiration=3600)
        assert (await s.head(key="uploads/user123/audio.mp3")).content_type == "audio/mpeg"
        await s.delete_file(key="uploads/user123/audio.mp3")
        assert not await s.file_exists(key="uploads/user123/audio.mp3")

    asyncio.run(scenario())


def test_a_slow_backend_does_not_block_the_event_loop(local_storage):
    class Slow(type(local_storage)):
        def put(self, *args, **kwargs):
            time.sleep(0.3)  # a slow network
            return super().put(*args, **kwargs)

    slow = AsyncStorage(Slow(local_storage.root))
    ticks = []

    async def ticker():
        for _ in range(5):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    async def scenario():
        await asyncio.gather(slow.upload_file(file_data=b"x", key="k"), ticker())

    asyncio.run(scenario())
    assert len(ticks) == 5 and ticks[-1] - ticks[0] < 0.25  # the loop kept running during the put


def test_upload_file_accepts_an_uploadfile_like_object(local_storage):
    import io

    class UploadFile:  # Starlette's shape: the real file is .file
        def __init__(self, data):
            self.file = io.BytesIO(data)

    asyncio.run(AsyncStorage(local_storage).upload_file(file_data=UploadFile(b"RIFF"), key="u.wav"))
    assert local_storage.get("u.wav") == b"RIFF"
