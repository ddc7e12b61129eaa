"""The S3 endpoint itself: does anything answer there (the ``endpoint`` row, before credentials or
the bucket are asked about: an endpoint with nothing listening is its own failure, not a
credentials one), and, off AWS, what it supports (the capability table).
"""

from __future__ import annotations

import time

import botocore.exceptions as bexc

from botocore.parsers import ResponseParserError

from drumscribe import aws
from drumscribe.doctor.checks import PASS, QUICK, SKIP, WARN, Check, Failed
from drumscribe.doctor.connection import S3Probe
from drumscribe.provision import documents, support

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


# -- what the endpoint supports (off AWS) ----------------------------------------------------------

SUPPORTED = "supported"


def capabilities(probe: S3Probe) -> list[Check]:
    """One row per feature setup uses: pass = supported, warn = not (with what that means and how to
    get it there), skip = could not tell (these credentials may not ask). Read-only calls only."""
    platform = probe.provider
    iam = aws.client(probe.settings, "iam", **QUICK)
    s3, bucket = probe.s3, probe.bucket
    rows = [
        _row("STS GetCallerIdentity", probe.arn is not None, "sts", platform, probe),
        _config("default encryption", lambda: s3.get_bucket_encryption(Bucket=bucket), "ServerSideEncryptionConfiguration",
                "ServerSideEncryptionConfigurationNotFoundError", "encryption", platform, probe),
        _config("object ownership controls", lambda: s3.get_bucket_ownership_controls(Bucket=bucket), "OwnershipControls",
                "OwnershipControlsNotFoundError", "ownership", platform, probe),
        _config("public access block", lambda: s3.get_public_access_block(Bucket=bucket), "PublicAccessBlockConfiguration",
                "NoSuchPublicAccessBlockConfiguration", "public-access-block", platform, probe),
        _config("bucket policy", lambda: s3.get_bucket_policy(Bucket=bucket), "Policy", "NoSuchBucketPolicy", None, platform, probe),
        _config("lifecycle rules", lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), "Rules",
                "NoSuchLifecycleConfiguration", None, platform, probe),
        _config("CORS rules", lambda: s3.get_bucket_cors(Bucket=bucket), "CORSRules", "NoSuchCORSConfiguration", None, platform, probe),
    ]
    users = _api(lambda: iam.get_user(UserName=documents.USER_NAME))
    rows.append(_row("IAM users and keys", users, "iam", platform, probe))
    if users is False:  # then the app's permissions go on its user as an inline policy, where that exists
        inline = _api(lambda: iam.list_user_policies(UserName=documents.USER_NAME))
        rows.append(Check("inline user policies", PASS if inline else (WARN if inline is False else SKIP),
                          "PutUserPolicy: `drumscribe setup iam` applies the app's permissions as the user's inline policy" if inline
                          else f"{support.UNSUPPORTED}: the app's key is scoped with the platform's own tool" if inline is False
                          else "could not tell (these credentials may not ask)"))
    if platform == "ceph" and rows[3].status == PASS:
        rows[3].detail += f"; BlockPublicAcls stays off: {support.MEANS['block-public-acls']}"
    return rows


def _api(call) -> bool | None:
    """True: the API answered (any answer but "not here"); False: 405/501; None: could not tell."""
    try:
        call()
    except bexc.ClientError as exc:
        return False if support.unsupported(exc) else (None if aws.error_code(exc) in ("AccessDenied", "403") else True)
    except ResponseParserError:
        return False
    except bexc.BotoCoreError:
        return None
    return True


def _config(name, call, key, missing, feature, platform, probe) -> Check:
    try:
        got = call()
    except bexc.ClientError as exc:
        if aws.error_code(exc) == missing or support.status_of(exc) == 404 and not support.unsupported(exc):
            return Check(name, PASS, SUPPORTED + " (not set on this bucket)")
        if aws.error_code(exc) in ("AccessDenied", "403"):
            return Check(name, SKIP, "could not tell: these credentials may not read it")
        return _row(name, not support.unsupported(exc, invalid_argument=True), feature, platform, probe)
    except (bexc.BotoCoreError, ResponseParserError):
        return Check(name, SKIP, "could not tell: the answer was not S3's")
    if support.listed_instead(got, key) and key not in ("Policy",):
        # e.g. RGW 16's GetBucketEncryption: 200 and a listing of the bucket, no configuration
        return _row(name, False, feature, platform, probe, listing=True)
    return Check(name, PASS, SUPPORTED)


def _row(name: str, supported: bool | None, feature: str | None, platform: str, probe: S3Probe, *, listing: bool = False) -> Check:
    if supported:
        return Check(name, PASS, SUPPORTED)
    if supported is None:
        return Check(name, SKIP, "could not tell (these credentials may not ask)")
    detail = support.UNSUPPORTED + (" (it answers the request with a listing of the bucket)" if listing else "")
    if feature:
        detail += f": {support.MEANS[feature]}"
    return Check(name, WARN, detail, support.how(feature, platform, bucket=probe.bucket) if feature in support.HOW else "")
