"""What an S3-compatible endpoint supports, learnt from its answers, and what a missing feature means.

AWS answers every call setup and doctor make. Other S3 implementations lack some, and say so in
different ways:

* 405 MethodNotAllowed or 501 NotImplemented: an API they do not have (Ceph RGW's STS and IAM user
  calls, CloudWatch...);
* 400 InvalidArgument on a configuration they do not implement (RGW 16's PutBucketEncryption and
  PutBucketOwnershipControls);
* 200 with a *bucket listing* for a sub-resource they do not know (RGW 16's GetBucketEncryption and
  GetBucketOwnershipControls), which boto3 parses as an empty configuration: read naively, that
  passes or fails a check silently and wrongly. ``listed_instead`` recognises it.

A step or check that meets one of these reports ``UNSUPPORTED`` with what it means for security
and how to get the protection on that platform (``HOW``), never a traceback and never a pass.
``provider()`` names the platform, from the endpoint's host or the answers' headers, only to pick
those instructions and the few behaviours that must differ (``docs/s3-compatible.md``).
"""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import urlsplit

import botocore.exceptions as bexc

from drumscribe import aws
from drumscribe.config import Settings

UNSUPPORTED = "not supported by this endpoint"
PROVIDERS = ("aws", "ceph", "minio", "r2", "b2", "other")
NAMES = {"aws": "AWS S3", "ceph": "Ceph RGW", "minio": "MinIO", "r2": "Cloudflare R2", "b2": "Backblaze B2", "other": "this S3-compatible server"}

_UNSUPPORTED_CODES = {"NotImplemented", "MethodNotAllowed", "UnsupportedOperation", "XNotImplemented"}
_RGW_REQUEST_ID = re.compile(r"^tx[0-9a-f]{21}-[0-9a-f]{8,}-")


def status_of(exc: BaseException) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, bexc.ClientError) else None


def unsupported(exc: BaseException, *, invalid_argument: bool = False) -> bool:
    """True when ``exc`` says "this endpoint does not have that API". ``invalid_argument``: a 400
    InvalidArgument counts too (pass it only where AWS would accept the request as sent, and only
    off AWS: there InvalidArgument is a real mistake)."""
    if not isinstance(exc, bexc.ClientError):
        return False
    code, status = aws.error_code(exc), status_of(exc)
    if code in _UNSUPPORTED_CODES or status in (405, 501):
        return True
    return invalid_argument and code == "InvalidArgument"


def listed_instead(response: Mapping[str, Any], key: str) -> bool:
    """True when a Get<Configuration> call answered 200 without the configuration: the server did
    not know the sub-resource and listed the bucket (RGW 16), or answered nothing useful. AWS
    answers a configuration that is not set with a 404 error, never an empty 200."""
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 200 and not response.get(key)


def provider(settings: Settings, headers: Mapping[str, str] | None = None) -> str:
    """``aws``, ``ceph``, ``minio``, ``r2``, ``b2`` or ``other``: from the endpoint's host, else
    from an answer's headers (RGW's request ids, MinIO's Server header)."""
    if not settings.endpoint_url:
        return "aws"
    host = (urlsplit(settings.endpoint_url).hostname or "").lower()
    if host.endswith(".amazonaws.com") or host == "amazonaws.com":
        return "aws"
    if host.endswith(".r2.cloudflarestorage.com"):
        return "r2"
    if host.endswith(".backblazeb2.com"):
        return "b2"
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if "minio" in headers.get("server", "").lower():
        return "minio"
    if _RGW_REQUEST_ID.match(headers.get("x-amz-request-id", "")):
        return "ceph"
    return "other"


def detect(settings: Settings, s3: Any) -> str:
    """``provider`` with one ListBuckets answer (or error) to read headers from, when the host does not say."""
    known = provider(settings)
    if known != "other":
        return known
    try:
        headers = s3.list_buckets()["ResponseMetadata"].get("HTTPHeaders", {})
    except bexc.ClientError as exc:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    except bexc.BotoCoreError:
        return known
    return provider(settings, headers)


# What is lost without a feature, and how to get it on each platform. The wording is the row's
# detail; "{bucket}" and "{user}" are filled in. (docs/s3-compatible.md has the long form.)
MEANS = {
    "encryption": "objects are stored unencrypted at rest unless the storage encrypts them itself",
    "ownership": "object ACLs stay enabled: each object belongs to the user who wrote it (the bucket owner cannot read the app's "
                 "objects), and an ACL on an object could grant others access (IgnorePublicAcls keeps public ones without effect)",
    "block-public-acls": "BlockPublicAcls is left off because this endpoint refuses every private upload with it on; "
                         "IgnorePublicAcls is on, so a public ACL has no effect",
    "public-access-block": "no public access block: nothing at the bucket level stops a bucket policy or ACL from making objects public",
    "iam": "drumscribe cannot make the app's user and key here",
    "sts": "the caller's identity cannot be asked (no STS GetCallerIdentity)",
    "monitoring": "no CloudWatch alarms or request metrics: nobody hears of unusual activity from drumscribe",
    "lifecycle": "nothing expires by itself: temp/ and processed/ grow until you delete them, unfinished multipart uploads stay",
    "cors": "browsers on other pages (`drumscribe serve`'s) may not upload to the bucket directly",
    "tls-policy": "the bucket does not refuse requests made without TLS: use only https:// endpoints",
    "ip-allowlist": "requests are not limited to your address ranges: restrict access at the network instead",
    "role": "no IAM role for the app: use a key made with the platform's own tool",
}

HOW: dict[str, dict[str, str]] = {
    "encryption": {
        "ceph": "Ceph RGW 16 has no default bucket encryption: encrypt the OSDs' disks (ceph-volume lvm create --dmcrypt), "
                "or use SSE-KMS with rgw_crypt_s3_kms_backend = vault (SSE-S3 needs Ceph 17 and rgw_crypt_sse_s3_backend = vault)",
        "minio": "set up MinIO's KMS (KES), then `mc encrypt set sse-s3 ALIAS/{bucket}`",
        "r2": "R2 encrypts every object at rest itself (AES-256); nothing to set",
        "b2": "turn on SSE-B2 default encryption for {bucket} in the B2 web console (Bucket Settings > Encryption)",
        "other": "ask your storage provider how objects are encrypted at rest, or encrypt the disks it stores them on",
    },
    "ownership": {
        "ceph": "RGW has no object ownership controls; keep IgnorePublicAcls on (`drumscribe setup block-public`)",
        "other": "keep IgnorePublicAcls on (`drumscribe setup block-public`) where the endpoint has public access blocks",
    },
    "public-access-block": {
        "minio": "MinIO buckets are private until `mc anonymous set` opens them: keep it so (`mc anonymous get ALIAS/{bucket}` says none)",
        "r2": "R2 buckets are private unless public access (r2.dev or a custom domain) is turned on in the dashboard: leave it off",
        "b2": "keep the bucket allPrivate (`b2 bucket update {bucket} allPrivate`)",
        "other": "check that no bucket policy or ACL grants public access",
    },
    "block-public-acls": {
        "ceph": "a known RGW 16 bug; once your Ceph release accepts private uploads with it, turn it on "
                "(`aws s3api put-public-access-block`) and run `drumscribe setup block-public`: it keeps the flag if an upload still works",
        "other": "turn it on (`aws s3api put-public-access-block`) and run `drumscribe setup block-public`: it keeps the flag if an upload still works",
    },
    "iam": {
        "ceph": "on a Ceph admin node: `radosgw-admin user create --uid {user} --display-name 'drumscribe app' --max-buckets -1`; put its "
                "access_key and secret_key in .env as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; then run `drumscribe setup iam` again "
                "with the bucket owner's credentials: it applies the app's permissions as the user's inline policy",
        "minio": "`mc admin user add ALIAS {user} SECRET`, `mc admin policy create ALIAS {policy} iam-policy.json` (with your bucket "
                 "name in it), `mc admin policy attach ALIAS {policy} --user {user}`; put the user and secret in .env",
        "r2": "create an R2 API token with Object Read & Write on {bucket} only (dashboard: R2 > Manage API tokens); put its "
              "Access Key ID and Secret Access Key in .env",
        "b2": "`b2 key create --bucket {bucket} {user} listBuckets,listFiles,readFiles,writeFiles,deleteFiles`; put the keyID and "
              "applicationKey in .env",
        "other": "make a user or key for the app with your storage's admin tool, allowed only what iam-policy.json allows, and put it in .env",
    },
    "cors": {
        "minio": "MinIO sets CORS for the whole server: `mc admin config set ALIAS api cors_allow_origin=ORIGIN`",
        "other": "allow the page's origin in the storage's own CORS settings",
    },
    "lifecycle": {
        "minio": "MinIO's lifecycle rules have no AbortIncompleteMultipartUpload: `mc ilm rule add` the expirations alone",
        "other": "delete temp/ and processed/ objects with a scheduled job, or in the storage's own lifecycle settings",
    },
    "monitoring": {
        "ceph": "watch RGW's usage log (`radosgw-admin usage show`, rgw_enable_usage_log) or its Prometheus metrics (the mgr's prometheus module)",
        "minio": "MinIO exports Prometheus metrics (`mc admin prometheus generate ALIAS`)",
        "other": "use your storage's own metrics and alerts",
    },
}


# setup steps, and the feature each one provides (a step the endpoint answers "not here" for)
STEP_FEATURES = {"block-public": "public-access-block", "encryption": "encryption", "tls-policy": "tls-policy",
                 "lifecycle": "lifecycle", "cors": "cors", "iam": "iam", "monitoring": "monitoring",
                 "ip-allowlist": "ip-allowlist", "role": "role"}


def step_unsupported(step: str, exc: BaseException, platform: str, bucket: str) -> Any:
    """The row for a step the endpoint answered "not here" to (``exc``, or what it was raised from);
    None when ``exc`` is another error (then it is raised as it is)."""
    from drumscribe.provision.base import UNSUPPORTED as STATUS, StepResult

    cause = exc if isinstance(exc, bexc.ClientError) else exc.__cause__
    if step not in STEP_FEATURES or cause is None or not unsupported(cause):
        return None
    why = explain(STEP_FEATURES[step], platform, bucket=bucket)
    return StepResult(step, STATUS, why, warning=f"{step}: {UNSUPPORTED} (see the table)")


def how(feature: str, platform: str, **names: str) -> str:
    texts = HOW.get(feature, {})
    text = texts.get(platform) or texts.get("other", "")
    return text.format(bucket=names.get("bucket", "BUCKET"), user=names.get("user", "drum-transcription-app"),
                       policy=names.get("policy", "DrumTranscriptionS3Policy"))


def explain(feature: str, platform: str, **names: str) -> str:
    """One line: not supported, what it means, how to get it there."""
    return f"{UNSUPPORTED} ({NAMES[platform]}): {MEANS[feature]}; {how(feature, platform, **names)}"
