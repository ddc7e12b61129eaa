"""The S3 backend (boto3). Works with AWS and S3-compatible servers (``AWS_ENDPOINT_URL``).

* Every object is written server-side encrypted (SSE-S3 ``AES256`` by default, or ``aws:kms``)
  and carries its hex SHA-256 as user metadata (``x-amz-meta-sha256``).
* Small byte strings go up in one ``PutObject``; files and streams at or above the multipart
  threshold go through s3transfer, which uploads parts in parallel and aborts the multipart
  upload if anything fails, so a failed or interrupted upload never leaves a visible object.
* Every botocore error becomes a one-line drumscribe error (``drumscribe.aws.translate``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

import botocore.exceptions as bexc
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig

from drumscribe import aws
from drumscribe.config import Settings
from drumscribe.errors import ArchivedObjectError, ChangedError, ConfigError, DrumscribeError, InputError, NotFoundError, StorageError
from drumscribe.keys import validate_bucket_name, validate_key, validate_prefix
from drumscribe.storage._common import (
    CHUNK,
    DeleteError,
    guess_content_type,
    as_path,
    atomic_file,
    check_expiry,
    check_metadata,
    download_target,
    check_method,
    is_bytes,
    open_input,
    rewindable,
    seekable,
    sha256_file,
    sha256_stream,
)
from drumscribe.storage.base import SHA256_META, Data, ObjectInfo, Storage

MB = 1024 * 1024
MULTIPART_THRESHOLD = 16 * MB
MULTIPART_CHUNKSIZE = 16 * MB
MAX_CONCURRENCY = 8
DELETE_BATCH = 1000  # DeleteObjects' limit per request
SSE_CHOICES = ("AES256", "aws:kms")
_BOTO_ERRORS = (bexc.BotoCoreError, bexc.ClientError)


class _Unconditional(Exception):
    """The server does not take conditional writes (If-Match / If-None-Match on PUT)."""


class S3Storage(Storage):
    name = "s3"

    def __init__(
        self,
        settings: Settings,
        *,
        bucket: str | None = None,
        client: Any = None,
        sse: str = "AES256",
        kms_key_id: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNKSIZE,
        max_concurrency: int = MAX_CONCURRENCY,
        page_size: int = 1000,
        client_config: Mapping[str, Any] | None = None,
    ):
        self.settings = settings
        self.bucket = bucket or settings.bucket
        if not self.bucket:
            raise ConfigError("no S3 bucket configured", hint="set AWS_S3_BUCKET or pass --bucket")
        validate_bucket_name(self.bucket)  # before any request: name the rule, not botocore's regex
        if sse not in SSE_CHOICES:
            raise ConfigError(f"server-side encryption must be one of {', '.join(SSE_CHOICES)}, got {sse!r}")
        if kms_key_id and sse != "aws:kms":
            raise ConfigError("kms_key_id needs sse='aws:kms'")
        self.sse = sse
        self.kms_key_id = kms_key_id
        self.page_size = max(1, min(int(page_size), 1000))
        self.transfer_config = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
            use_threads=True,
            preferred_transfer_client="classic",  # same behaviour with or without awscrt installed
        )
        self.client = client or aws.client(settings, "s3", **dict(client_config or {}))

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r})"

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    def is_configured(self) -> bool:
        return bool(self.bucket) and aws.has_credentials(self.settings)

    def _error(self, exc: BaseException, key: str | None, action: str) -> DrumscribeError:
        code = aws.error_code(exc)
        if code == "InvalidObjectState" and key:
            # an original archived by `setup lifecycle --archive-class GLACIER|DEEP_ARCHIVE`
            storage_class = exc.response.get("Error", {}).get("StorageClass")  # type: ignore[attr-defined]
            return ArchivedObjectError(f"{self.uri(key)} is archived in {storage_class or 'an archive storage class'} and cannot be read until it is restored",
                                       hint=restore_hint(self.bucket, key, storage_class))
        if code == "InvalidRequest" and action == "upload to" and aws.plain_http(self.settings):
            # Ceph RGW refuses any SSE header over plain HTTP (rgw_crypt_require_ssl), and every upload carries one
            return StorageError(f"{self.settings.endpoint_url} refused to store {self.uri(key or '')} with server-side encryption "
                                "through plain HTTP", hint="use its https:// endpoint; on a Ceph RGW test server, "
                                "`rgw_crypt_require_ssl = false` lets it accept the header (docs/s3-compatible.md)")
        if code in ("404", "NotFound") and key and self._bucket_missing():
            # HEAD responses have no body, so a missing bucket looks like a missing key
            code = "NoSuchBucket"
            exc = bexc.ClientError({"Error": {"Code": code}}, "HeadBucket")
        error = aws.translate(exc, bucket=self.bucket, key=key, action=action)
        error.bucket_missing = code == "NoSuchBucket"  # type: ignore[attr-defined]
        return error

    def _bucket_missing(self) -> bool:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except _BOTO_ERRORS as exc:
            return aws.error_code(exc) in ("404", "NoSuchBucket", "NotFound")

    # --- writing -----------------------------------------------------------------------------

    def _extra_args(self, key: str, sha256: str, content_type: str | None, metadata: Mapping[str, str] | None) -> dict[str, Any]:
        args: dict[str, Any] = {
            "ServerSideEncryption": self.sse,
            "ContentType": content_type or guess_content_type(key),
            "Metadata": {**check_metadata(metadata), SHA256_META: sha256},
        }
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args

    def put(self, key: str, data: Data, *, content_type: str | None = None, metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        validate_key(key)
        threshold = self.transfer_config.multipart_threshold
        if is_bytes(data) and len(data) < threshold:  # type: ignore[arg-type]
            return self._put_object(key, bytes(data), content_type, metadata)  # type: ignore[arg-type]

        path = as_path(data)
        if path is not None:
            with open_input(path) as fh:
                if os.fstat(fh.fileno()).st_size < threshold:
                    return self._put_object(key, fh.read(), content_type, metadata)
            sha, _ = sha256_file(path)
            extra = self._extra_args(key, sha, content_type, metadata)
            with open_input(path) as fh:
                self._transfer(key, fh, extra)
            return self.head(key)

        stream: BinaryIO = io.BytesIO(bytes(data)) if is_bytes(data) else data  # type: ignore[arg-type,assignment]
        # the hash has to be known before the first byte is sent (it travels as a header)
        spooled = not seekable(stream)
        if spooled:
            stream = rewindable(stream)
        try:
            sha, size = sha256_stream(stream)
            if size < threshold:
                return self._put_object(key, stream.read(), content_type, metadata)
            self._transfer(key, stream, self._extra_args(key, sha, content_type, metadata))
        finally:
            if spooled:
                stream.close()
        return self.head(key)  # for the ETag and time S3 assigned

    def put_if_unchanged(self, key: str, data: bytes, *, etag: str | None, content_type: str | None = None,
                         metadata: Mapping[str, str] | None = None) -> ObjectInfo:
        validate_key(key)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            return self._put_object(key, bytes(data), content_type, metadata, condition)
        except _Unconditional:
            # a server without conditional writes (it says NotImplemented): compared, then written,
            # as on the local mirror; on AWS, Ceph RGW and moto the request itself is conditional
            return super().put_if_unchanged(key, data, etag=etag, content_type=content_type, metadata=metadata)

    def _put_object(self, key: str, body: bytes, content_type: str | None, metadata: Mapping[str, str] | None,
                    condition: Mapping[str, str] | None = None) -> ObjectInfo:
        sha = hashlib.sha256(body).hexdigest()
        extra = self._extra_args(key, sha, content_type, metadata)
        # S3 checks the body against this full-object SHA-256 and refuses the upload on mismatch
        checksum = base64.b64encode(bytes.fromhex(sha)).decode("ascii")
        try:
            response = self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ChecksumSHA256=checksum, **extra,
                                              **(condition or {}))
        except _BOTO_ERRORS as exc:
            code = aws.error_code(exc)
            if condition and code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise ChangedError(f"{self.uri(key)} changed since it was read; nothing was written") from None
            if condition and code in ("NotImplemented", "501"):
                raise _Unconditional() from None
            raise self._error(exc, key, "upload to") from None
        return ObjectInfo(
            key=key, size=len(body), etag=_etag(response.get("ETag")), sha256=sha,
            content_type=extra["ContentType"], metadata=_user_metadata(extra["Metadata"]),
        )

    def _transfer(self, key: str, stream: BinaryIO, extra: dict[str, Any]) -> None:
        try:
            self.client.upload_fileobj(stream, self.bucket, key, ExtraArgs=extra, Config=self.transfer_config)
        except _BOTO_ERRORS as exc:
            raise self._error(exc, key, "upload to") from None
        except S3UploadFailedError as exc:
            # boto3 wraps some transfer failures; report the botocore error underneath
            cause = _botocore_cause(exc)
            if cause is None:
                raise StorageError(f"upload to {self.uri(key)} failed: {exc}") from None
            raise self._error(cause, key, "upload to") from None
        except OSError as exc:
            # reading the input failed mid-upload; s3transfer has aborted the multipart upload
            raise InputError(f"upload to {self.uri(key)} failed reading the input: {exc.strerror or exc}") from None

    # --- reading -----------------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
            return True
        except NotFoundError as exc:
            if getattr(exc, "bucket_missing", False):
                raise  # "no" would be misleading when the whole bucket is gone
            return False

    def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        try:
            r = self.client.head_object(Bucket=self.bucket, Key=key)
        except _BOTO_ERRORS as exc:
            raise self._error(exc, key, "read") from None
        metadata = dict(r.get("Metadata") or {})
        return ObjectInfo(
            key=key,
            size=int(r.get("ContentLength", 0)),
            etag=_etag(r.get("ETag")),
            last_modified=_utc(r.get("LastModified")),
            sha256=metadata.get(SHA256_META),
            content_type=r.get("ContentType"),
            storage_class=r.get("StorageClass") or "STANDARD",  # S3 omits the header for STANDARD
            metadata=_user_metadata(metadata),
        )

    def _get_body(self, key: str):
        validate_key(key)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except _BOTO_ERRORS as exc:
            raise self._error(exc, key, "read") from None

    def open(self, key: str) -> BinaryIO:
        return io.BufferedReader(_Reader(self._get_body(key), self, key), buffer_size=CHUNK)  # type: ignore[return-value]

    def get(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def download(self, key: str, dest: str | Path) -> Path:
        validate_key(key)
        dest = download_target(key, dest)
        with atomic_file(dest) as fh:
            try:
                self.client.download_fileobj(self.bucket, key, fh, Config=self.transfer_config)
            except _BOTO_ERRORS as exc:
                raise self._error(exc, key, "download") from None
        return dest

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        prefix = validate_prefix(prefix)
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        key=item["Key"],
                        size=int(item["Size"]),
                        etag=_etag(item.get("ETag")),
                        last_modified=_utc(item.get("LastModified")),
                        storage_class=item.get("StorageClass"),
                    )
        except _BOTO_ERRORS as exc:
            raise self._error(exc, None, "list") from None

    # --- deleting ----------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        validate_key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except _BOTO_ERRORS as exc:
            raise self._error(exc, None, "delete from") from None

    def delete_many(self, keys: Iterable[str]) -> list[str]:
        keys = list(dict.fromkeys(validate_key(k) for k in keys))  # validate all before deleting any
        deleted: list[str] = []
        errors: dict[str, str] = {}
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            except _BOTO_ERRORS as exc:
                raise self._error(exc, None, "delete from") from None
            failed = {e["Key"]: e.get("Code") or e.get("Message") or "error" for e in response.get("Errors", [])}
            errors.update(failed)
            deleted.extend(k for k in batch if k not in failed)
        if errors:
            raise DeleteError(deleted, errors)
        return deleted

    def presign(self, key: str, *, expires: int = 3600, method: str = "GET", content_type: str | None = None,
                filename: str | None = None) -> str:
        validate_key(key)
        expires = check_expiry(expires)
        method = check_method(method)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if method == "PUT" and content_type:
            params["ContentType"] = content_type  # the uploader must then send the same Content-Type
        if method == "GET" and filename:  # signed into the URL: S3 answers with this Content-Disposition
            from drumscribe.downloads import content_disposition

            params["ResponseContentDisposition"] = content_disposition(filename)
        operation = "get_object" if method == "GET" else "put_object"
        try:
            return self.client.generate_presigned_url(operation, Params=params, ExpiresIn=expires, HttpMethod=method)
        except _BOTO_ERRORS as exc:
            raise self._error(exc, key, "presign") from None


# how long a Standard-tier restore takes, per archive class that needs one
RESTORE_WAIT = {"GLACIER": "3-5 hours (Standard tier; Expedited: 1-5 minutes)", "DEEP_ARCHIVE": "up to 12 hours (Standard tier)"}


def restore_hint(bucket: str, key: str, storage_class: str | None) -> str:
    """How to get an archived object back, in one line: the commands and how long it takes."""
    request = '{"Days":7,"GlacierJobParameters":{"Tier":"Standard"}}'
    wait = RESTORE_WAIT.get(storage_class or "", "hours")
    return (f"restore it first with `drumscribe restore {key}` or `aws s3api restore-object --bucket {bucket} --key {key} "
            f"--restore-request '{request}'`, wait {wait}, then run this again")


class _Reader(io.RawIOBase):
    """A readable stream over a GetObject body whose network errors come out as one line."""

    def __init__(self, body: Any, storage: S3Storage, key: str):
        self._body, self._storage, self._key = body, storage, key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._body.read(len(buffer))
        except _BOTO_ERRORS as exc:
            raise self._storage._error(exc, self._key, "read") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _utc(value: datetime | None) -> datetime | None:
    # botocore parses list timestamps as local time and head ones as UTC; compare like with like
    return value.astimezone(timezone.utc) if value else None


def _user_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    # the hash has its own field (ObjectInfo.sha256); metadata is what the caller stored
    return {k: v for k, v in metadata.items() if k != SHA256_META}


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _botocore_cause(exc: BaseException) -> BaseException | None:
    seen = exc
    while seen is not None:
        if isinstance(seen, _BOTO_ERRORS):
            return seen
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    return None
