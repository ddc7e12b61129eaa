"""Is the bucket configured as setup left it: default encryption, lifecycle, CORS (and the
preflight a browser makes), the public access block, and the key's IAM permissions.

Each function is one row of the table (``checks.Runner``); settings these credentials may not read
are skipped, not failed: the app's least-privilege key may only read some of them.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions as bexc

from drumscribe import aws, keys
from drumscribe.config import Settings
from drumscribe.doctor.checks import BOTO_ERRORS, QUICK, Failed, NotApplicable, Skipped, Unsupported, message
from drumscribe.doctor.connection import S3Probe
from drumscribe.provision import documents, support
from drumscribe.provision.s3_steps import PUBLIC_ACCESS_BLOCK


def encrypted(probe: S3Probe) -> str:
    try:
        sse = probe.s3.head_object(Bucket=probe.bucket, Key=probe.key).get("ServerSideEncryption")
    except BOTO_ERRORS as exc:
        raise Failed(message(exc, bucket=probe.bucket, key=probe.key, action="inspect")) from None
    if not sse:
        if probe.provider != "aws" and not default_encryption_supported(probe):
            raise Unsupported(f"an object uploaded without an encryption header was stored unencrypted: default encryption is "
                              f"{support.UNSUPPORTED} ({support.NAMES[probe.provider]}), so {support.MEANS['encryption']}",
                              support.how("encryption", probe.provider, bucket=probe.bucket))
        raise Failed("an object uploaded without an encryption header was stored unencrypted",
                     "run `drumscribe setup encryption` to set default encryption")
    return f"objects are encrypted at rest by default ({sse})"


def default_encryption_supported(probe: S3Probe) -> bool | None:
    """False where GetBucketEncryption is missing or answers a bucket listing (RGW 16); None when
    these credentials may not ask."""
    try:
        got = probe.s3.get_bucket_encryption(Bucket=probe.bucket)
    except bexc.ClientError as exc:
        if aws.error_code(exc) in ("AccessDenied", "403"):
            return None
        return not support.unsupported(exc)
    except bexc.BotoCoreError:
        return None
    rules = got.get("ServerSideEncryptionConfiguration", {}).get("Rules")
    return not support.listed_instead({**got, "Rules": rules}, "Rules")


def _read(probe: S3Probe, fn: str, missing: str, what: str) -> Any:
    try:
        return getattr(probe.s3, fn)(Bucket=probe.bucket)
    except BOTO_ERRORS as exc:
        code = aws.error_code(exc)
        if code == missing:
            return None
        if code in ("AccessDenied", "403"):
            raise Skipped(f"these credentials may not read the {what} (the app policy only allows object access); "
                          "run doctor with administrator credentials to check it") from None
        raise Failed(message(exc, bucket=probe.bucket, action=f"read the {what} of")) from None


def lifecycle(probe: S3Probe) -> str:
    got = _read(probe, "get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration", "lifecycle configuration")
    rules = (got or {}).get("Rules")
    if not rules:
        raise Failed("the bucket has no lifecycle configuration", "run `drumscribe setup lifecycle`")
    if not documents.lifecycle_matches(rules):
        want = documents.normalize_lifecycle(documents.lifecycle()["Rules"])
        have = documents.normalize_lifecycle(rules)
        missing = [json.dumps(r, sort_keys=True) for r in want if r not in have]
        extra = [json.dumps(r, sort_keys=True) for r in have if r not in want]
        raise Failed(f"lifecycle differs from {documents.LIFECYCLE}: missing {missing or 'nothing'}; unexpected {extra or 'nothing'}",
                     "run `drumscribe setup lifecycle`")
    return f"matches {documents.LIFECYCLE} ({len(rules)} rules)"


def cors(probe: S3Probe, origins: list[str] | None) -> str:
    got = _read(probe, "get_bucket_cors", "NoSuchCORSConfiguration", "CORS configuration")
    want = documents.cors(origins)
    fix = "run `drumscribe setup cors" + (" --origins " + ",".join(origins) if origins else "") + "`"
    if not got:
        raise Failed("the bucket has no CORS configuration", fix)
    if documents.normalize_cors(got.get("CORSRules")) != documents.normalize_cors(want["CORSRules"]):
        have = sorted({o for r in got.get("CORSRules", []) for o in r.get("AllowedOrigins", [])})
        raise Failed(f"CORS differs from {documents.CORS} (bucket allows origins {', '.join(have) or 'none'})",
                     fix + " (or pass doctor --origins if you set custom origins)")
    return f"matches {documents.CORS} (origins {', '.join(want['CORSRules'][0]['AllowedOrigins'])})"


def public_access(probe: S3Probe) -> str:
    got = _read(probe, "get_public_access_block", "NoSuchPublicAccessBlockConfiguration", "public access block")
    flags = (got or {}).get("PublicAccessBlockConfiguration", {})
    off = [f for f in PUBLIC_ACCESS_BLOCK if flags.get(f) is not True]
    if off == ["BlockPublicAcls"] and probe.provider == "ceph":  # setup's way round RGW 16's bug: see provision.support
        raise Unsupported(f"BlockPublicAcls off, the other three on: {support.MEANS['block-public-acls']}",
                          support.how("block-public-acls", probe.provider))
    if off:
        raise Failed(f"public access is not fully blocked: {', '.join(off)} off", "run `drumscribe setup block-public`")
    return "all four public access block flags on"


def permissions(probe: S3Probe) -> str:
    from drumscribe.provision.simulation import simulate_app_access

    bucket = probe.bucket
    if probe.arn is None:  # no STS: nobody to simulate for, and no IAM policy simulation there either
        raise NotApplicable(f"IAM policy simulation is {support.UNSUPPORTED} (it has no STS or IAM user API)")
    sim = simulate_app_access(aws.client(probe.settings, "iam", **QUICK), probe.arn, bucket)
    if sim.skipped:
        raise NotApplicable(sim.skipped)
    if sim.denied:
        shown = "; ".join(f"{action} on {resource} ({decision})" for action, resource, decision in sim.denied[:4])
        raise Failed(f"IAM policy simulation: {sim.principal} may not {shown}" + (" ..." if len(sim.denied) > 4 else ""),
                     f"run `drumscribe setup iam --bucket {bucket}` with administrator credentials: "
                     f"it adds the bucket to {documents.POLICY_NAME} without removing the others")
    actions = sorted({action for action, _ in sim.checked})
    return f"IAM policy simulation: {sim.principal} may {', '.join(actions)} on s3://{bucket}"


def cors_preflight(settings: Settings, origin: str, s3: Any = None) -> str:
    """Make the preflight a browser on ``origin`` sends before POSTing an upload to the bucket.

    The URL is the one a presigned POST names (so path- or virtual-host style, endpoint and region
    are exactly the browser's). Raises ``Failed`` (a one-line message and a fix) if S3 would refuse.
    """
    import urllib.error
    import urllib.request

    origin = documents.normalize_origin(origin)
    s3 = s3 or aws.client(settings, "s3", **QUICK)
    url = s3.generate_presigned_post(settings.bucket, keys.UPLOADS + "/preflight")["url"]
    fix = f"run `drumscribe setup cors --origins {origin}`"
    try:  # S3 refuses every preflight to a bucket without CORS rules; some test servers answer anyway
        s3.get_bucket_cors(Bucket=settings.bucket)
    except BOTO_ERRORS as exc:
        if aws.error_code(exc) == "NoSuchCORSConfiguration":
            raise Failed(f"the bucket has no CORS rules, so browsers on {origin} may not upload to it", fix) from None
        # anything else (the app's key may not read bucket settings): the preflight below decides
    request = urllib.request.Request(url, method="OPTIONS", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            allowed_origin = response.headers.get("Access-Control-Allow-Origin", "")
            methods = {m.strip().upper() for m in response.headers.get("Access-Control-Allow-Methods", "").split(",")}
    except urllib.error.HTTPError as exc:
        raise Failed(f"the bucket refuses uploads from {origin} (preflight to {url} answered {exc.code})", fix) from None
    except (urllib.error.URLError, OSError) as exc:
        raise Failed(f"no answer to the CORS preflight at {url}: {getattr(exc, 'reason', exc)}") from None
    if allowed_origin not in (origin, "*") or "POST" not in methods:
        raise Failed(f"the bucket's preflight answer does not allow POST from {origin} "
                     f"(allows origin {allowed_origin or 'none'}, methods {', '.join(sorted(methods - {''})) or 'none'})", fix)
    return f"a browser on {origin} may POST uploads to {url}"
