"""The bucket-level setup steps. Each reads the current configuration, compares it with the
desired one, and writes only what differs, so running setup again changes nothing.

A new bucket gets every protection explicitly, even those AWS now applies by default, because
S3-compatible servers (and older buckets) do not have those defaults.
"""

from __future__ import annotations

import json
import secrets

import botocore.exceptions as bexc

from drumscribe import aws, keys
from drumscribe.errors import DrumscribeError, ProvisioningError
from drumscribe.provision import archive, documents, policy, support
from drumscribe.provision.base import CHANGED, IN_PLACE, SKIPPED, UNSUPPORTED, Plan, Recorder, StepResult, read_or_none, translate, write_bucket_policy

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _taken(bucket: str) -> ProvisioningError:
    suggestion = f"{bucket[:55]}-{secrets.token_hex(3)}"
    return ProvisioningError(
        f"bucket name {bucket!r} is already taken by another AWS account (or your credentials cannot access it)",
        hint=f"bucket names are global: pick a unique one, e.g. --bucket {suggestion}",
    )


def _check_identity(plan: Plan) -> None:
    try:
        plan.sts.get_caller_identity()
    except (bexc.ClientError, bexc.BotoCoreError) as exc:
        if support.unsupported(exc):  # no STS here (Ceph RGW): bad keys were not ruled out, the 403 stands
            return
        raise translate(exc, bucket=plan.bucket, action="check bucket") from exc


def _bucket_state(plan: Plan) -> bool:
    """True if the bucket exists and is ours (in the wanted region); False if it does not exist."""
    try:
        response = plan.s3.head_bucket(Bucket=plan.bucket)
    except bexc.ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or aws.error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        if status == 403:
            _check_identity(plan)  # a HEAD has no error body: rule out bad credentials first
            raise _taken(plan.bucket) from exc
        raise translate(exc, bucket=plan.bucket, action="check bucket") from exc
    except bexc.BotoCoreError as exc:
        raise translate(exc, bucket=plan.bucket, action="check bucket") from exc
    # botocore follows the 301 to the bucket's real region, so compare the region it reports
    actual = response.get("BucketRegion") or response["ResponseMetadata"].get("HTTPHeaders", {}).get("x-amz-bucket-region")
    if actual and actual != plan.region:
        raise ProvisioningError(
            f"bucket {plan.bucket!r} already exists in {actual}, not {plan.region}",
            hint=f"rerun with --region {actual} (and set AWS_REGION={actual})",
        )
    return True


def step_bucket(plan: Plan) -> StepResult:
    """Create the bucket (us-east-1 takes no LocationConstraint) and enforce bucket-owner ownership."""
    call = Recorder(plan, "s3")
    changes = []
    exists = _bucket_state(plan)
    if not exists:
        params: dict = {"Bucket": plan.bucket, "ObjectOwnership": "BucketOwnerEnforced"}
        if plan.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": plan.region}
        try:
            call("create_bucket", **params)
            changes.append(f"new bucket s3://{plan.bucket} in {plan.region}")
        except bexc.ClientError as exc:
            code = aws.error_code(exc)
            if code == "BucketAlreadyExists":
                raise _taken(plan.bucket) from exc
            if code != "BucketAlreadyOwnedByYou":  # a race with ourselves is fine
                raise
    owner = None
    if exists:
        got = read_or_none(plan.s3.get_bucket_ownership_controls, ("OwnershipControlsNotFoundError",), plan=plan, what="read ownership controls of", Bucket=plan.bucket)
        if got is not None and support.listed_instead(got, "OwnershipControls"):
            return _without_ownership(plan, call, changes)
        owner = [r.get("ObjectOwnership") for r in (got or {}).get("OwnershipControls", {}).get("Rules", [])]
    if owner != ["BucketOwnerEnforced"]:
        # ACLs off: the bucket owner owns every object, so no object ACL can ever make one public
        try:
            call("put_bucket_ownership_controls", Bucket=plan.bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        except bexc.ClientError as exc:
            if not support.unsupported(exc, invalid_argument=plan.provider != "aws"):
                raise
            call.calls.pop()  # not made: the endpoint refused the call itself
            return _without_ownership(plan, call, changes)
        changes.append("object ownership: BucketOwnerEnforced (ACLs disabled)")
    return call.result("bucket", changes, f"s3://{plan.bucket} exists in {plan.region}, ACLs disabled")


def _without_ownership(plan: Plan, call: Recorder, changes: list[str]) -> StepResult:
    """The bucket is there, but the endpoint has no object ownership controls (ACLs stay on)."""
    why = support.explain("ownership", plan.provider, bucket=plan.bucket)
    result = call.result("bucket", changes, f"s3://{plan.bucket} exists in {plan.region}")
    result.detail += f"; object ownership controls: {why}"
    result.warning = f"bucket: object ownership controls {support.UNSUPPORTED}: object ACLs stay enabled (see the table)"
    return result


def step_block_public(plan: Plan) -> StepResult:
    """All four flags. Off AWS, once BlockPublicAcls is on, a private upload is tried, because Ceph
    RGW 16 refuses every upload with it on: there that one flag goes back off, with a warning
    (IgnorePublicAcls still makes any public ACL ineffective). A bucket left that way is "in place"
    (turning the flag on again to retry would break uploads meanwhile); a bucket where an earlier
    setup turned all four on is repaired."""
    call = Recorder(plan, "s3")
    try:
        got = read_or_none(plan.s3.get_public_access_block, ("NoSuchPublicAccessBlockConfiguration",), plan=plan, what="read public access block of", Bucket=plan.bucket)
    except DrumscribeError as exc:
        if not support.unsupported(exc.__cause__ or exc):
            raise
        return _unsupported(plan, "block-public", "public access blocks", "public-access-block")
    current = (got or {}).get("PublicAccessBlockConfiguration", {})
    changes = []
    without_acls = {**PUBLIC_ACCESS_BLOCK, "BlockPublicAcls": False}
    if plan.provider != "aws" and all(current.get(f) is v for f, v in without_acls.items()):
        why = support.explain("block-public-acls", plan.provider)
        return StepResult("block-public", IN_PLACE, f"IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets on; BlockPublicAcls: {why}",
                          warning=f"block-public: BlockPublicAcls off, {support.UNSUPPORTED} (see the table)")
    if any(current.get(flag) is not True for flag in PUBLIC_ACCESS_BLOCK):
        call("put_public_access_block", Bucket=plan.bucket, PublicAccessBlockConfiguration=dict(PUBLIC_ACCESS_BLOCK))
        off = [flag for flag in PUBLIC_ACCESS_BLOCK if current.get(flag) is not True]
        changes.append("public access block on: " + ", ".join(off))
    if plan.dry_run or plan.provider == "aws" or _private_upload_works(plan):
        return call.result("block-public", changes, "all four public access block flags on")
    call("put_public_access_block", Bucket=plan.bucket, PublicAccessBlockConfiguration=without_acls)
    why = support.explain("block-public-acls", plan.provider)
    was = [f for f in PUBLIC_ACCESS_BLOCK if f != "BlockPublicAcls" and current.get(f) is not True]
    detail = (f"public access block on: {', '.join(was)}; " if was else "IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets on; ")
    return StepResult("block-public", CHANGED, detail + f"BlockPublicAcls: {why}", call.calls,
                      warning="block-public: BlockPublicAcls turned off again: this endpoint refuses private uploads with it on (see the table)")


def _private_upload_works(plan: Plan) -> bool:
    """Write (and delete) a private object in temp/: False when the endpoint refuses it."""
    key = keys.temp_key(f"setup-{secrets.token_hex(6)}", "probe.bin")
    try:
        plan.s3.put_object(Bucket=plan.bucket, Key=key, Body=b"drumscribe setup: private upload probe")
    except bexc.ClientError as exc:
        if aws.error_code(exc) in ("AccessDenied", "403"):
            return False
        raise translate(exc, bucket=plan.bucket, key=key, action="write a test object to") from exc
    plan.s3.delete_object(Bucket=plan.bucket, Key=key)
    return True


def _unsupported(plan: Plan, step: str, what: str, feature: str) -> StepResult:
    why = support.explain(feature, plan.provider, bucket=plan.bucket)
    return StepResult(step, UNSUPPORTED, f"{what}: {why}", warning=f"{step}: {what} {support.UNSUPPORTED} (see the table)")


def desired_encryption(plan: Plan) -> dict:
    if plan.kms_key_id:
        return {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": plan.kms_key_id},
            "BucketKeyEnabled": True,  # one KMS data key per bucket period instead of per object: far fewer KMS calls
        }
    return {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}


def step_encryption(plan: Plan) -> StepResult:
    call = Recorder(plan, "s3")
    try:
        got = read_or_none(plan.s3.get_bucket_encryption, ("ServerSideEncryptionConfigurationNotFoundError",), plan=plan, what="read encryption of", Bucket=plan.bucket)
    except DrumscribeError as exc:
        if not support.unsupported(exc.__cause__ or exc):
            raise
        return _unsupported(plan, "encryption", "default encryption", "encryption")
    if got is not None and support.listed_instead({**got, "Rules": got.get("ServerSideEncryptionConfiguration", {}).get("Rules")}, "Rules"):
        return _unsupported(plan, "encryption", "default encryption", "encryption")  # RGW 16 lists the bucket instead
    rules = (got or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    want = desired_encryption(plan)
    current = rules[0] if len(rules) == 1 else {}
    same = current.get("ApplyServerSideEncryptionByDefault") == want["ApplyServerSideEncryptionByDefault"] and (
        not plan.kms_key_id or current.get("BucketKeyEnabled") is True
    )
    changes = []
    if not same:
        try:
            call("put_bucket_encryption", Bucket=plan.bucket, ServerSideEncryptionConfiguration={"Rules": [want]})
        except bexc.ClientError as exc:
            if not support.unsupported(exc, invalid_argument=plan.provider != "aws" and not plan.kms_key_id):
                raise
            return _unsupported(plan, "encryption", "default encryption", "encryption")
        changes.append(f"default encryption: {want['ApplyServerSideEncryptionByDefault']['SSEAlgorithm']}")
    algo = want["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    return call.result("encryption", changes, f"default encryption {algo}")


def _current_policy(plan: Plan) -> dict | None:
    got = read_or_none(plan.s3.get_bucket_policy, ("NoSuchBucketPolicy",), plan=plan, what="read bucket policy of", Bucket=plan.bucket)
    return json.loads(got["Policy"]) if got else None


def _http_note(plan: Plan) -> str:
    return f"endpoint {plan.settings.endpoint_url} is plain HTTP, where a TLS-only policy would refuse every request"


def step_tls_policy(plan: Plan) -> StepResult:
    """Deny any request made over plain HTTP (keys and audio never travel unencrypted).

    Not applied through a plain ``http://`` endpoint (moto, MinIO, LocalStack on a laptop): every
    request drumscribe sends there would be refused, so the step says so and skips instead.
    """
    if not plan.tls_policy:
        return StepResult("tls-policy", SKIPPED, "--no-tls-policy: an existing TLS-only statement is left as it is")
    if aws.plain_http(plan.settings):
        current = _current_policy(plan)
        if policy.find_statement(current, documents.TLS_STATEMENT_ID) is not None:
            detail = f"{_http_note(plan)}; one is in place and blocks this endpoint: remove it with `drumscribe setup tls-policy --remove`"
        else:
            detail = f"{_http_note(plan)}: not applied (use an https:// endpoint to get it)"
        return StepResult("tls-policy", SKIPPED, detail, warning=f"tls-policy skipped: {detail}")
    call = Recorder(plan, "s3")
    current = _current_policy(plan)
    changes = []
    # Off AWS, BoolIfExists: Ceph RGW leaves aws:SecureTransport unset on plain HTTP, where a Bool
    # condition then never matches and the Deny is silently not enforced. On AWS the key is always
    # set, and the guide's Bool statement is kept as it is.
    if_exists = plan.provider != "aws"
    if documents.find_tls_statement(current, plan.bucket, if_exists=if_exists) is None:
        new = documents.tls_policy(plan.bucket, current, if_exists=if_exists)
        write_bucket_policy(plan, call, new)
        kept = len(new["Statement"]) - 1
        changes.append("bucket policy: deny requests without TLS" + (f" ({kept} other statement(s) kept)" if kept else ""))
        if not plan.dry_run and documents.find_tls_statement(_current_policy(plan), plan.bucket, if_exists=if_exists) is None:
            raise ProvisioningError(f"the TLS-only policy on {plan.bucket!r} did not read back as written")
    return call.result("tls-policy", changes, "bucket policy denies requests without TLS")


def step_remove_tls_policy(plan: Plan) -> StepResult:
    """Take our TLS-only statement out of the bucket policy; every other statement stays.

    Meant for a plain-HTTP test server where the statement blocks every object call; moto still
    answers the bucket-policy calls there (tested), which is what makes the repair possible.
    """
    call = Recorder(plan, "s3")
    current = _current_policy(plan)
    changes = []
    if policy.find_statement(current, documents.TLS_STATEMENT_ID) is not None:
        rest = policy.remove_statement(current, documents.TLS_STATEMENT_ID)
        if rest is None:
            call("delete_bucket_policy", Bucket=plan.bucket)
            changes.append("TLS-only statement out of the bucket policy (it was the only statement: policy deleted)")
        else:
            write_bucket_policy(plan, call, rest)
            changes.append(f"TLS-only statement out of the bucket policy ({len(rest['Statement'])} other statement(s) kept)")
    return call.result("tls-policy", changes, "no TLS-only statement in the bucket policy")


def step_lifecycle(plan: Plan) -> StepResult:
    call = Recorder(plan, "s3")
    got = read_or_none(plan.s3.get_bucket_lifecycle_configuration, ("NoSuchLifecycleConfiguration",), plan=plan, what="read lifecycle of", Bucket=plan.bucket)
    rules = (got or {}).get("Rules")
    changes = []
    doc, uploads = archive.desired_lifecycle(rules, infrequent_access=plan.infrequent_access, archive=plan.archive)
    also = f" + {uploads}" if uploads else ""
    if rules is None or documents.normalize_lifecycle(rules) != documents.normalize_lifecycle(doc["Rules"]):
        call("put_bucket_lifecycle_configuration", Bucket=plan.bucket, LifecycleConfiguration=doc)
        changes.append(f"{documents.LIFECYCLE}{also} ({len(doc['Rules'])} rules): {documents.describe_lifecycle(doc)}"
                       + (", replacing the current rules" if rules else ""))
    # what expires when, said in every run: the results under processed/ do not stay forever
    return call.result("lifecycle", changes, f"matches {documents.LIFECYCLE}{also}: {documents.describe_lifecycle({'Rules': rules or []})}")


def step_cors(plan: Plan) -> StepResult:
    call = Recorder(plan, "s3")
    got = read_or_none(plan.s3.get_bucket_cors, ("NoSuchCORSConfiguration",), plan=plan, what="read CORS of", Bucket=plan.bucket)
    doc = documents.cors(plan.origins)
    changes = []
    if documents.normalize_cors((got or {}).get("CORSRules")) != documents.normalize_cors(doc["CORSRules"]):
        call("put_bucket_cors", Bucket=plan.bucket, CORSConfiguration=doc)
        origins = ", ".join(doc["CORSRules"][0]["AllowedOrigins"])
        changes.append(f"{documents.CORS} (origins {origins})" + (", replacing the current rules" if got else ""))
    return call.result("cors", changes, f"matches {documents.CORS}")
