"""Provision the S3 bucket and IAM identity drumscribe uses, securely and idempotently.

``setup()`` runs the steps below in order (or the ones named in ``steps``); each compares the
bucket's current configuration with the desired one and changes only what differs, so it is
safe to run again. ``dry_run=True`` reads but never writes, and reports the calls it would make.

    bucket        create it (LocationConstraint outside us-east-1), ACLs disabled (BucketOwnerEnforced)
    block-public  all four public access block flags
    encryption    default encryption: AES256, or SSE-KMS with a bucket key when kms_key_id is given
    tls-policy    bucket policy that denies any request not made over TLS (tls_policy=False skips it;
                  skipped with a note through a plain http:// endpoint; remove_tls_policy() takes it out)
    lifecycle     lifecycle-policy.json (temp/ 1 day, processed/ 30 days, abort multipart after 1 day),
                  plus uploads/ to an archive class after N days if asked (provision/archive.py)
    cors          cors-config.json, AllowedOrigins replaced by ``origins`` if given
    iam           policy DrumTranscriptionS3Policy (covers every bucket set up: a new bucket is added,
                  none removed), user drum-transcription-app, an access key -> .env only when no
                  working key of that user is already in the env file or ./.env; where the endpoint
                  has no IAM user API but inline user policies (Ceph RGW), the policy goes on the
                  user as an inline policy (provision/inline_iam.py)

On storage that is not AWS a step the endpoint lacks reports ``UNSUPPORTED`` ("not supported by
this endpoint") with what that means for security and how to get it there (provision/support.py),
and setup goes on: never a traceback, never a silent pass, never a bucket left worse than before.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Iterable, Sequence

import botocore.exceptions as bexc

from drumscribe.config import Settings, load_settings
from drumscribe.envfile import ignore_in_git
from drumscribe.errors import ConfigError
from drumscribe.keys import validate_bucket_name
from drumscribe.provision import iam as _iam
from drumscribe.provision import s3_steps
from drumscribe.provision.run import run_planned
from drumscribe.provision.base import CHANGED, IN_PLACE, SKIPPED, UNSUPPORTED, WOULD_CHANGE, ApiCall, Plan, StepResult, translate

STEPS: dict[str, Callable[[Plan], StepResult]] = {
    "bucket": s3_steps.step_bucket,
    "block-public": s3_steps.step_block_public,
    "encryption": s3_steps.step_encryption,
    "tls-policy": s3_steps.step_tls_policy,
    "lifecycle": s3_steps.step_lifecycle,
    "cors": s3_steps.step_cors,
    "iam": _iam.step_iam,
}

__all__ = ["setup", "rotate_key", "remove_tls_policy", "make_plan", "StepResult", "ApiCall", "Plan", "STEPS", "CHANGED", "IN_PLACE", "WOULD_CHANGE", "SKIPPED", "UNSUPPORTED"]


def make_plan(
    *,
    bucket: str | None = None,
    region: str | None = None,
    settings: Settings | None = None,
    env_file: str | Path = ".env",
    **options,
) -> Plan:
    settings = (settings or load_settings()).replace(bucket=bucket, region=region)
    if settings.profile and settings.sources.get("access_key_id", "").startswith(".env"):
        # After `setup iam`, .env holds the app's own key, which cannot manage IAM or bucket
        # settings; a profile the admin named must win over it (aws.make_session prefers keys).
        settings = dataclasses.replace(settings, access_key_id=None, secret_access_key=None, session_token=None)
    if not settings.bucket:
        raise ConfigError("no bucket named", hint="pass --bucket NAME or set AWS_S3_BUCKET")
    validate_bucket_name(settings.bucket)  # before any call: no key is made for a name AWS refuses
    return Plan(settings=settings, bucket=settings.bucket, region=settings.region_name, env_file=Path(env_file), **options)


def setup(
    bucket: str | None = None,
    region: str | None = None,
    steps: Sequence[str] | None = None,
    dry_run: bool = False,
    origins: Iterable[str] | None = None,
    tls_policy: bool = True,
    settings: Settings | None = None,
    *,
    infrequent_access: bool | None = None,
    kms_key_id: str | None = None,
    env_file: str | Path = ".env",
    on_step: Callable[[StepResult], None] | None = None,
    archive_uploads_after: int | None = None,
    archive_class: str | None = None,
    remove_archive: bool = False,
) -> list[StepResult]:
    """Run the setup steps; returns one ``StepResult`` per step. Raises ``DrumscribeError`` (one line).

    ``on_step`` is called as each step finishes, so a caller can show progress even when a later
    step fails. ``archive_uploads_after``/``archive_class`` add a lifecycle transition for
    uploads/ (``provision.archive``); ``remove_archive`` takes it out; left out, it is kept.
    """
    from drumscribe.provision.archive import make_archive

    archive = make_archive(archive_uploads_after, archive_class, remove=remove_archive)
    names = list(steps) if steps else list(STEPS)
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ConfigError(f"unknown setup step {unknown[0]!r}", hint="choose from " + ", ".join(STEPS))
    plan = make_plan(
        bucket=bucket,
        region=region,
        settings=settings,
        env_file=env_file,
        dry_run=dry_run,
        origins=[o for o in origins or [] if o] or None,
        tls_policy=tls_policy,
        infrequent_access=infrequent_access,
        kms_key_id=kms_key_id,
        archive=archive,
    )
    results = []
    for name in STEPS:  # always in the documented order, whatever order they were asked in
        if name not in names:
            continue
        result = run_planned(plan, name, STEPS[name])
        _keep_env_out_of_git(result, plan)
        results.append(result)
        if on_step:
            on_step(result)
    return results


def remove_tls_policy(
    bucket: str | None = None,
    region: str | None = None,
    dry_run: bool = False,
    settings: Settings | None = None,
) -> StepResult:
    """Remove the TLS-only statement from the bucket policy (``setup tls-policy --remove``).

    Other statements are kept; the bucket policy is deleted when it was the only one. Safe to run
    again (then "in place"). This is the repair for a bucket set up through a plain-HTTP endpoint
    before setup learned to skip the statement there.
    """
    plan = make_plan(bucket=bucket, region=region, settings=settings, dry_run=dry_run)
    return run_planned(plan, "tls-policy", s3_steps.step_remove_tls_policy)


def _keep_env_out_of_git(result: StepResult, plan: Plan) -> None:
    """The guide's first practice, "never commit AWS credentials": a .env written inside a git
    work tree is added to its .gitignore (``envfile.ignore_in_git``), and the row says so."""
    if result.env_file and not plan.dry_run and Path(result.env_file).exists():
        added = ignore_in_git(result.env_file)
        if added:
            result.detail += f"; {added}"


def rotate_key(
    bucket: str | None = None,
    region: str | None = None,
    settings: Settings | None = None,
    *,
    env_file: str | Path = ".env",
    timeout: float = 30.0,
) -> _iam.Rotation:
    """Replace the app user's key in ``env_file`` with a new, verified one and delete the old key."""
    env = _iam.read_env(env_file)
    if not env.get("AWS_ACCESS_KEY_ID"):  # say this before anything else: nothing to rotate
        raise ConfigError(f"no AWS_ACCESS_KEY_ID in {env_file}", hint="run `drumscribe setup iam` first")
    plan = make_plan(bucket=bucket or env.get("AWS_S3_BUCKET"), region=region or env.get("AWS_REGION"), settings=settings, env_file=env_file)
    ignore_in_git(plan.env_file)  # the new key lands in the same file: keep it out of git too
    try:
        return _iam.rotate_key(plan, timeout=timeout)
    except (bexc.ClientError, bexc.BotoCoreError) as exc:
        raise translate(exc, bucket=plan.bucket, action="rotate the access key for") from exc
