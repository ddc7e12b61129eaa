"""Can drumscribe use the bucket at all: configuration, credentials, the bucket answering, a round
trip of a test object and its clean-up. Each function is one row of the table (``checks.Runner``);
they share what earlier rows found through an ``S3Probe``.

S3 checks use raw clients on purpose: doctor inspects the bucket itself, e.g. the test object is
written *without* an encryption header so that its encryption proves the bucket's default.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import Any

import botocore.exceptions as bexc
from botocore.parsers import ResponseParserError

from drumscribe import aws, keys
from drumscribe.config import Settings
from drumscribe.doctor.checks import BOTO_ERRORS, QUICK, Failed, message
from drumscribe.provision import documents, policy, support


@dataclass
class S3Probe:
    """What the S3 rows share: the client once configuration passed, who we are, the test object."""

    settings: Settings
    bucket: str
    s3: Any = None
    arn: str | None = None  # None where the endpoint has no STS: then ``owner`` says who we are
    owner: str | None = None
    key: str | None = None  # the test object, once round-trip tried to write it
    _provider: str | None = None

    @property
    def provider(self) -> str:
        """aws, ceph, minio, r2, b2 or other (``provision.support``)."""
        if self._provider is None:
            self._provider = support.detect(self.settings, self.s3 or aws.client(self.settings, "s3", **QUICK))
        return self._provider


def configuration(probe: S3Probe) -> str:
    settings, bucket = probe.settings, probe.bucket
    keys.validate_bucket_name(bucket)
    if not aws.has_credentials(settings):
        raise Failed(f"bucket {bucket!r} is named but no AWS credentials resolve",
                     "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in .env, AWS_PROFILE, or run `aws sso login`")
    probe.s3 = aws.client(settings, "s3", **QUICK)
    source = settings.sources.get("bucket", "default")
    return f"bucket {bucket} (from {source}), region {settings.region_name}" + (
        f", endpoint {settings.endpoint_url}" if settings.endpoint_url else "")


def credentials(probe: S3Probe) -> str:
    try:
        ident = aws.client(probe.settings, "sts", **QUICK).get_caller_identity()
    except BOTO_ERRORS as exc:
        if support.unsupported(exc):
            return _identity_without_sts(probe)
        raise Failed(message(exc)) from None  # the message already says what to check
    except ResponseParserError:  # an answer that is not STS's XML: no STS there either
        return _identity_without_sts(probe)
    probe.arn = ident["Arn"]
    return f"authenticated as {ident['Arn']}"


def _identity_without_sts(probe: S3Probe) -> str:
    """Ceph RGW answers GetCallerIdentity with 405; a signed ListBuckets proves the keys instead,
    and its Owner names the user (RGW: the uid)."""
    try:
        owner = probe.s3.list_buckets().get("Owner", {})
    except bexc.ClientError as exc:
        if aws.error_code(exc) in ("AccessDenied", "403") and not _rejected(exc):
            return "the endpoint accepts these credentials (it has no STS to say whose they are, and ListBuckets is denied)"
        raise Failed(message(exc)) from None
    except bexc.BotoCoreError as exc:
        raise Failed(message(exc)) from None
    probe.owner = owner.get("ID") or owner.get("DisplayName")
    return f"authenticated as {probe.owner} (the owner ListBuckets names: this endpoint has no STS GetCallerIdentity)"


def _rejected(exc: bexc.ClientError) -> bool:
    return aws.error_code(exc) in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken")


def reachable(probe: S3Probe) -> str:
    settings, bucket = probe.settings, probe.bucket
    try:
        response = probe.s3.head_bucket(Bucket=bucket)
    except BOTO_ERRORS as exc:
        if not _listable_after_403(probe.s3, bucket, exc):
            raise tls_over_http(settings, probe.s3, exc) or _bucket_failure(exc, bucket) from None
        return f"s3://{bucket} answers (listing allowed)"
    region = response.get("BucketRegion") or response["ResponseMetadata"].get("HTTPHeaders", {}).get("x-amz-bucket-region")
    if region and region != settings.region_name:
        raise Failed(f"bucket {bucket!r} is in {region} but AWS_REGION is {settings.region_name}", f"set AWS_REGION={region}")
    return f"s3://{bucket} answers" + (f" ({region})" if region else "")


def round_trip(probe: S3Probe) -> str:
    s3, bucket, settings = probe.s3, probe.bucket, probe.settings
    key = keys.temp_key(f"doctor-{secrets.token_hex(6)}", "probe.bin")
    data = os.urandom(4096)
    probe.key = key
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data)  # no SSE header: see the module docstring
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except BOTO_ERRORS as exc:
        hint = "the IAM policy must allow s3:PutObject and s3:GetObject on the bucket's objects"
        if aws.plain_http(settings):  # the bucket policy could not be read to tell for sure
            hint += "; or, if the bucket has the TLS-only policy, it refuses them through this plain-HTTP endpoint: `drumscribe setup tls-policy --remove`"
        raise tls_over_http(settings, s3, exc) or Failed(
            message(exc, bucket=bucket, key=key, action="write and read back"), hint) from None
    if got != data:
        raise Failed(f"read back {len(got)} bytes that differ from the {len(data)} written to {key}")
    return f"wrote and read back {len(data)} identical bytes at {key}"


def cleanup(probe: S3Probe) -> str:
    s3, bucket, key = probe.s3, probe.bucket, probe.key
    try:
        s3.delete_object(Bucket=bucket, Key=key)
        s3.head_object(Bucket=bucket, Key=key)
    except bexc.ClientError as exc:
        if aws.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return f"test object {key} deleted and gone"
        raise Failed(message(exc, bucket=bucket, key=key, action="delete"), "the IAM policy must allow s3:DeleteObject") from None
    except bexc.BotoCoreError as exc:
        raise Failed(message(exc, bucket=bucket, key=key, action="delete")) from None
    raise Failed(f"test object {key} is still there after deleting it", f"delete it with `aws s3 rm s3://{bucket}/{key}`")


def tls_over_http(settings: Settings, s3: Any, exc: BaseException) -> Failed | None:
    """A 403 through a plain-HTTP endpoint on a bucket whose policy denies requests without TLS
    is that policy at work, not a missing IAM permission: say so, and how to take it out."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, bexc.ClientError) else None
    if status != 403 or not aws.plain_http(settings):
        return None
    try:
        current = json.loads(s3.get_bucket_policy(Bucket=settings.bucket)["Policy"])
    except (*BOTO_ERRORS, ValueError, KeyError):  # no policy, or not allowed to read it: no diagnosis
        return None
    if policy.find_statement(current, documents.TLS_STATEMENT_ID) is None:
        return None
    return Failed(
        f"the bucket policy denies every request made without TLS (statement {documents.TLS_STATEMENT_ID}), "
        f"and the endpoint {settings.endpoint_url} is plain HTTP, so S3 refuses this request",
        "run `drumscribe setup tls-policy --remove` (a TLS-only policy only makes sense behind an https:// endpoint)",
    )


def _listable_after_403(s3: Any, bucket: str, exc: BaseException) -> bool:
    """On AWS, HeadBucket is authorized by s3:ListBucket; some S3-compatible servers (moto among
    them) check a made-up "s3:HeadBucket" action instead and refuse a correctly scoped key. So a
    403 is only believed once listing the bucket is refused too."""
    if not (isinstance(exc, bexc.ClientError) and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403):
        return False
    try:
        s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
        return True
    except BOTO_ERRORS:
        return False


def _bucket_failure(exc: BaseException, bucket: str) -> Failed:
    if isinstance(exc, bexc.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if status == 404:
            return Failed(f"bucket {bucket!r} does not exist", "check AWS_S3_BUCKET, or create it with `drumscribe setup`")
        if status == 403:
            return Failed(f"access denied to bucket {bucket!r}",
                          f"attach DrumTranscriptionS3Policy (s3:ListBucket on arn:aws:s3:::{bucket}) to your user, and check AWS_S3_BUCKET names your bucket")
        if status in (301, 400) and headers.get("x-amz-bucket-region"):
            region = headers["x-amz-bucket-region"]
            return Failed(f"bucket {bucket!r} is in region {region}", f"set AWS_REGION={region}")
    return Failed(message(exc, bucket=bucket, action="reach"))
