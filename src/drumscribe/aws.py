"""boto3 sessions and clients built from ``Settings``, and AWS errors turned into one-line messages.

Credentials: explicit keys from settings if both are given, else ``AWS_PROFILE``, else boto3's
whole default chain (environment, shared config, SSO, container and instance roles).
``AWS_ENDPOINT_URL`` points every client at an S3-compatible server (MinIO, moto...).
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.exceptions as bexc
from botocore.config import Config

from drumscribe.config import Settings
from drumscribe.errors import (
    AccessDeniedError,
    ConfigError,
    CredentialsError,
    EndpointError,
    MissingCredentialsError,
    NotFoundError,
    StorageError,
)

RETRIES = {"max_attempts": 8, "mode": "adaptive"}  # throttling (SlowDown, 503) backs off and retries
# An endpoint that refuses the connection or does not answer the handshake is not busy, it is not
# there (a stopped test server, a typo in AWS_ENDPOINT_URL): one retry, then say so. With the
# throttling retries above it took 8-10 s to hear "cannot reach the S3 endpoint"; now about 1 s, and
# at most CONNECT_ATTEMPTS x CONNECT_TIMEOUT when packets are dropped. A connection dropped mid-way
# (ConnectionClosedError, a read timeout) keeps every retry: that is the network, not the endpoint.
CONNECT_TIMEOUT = 3
CONNECT_ATTEMPTS = 2
UNREACHABLE = (bexc.EndpointConnectionError, bexc.ConnectTimeoutError)


def make_session(settings: Settings) -> boto3.Session:
    kwargs: dict[str, Any] = {"region_name": settings.region_name}
    if settings.access_key_id and settings.secret_access_key:
        kwargs.update(
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            aws_session_token=settings.session_token,
        )
    elif settings.profile:
        kwargs["profile_name"] = settings.profile
    try:
        return boto3.Session(**kwargs)
    except bexc.ProfileNotFound as exc:
        raise ConfigError(f"AWS profile {settings.profile!r} not found", hint="check AWS_PROFILE and ~/.aws/config") from exc


def client_config(**overrides: Any) -> Config:
    # s3v4 explicitly: botocore still presigns with SigV2 for some regions when left to choose.
    base = dict(
        signature_version="s3v4",
        retries=dict(RETRIES),
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=60,
        s3={"addressing_style": "auto"},
        max_pool_connections=32,
    )
    base.update(overrides)
    return Config(**base)


def client(settings: Settings, service: str, *, session: boto3.Session | None = None, **config: Any):
    session = session or make_session(settings)
    kwargs: dict[str, Any] = {"config": client_config(**config), "region_name": settings.region_name}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    made = session.client(service, **kwargs)
    made.meta.events.register_first("needs-retry", _give_up_on_unreachable_endpoints)
    return made


def _give_up_on_unreachable_endpoints(attempts: int = 1, caught_exception: BaseException | None = None, **_: Any) -> None:
    """botocore's needs-retry hook: retrying stops at the first handler answering something other
    than None, and None means "ask the next one" (the retry policy). So the way to stop retrying an
    unreachable endpoint is to raise what was caught, which the client then raises to its caller."""
    if isinstance(caught_exception, UNREACHABLE) and attempts >= CONNECT_ATTEMPTS:
        raise caught_exception


def plain_http(settings: Settings) -> bool:
    """True when requests go to an ``http://`` endpoint (a local test server): no TLS on the wire."""
    return (settings.endpoint_url or "").lower().startswith("http://")


def has_credentials(settings: Settings) -> bool:
    """True when some credentials resolve (keys, profile, SSO cache, role...). Makes no request."""
    try:
        return make_session(settings).get_credentials() is not None
    except (ConfigError, bexc.BotoCoreError):
        return False


def error_code(exc: BaseException) -> str:
    if isinstance(exc, bexc.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: BaseException, *, bucket: str | None = None, key: str | None = None, action: str = "") -> StorageError | ConfigError:
    """Map a botocore exception to a drumscribe error with one line a user can act on."""
    where = f"s3://{bucket}/{key}" if bucket and key else (f"s3://{bucket}" if bucket else "S3")
    doing = f"{action} {where}".strip()
    if isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError)):
        return MissingCredentialsError(
            "no AWS credentials found",
            hint="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in .env, AWS_PROFILE, or run `aws sso login`",
        )
    if isinstance(exc, (bexc.SSOTokenLoadError, bexc.UnauthorizedSSOTokenError, bexc.TokenRetrievalError)):
        return CredentialsError("the AWS SSO session has expired", hint="run `aws sso login`")
    if isinstance(exc, (bexc.EndpointConnectionError, bexc.ConnectTimeoutError, bexc.ConnectionClosedError)):
        return EndpointError(f"cannot reach the S3 endpoint ({getattr(exc, 'kwargs', {}).get('endpoint_url', '') or exc})", hint="check AWS_ENDPOINT_URL, AWS_REGION and your network")
    if isinstance(exc, (bexc.ReadTimeoutError, bexc.ConnectionError)):
        return EndpointError(f"connection to S3 failed while trying to {doing}: {type(exc).__name__}", hint="check your network and retry")
    if isinstance(exc, bexc.ParamValidationError):
        return StorageError(f"invalid request: {str(exc).splitlines()[-1]}")
    if isinstance(exc, bexc.ClientError):
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # credential errors first: AWS sends them with HTTP 403 too
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "UnrecognizedClientException", "InvalidClientTokenId"):
            return CredentialsError("AWS rejected the credentials (wrong access key or secret)", hint="check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return CredentialsError("the AWS credentials have expired", hint="refresh them (aws sso login, or new keys)")
        if code in ("NoSuchBucket",):
            return NotFoundError(f"bucket {bucket!r} does not exist", hint="check AWS_S3_BUCKET or run `drumscribe setup`")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return NotFoundError(f"not found: {where}")
        if code in ("AccessDenied", "AllAccessDisabled", "403", "Forbidden", "AccessDeniedException") or status == 403:
            return AccessDeniedError(
                f"access denied to {doing}",
                hint="check the IAM policy attached to your user and that AWS_S3_BUCKET names the right bucket",
            )
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException") or status == 301:
            region = exc.response.get("Error", {}).get("Region") or exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
            hint = f"set AWS_REGION={region}" if region else "set AWS_REGION to the bucket's region"
            return ConfigError(f"bucket {bucket!r} is in another region", hint=hint)
        if code in ("SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "503"):
            return StorageError(f"S3 is throttling requests ({code}) while trying to {doing}", hint="retry later")
        message = exc.response.get("Error", {}).get("Message") or code or str(exc)
        return StorageError(f"S3 error {code or status} while trying to {doing}: {message}")
    if isinstance(exc, bexc.BotoCoreError):
        return StorageError(f"S3 client error while trying to {doing}: {exc}")
    return StorageError(f"unexpected error while trying to {doing}: {type(exc).__name__}: {exc}")
