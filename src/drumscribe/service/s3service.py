"""``S3Service``: the guide's service object, on top of ``AsyncStorage``.

``AsyncStorage`` already gives the guide's calls (``upload_file``, ``generate_presigned_url``,
``list_files``, ``delete_file``, ``is_configured``) on S3 or the local mirror. A web service needs
two more things a browser can use directly, which a ``file://`` URI is not:

* ``presigned_post``: where and how the browser POSTs a song (S3: boto3's presigned POST; local:
  the app's own upload endpoint with a policy the app signs, see ``policy``);
* ``browser_url``: a link that downloads a result (S3: a presigned GET; local: an app URL signed
  with the same per-process secret, so the link works without the API token, as on S3).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
import urllib.parse
from typing import Any

from drumscribe.errors import InvalidKeyError
from drumscribe.service import policy
from drumscribe.storage.aio import AsyncStorage
from drumscribe.storage.base import Storage

LOCAL_UPLOAD_PATH = "/api/uploads/local"
LOCAL_FILES_PATH = "/api/files"


class S3Service(AsyncStorage):
    def __init__(self, storage: Storage | None = None, *, secret: bytes | None = None, upload_seconds: int = 900):
        super().__init__(storage)
        self.secret = secret or secrets.token_bytes(32)  # new per process: local links die with it
        self.upload_seconds = upload_seconds

    @property
    def backend(self) -> str:
        return self.storage.name

    # --- uploads -------------------------------------------------------------------------

    async def presigned_post(self, key: str, *, user_id: str, max_bytes: int, content_type: str) -> dict[str, Any]:
        """``{"url", "fields"}``: POST ``fields`` then the file (last) as multipart/form-data to ``url``."""
        conditions = policy.conditions(user_id, key, max_bytes, content_type)
        if self.storage.name == "s3":
            return await asyncio.to_thread(self._s3_post, key, conditions, content_type)
        doc = {"expiration": policy.expiration(self.upload_seconds), "conditions": conditions}
        encoded = policy.encode(doc)
        fields = {"key": key, "Content-Type": content_type, "policy": encoded,
                  "x-drumscribe-signature": policy.sign(self.secret, encoded)}
        return {"url": LOCAL_UPLOAD_PATH, "fields": fields}

    def _s3_post(self, key: str, conditions: list[Any], content_type: str) -> dict[str, Any]:
        s3 = self.storage
        sse = {"x-amz-server-side-encryption": getattr(s3, "sse", "AES256")}
        if getattr(s3, "kms_key_id", None):
            sse["x-amz-server-side-encryption-aws-kms-key-id"] = s3.kms_key_id  # type: ignore[attr-defined]
        try:
            return s3.client.generate_presigned_post(  # type: ignore[attr-defined]
                s3.bucket, key, Fields={"Content-Type": content_type, **sse},
                Conditions=[*conditions, *({k: v} for k, v in sse.items())], ExpiresIn=self.upload_seconds)
        except Exception as exc:  # botocore errors -> one line, as everywhere else
            raise s3._error(exc, key, "presign an upload to") from None  # type: ignore[attr-defined]

    def check_local_post(self, fields: dict[str, str], size: int) -> str:
        """The key a local-mirror upload may be stored under; ``PolicyError`` if it breaks its policy."""
        encoded = fields.get("policy", "")
        policy.verify(self.secret, encoded, fields.get("x-drumscribe-signature", ""))
        policy.check_post(policy.decode(encoded), fields, size)
        return fields["key"]

    # --- links ---------------------------------------------------------------------------

    async def browser_url(self, key: str, expiration: int = 3600, filename: str | None = None) -> str:
        """A link a browser can follow to download ``key`` for ``expiration`` seconds, saved as
        ``filename`` (default: the key's own name)."""
        if self.storage.name == "s3":
            return await self.generate_presigned_url(key, expiration=expiration, filename=filename)
        expires = int(time.time()) + expiration
        fields: dict[str, Any] = {"key": key, "expires": expires}
        if filename:
            fields["name"] = filename
        fields["sig"] = self._link_signature(key, expires, filename or "")
        return f"{LOCAL_FILES_PATH}?{urllib.parse.urlencode(fields)}"

    def _link_signature(self, key: str, expires: int, filename: str = "") -> str:
        message = f"GET\n{key}\n{expires}" + (f"\n{filename}" if filename else "")  # the name is signed too, as on S3
        return hmac.new(self.secret, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def check_link(self, key: str, expires: int, sig: str, filename: str = "") -> None:
        """Raise ``InvalidKeyError`` unless ``browser_url`` signed this link and it has not expired."""
        if not hmac.compare_digest(self._link_signature(key, int(expires), filename), str(sig)):
            raise InvalidKeyError("this download link's signature does not match (links end when the server restarts)")
        if time.time() > int(expires):
            raise InvalidKeyError("this download link has expired")

