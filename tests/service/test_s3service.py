"""``S3Service``, the guide's service object: AsyncStorage's calls plus what a browser needs."""

from __future__ import annotations

import asyncio

import pytest

from drumscribe import S3Service
from drumscribe.config import load_settings
from drumscribe.errors import InvalidKeyError
from drumscribe.service import policy
from drumscribe.storage.local import LocalStorage

KEY = "uploads/tester/20261201T000000Z_0123456789ab_song.wav"


def test_the_guides_calls_and_the_browsers_on_the_local_mirror():
    async def session():
        service = S3Service(LocalStorage(load_settings().local_root), secret=b"s" * 32)
        assert service.is_configured() and service.backend == "local"
        await service.upload_file(file_data=b"RIFF....", key=KEY, content_type="audio/wav")
        assert [o.key for o in await service.list_files("uploads/")] == [KEY]

        post = await service.presigned_post(KEY, user_id="tester", max_bytes=100, content_type="audio/wav")
        assert post["url"] == "/api/uploads/local"
        assert service.check_local_post(post["fields"], 8) == KEY
        with pytest.raises(policy.PolicyError):
            service.check_local_post({**post["fields"], "x-drumscribe-signature": "0" * 64}, 8)

        link = await service.browser_url(KEY, expiration=60)
        query = dict(part.split("=", 1) for part in link.split("?", 1)[1].split("&"))
        service.check_link(KEY, int(query["expires"]), query["sig"])
        with pytest.raises(InvalidKeyError, match="expired"):
            service.check_link(KEY, int(query["expires"]) - 3600, service._link_signature(KEY, int(query["expires"]) - 3600))
        with pytest.raises(InvalidKeyError, match="signature"):
            S3Service(service.storage).check_link(KEY, int(query["expires"]), query["sig"])  # another server's secret

        await service.delete_file(KEY)
        assert not await service.file_exists(KEY)

    asyncio.run(session())
