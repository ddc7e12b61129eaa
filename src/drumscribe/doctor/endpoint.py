"""The S3 endpoint itself: does anything answer there, before credentials or the bucket are asked
about. An endpoint with nothing listening is its own failure, named as such, not a credentials one.
"""

from __future__ import annotations

import time

import botocore.exceptions as bexc

from drumscribe import aws
from drumscribe.doctor.checks import Failed
from drumscribe.doctor.connection import S3Probe

READ_TIMEOUT = 10


def reachable(probe: S3Probe) -> str:
    """One HeadBucket, no retries: any HTTP answer (even 403 or 404) means the endpoint is there.

    Signed, although the answer does not matter: some servers (moto with IAM checks on) fail on a
    request without an Authorization header instead of answering it."""
    settings = probe.settings
    once = aws.client(settings, "s3", retries={"max_attempts": 1, "mode": "standard"}, read_timeout=READ_TIMEOUT)
    url = once.meta.endpoint_url
    started = time.monotonic()
    try:
        response = once.head_bucket(Bucket=probe.bucket)
        status = response["ResponseMetadata"]["HTTPStatusCode"]
    except bexc.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    except aws.UNREACHABLE as exc:
        raise Failed(f"nothing answers at {url} ({_why(exc)})", _fix(settings, url)) from None
    except bexc.ReadTimeoutError:
        raise Failed(f"{url} accepted the connection but did not answer within {READ_TIMEOUT} s", _fix(settings, url)) from None
    except bexc.SSLError as exc:
        raise Failed(f"TLS with {url} failed: {exc}", "check the endpoint's certificate (AWS_CA_BUNDLE for a private CA)") from None
    except bexc.BotoCoreError as exc:
        raise Failed(f"{url}: {type(exc).__name__}: {exc}", _fix(settings, url)) from None
    elapsed = (time.monotonic() - started) * 1000
    return f"{url} answers (HTTP {status} in {elapsed:.0f} ms)"


def _why(exc: BaseException) -> str:
    if isinstance(exc, bexc.ConnectTimeoutError):
        return f"no answer to the connection within {aws.CONNECT_TIMEOUT} s"
    text = str(getattr(exc, "kwargs", {}).get("error", "") or exc)
    return "connection refused" if "refused" in text.lower() else text


def _fix(settings, url: str) -> str:
    if settings.endpoint_url:
        source = settings.sources.get("endpoint_url", "default")
        where = {"override": "--endpoint-url", "environment": "AWS_ENDPOINT_URL in the environment"}.get(source, f"AWS_ENDPOINT_URL in {source}")
        return f"start the S3 server that should listen at {url}, or correct the endpoint ({where})"
    return "check your network (and AWS_REGION)"
