"""The application's IAM identity: one managed policy, a user, and its key.

The policy covers every bucket set up for the app (each run of ``setup iam`` adds its bucket and
never removes one), so a second bucket never cuts the first one's key off. A key is created only
when none is usable: see ``reusable_key`` for the rule.

The key goes into ``.env`` (mode 0600, see ``drumscribe.envfile``) and nowhere else; the secret
is returned to the caller only so the CLI can show it on request (``--show-secret``).
These calls need administrator credentials (a profile or environment variables), not the
application key itself, which by design cannot touch IAM.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

import botocore.exceptions as bexc

from drumscribe import aws
from drumscribe.config import Settings
from drumscribe.envfile import read_env, update_env, write_private
from drumscribe.errors import ConfigError, DrumscribeError, ProvisioningError
from drumscribe.provision import documents
from drumscribe.provision.base import Plan, Recorder, StepResult, translate

USER = documents.USER_NAME
POLICY = documents.POLICY_NAME
MAX_KEYS = 2  # AWS allows two access keys per user
MAX_POLICY_VERSIONS = 5


def short(key_id: str | None) -> str:
    """An access key id shortened for display (ids are not secret, but need not be shown whole)."""
    return f"{key_id[:4]}…{key_id[-4:]}" if key_id and len(key_id) > 8 else "****"


def _code(exc: BaseException) -> str:
    return aws.error_code(exc)


def iam_error(exc: BaseException, action: str) -> DrumscribeError:
    if _code(exc) in ("AccessDenied", "AccessDeniedException"):
        return ProvisioningError(
            f"access denied while trying to {action}",
            hint="IAM steps need administrator credentials: use --profile or export an admin's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the app key in .env cannot manage IAM)",
        )
    return translate(exc, action=action)


def read_or_none(fn: Callable[..., Any], what: str, **kwargs: Any) -> Any:
    """Call an IAM Get*/List* API; ``None`` when the entity does not exist (NoSuchEntity)."""
    try:
        return fn(**kwargs)
    except bexc.ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            return None
        raise iam_error(exc, what) from exc


def policy_document(value: Any) -> dict:
    """A policy document as IAM returned it: botocore decodes it; an S3-compatible IAM might not."""
    return json.loads(unquote(value)) if isinstance(value, str) else value


def account_id(plan: Plan) -> str:
    try:
        return plan.sts.get_caller_identity()["Account"]
    except (bexc.ClientError, bexc.BotoCoreError) as exc:
        raise translate(exc, action="identify the AWS account") from exc


def _ensure_policy(plan: Plan, call: Recorder, arn: str) -> tuple[list[str], list[str]]:
    """The one app policy, covering every bucket set up so far plus this one.

    Returns (changes, buckets covered). A bucket is never taken out: setting up a second bucket
    must not silently cut the first one's key off (the user and its keys are shared).
    """
    try:
        policy = plan.iam.get_policy(PolicyArn=arn)["Policy"]
    except bexc.ClientError as exc:
        if _code(exc) != "NoSuchEntity":
            raise iam_error(exc, f"read policy {POLICY}") from exc
        call("create_policy", PolicyName=POLICY, PolicyDocument=_dumps(documents.iam_policy(plan.bucket)),
             Description="drumscribe: read/write the app's S3 buckets")
        return [f"new policy {POLICY} for bucket {plan.bucket}"], [plan.bucket]
    current = policy_document(plan.iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"])
    covered = documents.buckets_in_iam_policy(current)
    buckets = covered + [plan.bucket] if plan.bucket not in covered else covered
    want = documents.iam_policy(*buckets)
    if documents.policy_statements_equal(current, want):
        return [], buckets
    # Old versions grant a subset of the new one and can be made default again by anyone with
    # iam:SetDefaultPolicyVersion, so only the one in force is kept (IAM allows five).
    versions = plan.iam.list_policy_versions(PolicyArn=arn)["Versions"]
    for v in versions:
        if not v["IsDefaultVersion"]:
            call("delete_policy_version", PolicyArn=arn, VersionId=v["VersionId"])
    call("create_policy_version", PolicyArn=arn, PolicyDocument=_dumps(want), SetAsDefault=True)
    for v in versions:
        if v["IsDefaultVersion"]:
            call("delete_policy_version", PolicyArn=arn, VersionId=v["VersionId"])
    kept = [b for b in covered if b != plan.bucket]
    if plan.bucket in covered:  # the document differed (edited by hand, or from an older drumscribe)
        return [f"policy {POLICY} rewritten for bucket(s) {', '.join(buckets)}"], buckets
    also = f"; {', '.join(kept)} {'keeps its' if len(kept) == 1 else 'keep their'} access" if kept else ""
    return [f"policy {POLICY} now also covers bucket {plan.bucket}{also}"], buckets


def _dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2)


def _ensure_user(plan: Plan, call: Recorder, arn: str) -> list[str]:
    changes = []
    try:
        plan.iam.get_user(UserName=USER)
    except bexc.ClientError as exc:
        if _code(exc) != "NoSuchEntity":
            raise iam_error(exc, f"read user {USER}") from exc
        call("create_user", UserName=USER, Tags=[{"Key": "app", "Value": "drumscribe"}])
        changes.append(f"new user {USER}")
    attached = []
    if not changes:
        attached = [p["PolicyArn"] for p in plan.iam.list_attached_user_policies(UserName=USER)["AttachedPolicies"]]
    if arn not in attached:
        call("attach_user_policy", UserName=USER, PolicyArn=arn)
        changes.append(f"{POLICY} attached to {USER}")
    return changes


def list_keys(plan: Plan) -> list[dict]:
    found = read_or_none(plan.iam.list_access_keys, f"list access keys of {USER}", UserName=USER)
    return found["AccessKeyMetadata"] if found else []


def env_values(plan: Plan, key_id: str, secret: str) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_S3_BUCKET": plan.bucket, "AWS_REGION": plan.region}


def _key_works(plan: Plan, key_id: str, secret: str) -> bool:
    """True when STS accepts the pair as the app user (the secret is right and the key is live)."""
    fresh = Settings(access_key_id=key_id, secret_access_key=secret, region=plan.region, endpoint_url=plan.settings.endpoint_url)
    try:
        arn = aws.client(fresh, "sts").get_caller_identity()["Arn"]
    except bexc.ClientError as exc:
        if _code(exc) in _REJECTED:
            return False
        raise translate(exc, action="check the access key in .env") from exc
    return arn.endswith(f":user/{USER}")


_REJECTED = ("InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken")


def reusable_key(plan: Plan, keys: list[dict]) -> tuple[str, str, Path, list[str]]:
    """The key setup keeps instead of creating one: (id, secret, the file it was found in, notes).

    The rule: a key is reused when ``plan.env_file``, or else the ``.env`` of the working
    directory, holds an id and secret of the app user that IAM lists as Active and STS accepts.
    Otherwise a new key is made (id ``""`` here). Notes say why a key that was there is not reused.
    """
    active = {k["AccessKeyId"] for k in keys if k.get("Status", "Active") == "Active"}
    listed = {k["AccessKeyId"] for k in keys}
    files = [plan.env_file]
    if Path(".env").resolve() != Path(plan.env_file).resolve():
        files.append(Path(".env"))
    notes = []
    for path in files:
        env = read_env(path)
        key_id, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
        if key_id not in listed:
            continue  # someone else's key (an admin's), or none: not ours to judge
        if key_id not in active:
            notes.append(f"key {short(key_id)} in {path} is inactive")
        elif not secret or not _key_works(plan, key_id, secret):
            notes.append(f"key {short(key_id)} in {path} was rejected (wrong or missing secret)")
        else:
            return key_id, secret, path, notes
    return "", "", plan.env_file, notes


def step_iam(plan: Plan) -> StepResult:
    from drumscribe.provision import inline_iam

    if inline_iam.user_api_missing(plan):  # Ceph RGW: users and keys come from radosgw-admin
        return inline_iam.step_inline_policy(plan)
    call = Recorder(plan, "iam")
    arn = f"arn:aws:iam::{account_id(plan)}:policy/{POLICY}"
    try:
        policy_changes, buckets = _ensure_policy(plan, call, arn)
        changes = policy_changes + _ensure_user(plan, call, arn)
    except bexc.ClientError as exc:
        raise iam_error(exc, f"set up policy {POLICY} and user {USER}") from exc
    env = read_env(plan.env_file)
    keys = list_keys(plan)
    key_id, secret, found_in, notes = reusable_key(plan, keys)
    result_extra: dict = {}
    if key_id:
        stale = {k: v for k, v in env_values(plan, key_id, secret).items() if env.get(k) != v}
        if stale:
            if not plan.dry_run:
                result_extra["backup"] = update_env(plan.env_file, stale)
            line = f"{', '.join(stale)} updated in {plan.env_file}"
            if found_in != plan.env_file:
                line += f" (key {short(key_id)} reused from {found_in})"
            previous = env.get("AWS_S3_BUCKET")
            if "AWS_S3_BUCKET" in stale and previous in buckets:
                line += f"; the key keeps its access to {previous}"
            changes.append(line)
    else:
        if len(keys) >= MAX_KEYS:
            raise ProvisioningError(
                f"user {USER} already has {len(keys)} access keys (the AWS maximum) and neither is usable from {plan.env_file}",
                hint=f"delete an unused one (aws iam delete-access-key --user-name {USER} --access-key-id ID), or put one in {plan.env_file} and run `drumscribe iam rotate-key`",
            )
        created = call("create_access_key", UserName=USER)
        why = f" ({'; '.join(notes)})" if notes else ""
        others = f"; {len(keys)} older key(s) left untouched" if keys else ""
        if created is None:  # dry run
            changes.append(f"new access key for {USER}, to be written to {plan.env_file} (mode 0600){why}")
        else:
            key = created["AccessKey"]
            key_id = key["AccessKeyId"]
            result_extra.update(access_key_id=key_id, secret_access_key=key["SecretAccessKey"])
            result_extra["backup"] = update_env(plan.env_file, env_values(plan, key_id, key["SecretAccessKey"]))
            changes.append(f"new access key {short(key_id)} written to {plan.env_file} (mode 0600){why}{others}")
    covers = f"policy {POLICY} (bucket{'s' if len(buckets) > 1 else ''} {', '.join(buckets)})"
    result = call.result("iam", changes, f"{covers}, user {USER}, key {short(key_id)} in {plan.env_file} reused")
    result.env_file = plan.env_file
    for name, value in result_extra.items():
        setattr(result, name, value)
    return result


# -- rotation -------------------------------------------------------------------------------


@dataclass
class Rotation:
    old_key_id: str
    new_key_id: str
    secret_access_key: str = field(repr=False)
    env_file: Path
    backup: Path | None


def verify_key(plan: Plan, key_id: str, secret: str, *, timeout: float = 30.0, interval: float = 2.0) -> str:
    """Prove a fresh key works: it is the app user, and it can list the bucket. Returns the ARN.

    IAM is eventually consistent: a new key can be rejected for a few seconds, so the
    "does not exist yet" answers are retried until ``timeout``.
    """
    fresh = Settings(access_key_id=key_id, secret_access_key=secret, region=plan.region, endpoint_url=plan.settings.endpoint_url)
    sts, s3 = aws.client(fresh, "sts"), aws.client(fresh, "s3")
    deadline = time.monotonic() + timeout
    while True:
        try:
            arn = sts.get_caller_identity()["Arn"]
            if not arn.endswith(f":user/{USER}"):
                raise ProvisioningError(f"the new key belongs to {arn}, not user {USER}")
            s3.list_objects_v2(Bucket=plan.bucket, MaxKeys=1)
            return arn
        except bexc.ClientError as exc:
            retry = _code(exc) in ("InvalidClientTokenId", "InvalidAccessKeyId", "AccessDenied", "SignatureDoesNotMatch")
            if not retry or time.monotonic() >= deadline:
                raise translate(exc, bucket=plan.bucket, action="verify the new key on") from exc
        time.sleep(interval)


def rotate_key(plan: Plan, *, timeout: float = 30.0) -> Rotation:
    """Create a new key, write it to .env, prove it works, then delete the key .env held before.

    If the new key does not work, .env is restored and the new key deleted: the old key keeps working.
    """
    env_file = plan.env_file
    old_id = read_env(env_file).get("AWS_ACCESS_KEY_ID")
    if not old_id:
        raise ConfigError(f"no AWS_ACCESS_KEY_ID in {env_file}", hint="run `drumscribe setup iam` first")
    keys = list_keys(plan)
    if old_id not in {k["AccessKeyId"] for k in keys}:
        raise ConfigError(f"the key in {env_file} ({short(old_id)}) is not an access key of IAM user {USER}", hint="run `drumscribe setup iam` to create one")
    if len(keys) >= MAX_KEYS:
        other = next(k["AccessKeyId"] for k in keys if k["AccessKeyId"] != old_id)
        raise ProvisioningError(
            f"user {USER} already has {MAX_KEYS} access keys, so no new one can be created",
            hint=f"delete the one not in .env first: aws iam delete-access-key --user-name {USER} --access-key-id {other}",
        )
    try:
        new = plan.iam.create_access_key(UserName=USER)["AccessKey"]
    except bexc.ClientError as exc:
        raise iam_error(exc, f"create an access key for {USER}") from exc
    new_id, secret = new["AccessKeyId"], new["SecretAccessKey"]
    before = env_file.read_bytes()
    backup = update_env(env_file, env_values(plan, new_id, secret))
    try:
        verify_key(plan, new_id, secret, timeout=timeout)
    except DrumscribeError as exc:
        write_private(env_file, before)
        plan.iam.delete_access_key(UserName=USER, AccessKeyId=new_id)
        raise ProvisioningError(f"the new key failed verification, so the old key {short(old_id)} was kept and the new one deleted: {exc}") from exc
    try:
        plan.iam.delete_access_key(UserName=USER, AccessKeyId=old_id)
    except bexc.ClientError as exc:
        raise iam_error(exc, f"delete the old key {short(old_id)} (the new one is already in {env_file})") from exc
    return Rotation(old_id, new_id, secret, env_file, backup)
