"""What every setup step shares: the plan (what to apply where) and the result of one step."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

from drumscribe import aws
from drumscribe.config import Settings
from drumscribe.errors import NotFoundError, ProvisioningError


class MissingBucketError(ProvisioningError, NotFoundError):
    """A setup step found no bucket: a setup failure that exits like any other missing bucket."""

    exit_code = NotFoundError.exit_code

CHANGED = "changed"
IN_PLACE = "in place"
WOULD_CHANGE = "would change (dry run)"
SKIPPED = "skipped"
UNSUPPORTED = "not supported by this endpoint"  # = support.UNSUPPORTED: the step's detail says what it means


@dataclass
class ApiCall:
    """A write request a step made (or, in a dry run, would make). Never holds a secret."""

    service: str
    operation: str
    params: dict[str, Any]


@dataclass
class StepResult:
    step: str
    status: str  # CHANGED, IN_PLACE, WOULD_CHANGE, SKIPPED or UNSUPPORTED
    detail: str
    calls: list[ApiCall] = field(default_factory=list)
    warning: str | None = None  # something the user must know even when the step succeeded (CLI: stderr)
    # Only the iam step sets these, when it creates a key; repr=False keeps the secret out of logs.
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    env_file: Path | None = None
    backup: Path | None = None

    @property
    def changed(self) -> bool:
        return self.status in (CHANGED, WOULD_CHANGE)


@dataclass
class Plan:
    """Everything setup needs to know; clients are created on first use."""

    settings: Settings
    bucket: str
    region: str
    dry_run: bool = False
    origins: list[str] | None = None
    tls_policy: bool = True
    infrequent_access: bool | None = None  # None: keep the document with or without the IA rule
    kms_key_id: str | None = None
    env_file: Path = Path(".env")
    archive: Any = None  # provision.archive: an Archive to apply, False to remove it, None to keep what is there

    @cached_property
    def s3(self):
        return aws.client(self.settings, "s3")

    @cached_property
    def iam(self):
        return aws.client(self.settings, "iam")

    @cached_property
    def sts(self):
        return aws.client(self.settings, "sts")

    @cached_property
    def provider(self) -> str:
        """aws, ceph, minio, r2, b2 or other (``support.provider``): what this endpoint is."""
        from drumscribe.provision import support

        return support.detect(self.settings, self.s3)

    # for the monitoring step (provision/monitoring.py)
    @cached_property
    def sns(self):
        return aws.client(self.settings, "sns")

    @cached_property
    def cloudwatch(self):
        return aws.client(self.settings, "cloudwatch")


class Recorder:
    """Collects a step's write calls and performs them unless this is a dry run."""

    def __init__(self, plan: Plan, service: str):
        self.plan = plan
        self.service = service
        self.calls: list[ApiCall] = []

    def __call__(self, operation: str, **params: Any) -> Any:
        self.calls.append(ApiCall(self.service, operation, params))
        if self.plan.dry_run:
            return None
        client = getattr(self.plan, self.service)
        return getattr(client, operation)(**params)

    def result(self, step: str, changes: list[str], in_place: str) -> StepResult:
        if not changes:
            return StepResult(step, IN_PLACE, in_place, self.calls)
        status = WOULD_CHANGE if self.plan.dry_run else CHANGED
        return StepResult(step, status, "; ".join(changes), self.calls)


# Wrong keys come back as HTTP 403, which aws.translate reports as "access denied"; without the
# status it reports them as rejected credentials, which is what they are. (Told the lead.)
_CREDENTIAL_CODES = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException",
    "ExpiredToken", "ExpiredTokenException", "InvalidToken",
}


def translate(exc: BaseException, **where: Any):
    """``aws.translate``, but bad credentials are never reported as "access denied"."""
    import botocore.exceptions as bexc

    if isinstance(exc, bexc.ClientError) and aws.error_code(exc) in _CREDENTIAL_CODES:
        exc = bexc.ClientError({"Error": dict(exc.response.get("Error", {}))}, exc.operation_name)
    return aws.translate(exc, **where)


def read_or_none(fn: Callable[..., Any], missing: tuple[str, ...], *, plan: Plan, what: str, **kwargs: Any) -> Any:
    """Call a Get* API; ``None`` when the configuration does not exist yet.

    A dry run on a bucket that does not exist yet also reads as ``None`` (everything would change).
    """
    import botocore.exceptions as bexc

    try:
        return fn(**kwargs)
    except bexc.ClientError as exc:
        code = aws.error_code(exc)
        if code in missing or (plan.dry_run and code in ("NoSuchBucket", "404")):
            return None
        if code == "NoSuchBucket":
            raise MissingBucketError(
                f"bucket {plan.bucket!r} does not exist", hint="run `drumscribe setup bucket` first"
            ) from exc
        raise translate(exc, bucket=plan.bucket, action=what) from exc
    except bexc.BotoCoreError as exc:
        raise translate(exc, bucket=plan.bucket, action=what) from exc


def write_bucket_policy(plan: Plan, call: Recorder, document: dict[str, Any]) -> None:
    """PutBucketPolicy through ``call``. On Ceph RGW 16, which refuses any policy holding an Allow
    statement while BlockPublicPolicy is on (public or not), the flag is lifted for this one call and
    put back at once (tested: the policy then stays, and uploads work)."""
    import json

    allows = any(st.get("Effect") == "Allow" for st in document.get("Statement", []))
    blocks = None
    if allows and plan.provider == "ceph":
        got = read_or_none(plan.s3.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), plan=plan,
                           what="read public access block of", Bucket=plan.bucket)
        blocks = (got or {}).get("PublicAccessBlockConfiguration", {})
        if blocks.get("BlockPublicPolicy") is not True:
            blocks = None
    if blocks is not None:
        call("put_public_access_block", Bucket=plan.bucket, PublicAccessBlockConfiguration={**blocks, "BlockPublicPolicy": False})
    try:
        call("put_bucket_policy", Bucket=plan.bucket, Policy=json.dumps(document))
    finally:
        if blocks is not None:
            call("put_public_access_block", Bucket=plan.bucket, PublicAccessBlockConfiguration=blocks)
