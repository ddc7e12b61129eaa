"""``setup iam --role ec2|ecs|lambda``: the guide's "use IAM roles in production instead of access keys".

A role that the chosen service may assume, with the app's least-privilege managed policy attached
(the very policy ``setup iam`` gives the user, created or updated by the same code), and for EC2
an instance profile carrying it. Code running there gets short-lived credentials from the
service, so no access key is created and ``.env`` receives no secret: only ``AWS_S3_BUCKET`` and
``AWS_REGION``, which the app still needs.
"""

from __future__ import annotations

import json

import botocore.exceptions as bexc

from drumscribe.envfile import ignore_in_git, read_env, update_env
from drumscribe.errors import ConfigError
from drumscribe.provision import iam as _iam
from drumscribe.provision.base import Plan, Recorder, StepResult

SERVICES = {"ec2": "ec2.amazonaws.com", "ecs": "ecs-tasks.amazonaws.com", "lambda": "lambda.amazonaws.com"}


def role_name(kind: str) -> str:
    return f"{_iam.USER}-{kind}"


def check_kind(kind: str | None) -> str:
    if kind not in SERVICES:
        raise ConfigError(f"unknown role kind {kind!r}", hint="choose from " + ", ".join(SERVICES))
    return kind


def trust_policy(kind: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": SERVICES[kind]}, "Action": "sts:AssumeRole"}],
    }


def _policy_arn(plan: Plan) -> str:
    return f"arn:aws:iam::{_iam.account_id(plan)}:policy/{_iam.POLICY}"


def _get_role(plan: Plan, name: str) -> dict | None:
    found = _iam.read_or_none(plan.iam.get_role, f"read role {name}", RoleName=name)
    return found["Role"] if found else None


def _get_profile(plan: Plan, name: str) -> dict | None:
    found = _iam.read_or_none(plan.iam.get_instance_profile, f"read instance profile {name}", InstanceProfileName=name)
    return found["InstanceProfile"] if found else None


def _ensure_role(plan: Plan, call: Recorder, kind: str, arn: str) -> list[str]:
    name, trust = role_name(kind), trust_policy(kind)
    role = _get_role(plan, name)
    changes = []
    if role is None:
        call("create_role", RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
             Description=f"drumscribe on {kind}: read/write one S3 bucket", Tags=[{"Key": "app", "Value": "drumscribe"}])
        changes.append(f"new role {name} trusted by {SERVICES[kind]}")
        attached: list[str] = []
    else:
        if not _iam.documents.policy_statements_equal(_iam.policy_document(role["AssumeRolePolicyDocument"]), trust):
            call("update_assume_role_policy", RoleName=name, PolicyDocument=json.dumps(trust))
            changes.append(f"role {name} now trusted by {SERVICES[kind]} only")
        attached = [p["PolicyArn"] for p in plan.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]]
    if arn not in attached:
        call("attach_role_policy", RoleName=name, PolicyArn=arn)
        changes.append(f"{_iam.POLICY} attached to {name}")
    if kind == "ec2":
        profile = _get_profile(plan, name)
        if profile is None:
            call("create_instance_profile", InstanceProfileName=name, Tags=[{"Key": "app", "Value": "drumscribe"}])
            changes.append(f"new instance profile {name}")
        if profile is None or name not in [r["RoleName"] for r in profile.get("Roles", [])]:
            call("add_role_to_instance_profile", InstanceProfileName=name, RoleName=name)
            changes.append(f"role {name} added to instance profile {name}")
    return changes


def _env_notes(plan: Plan, changes: list[str]) -> None:
    """Bucket and region into .env (never a key); warn when a key there would win over the role."""
    env = read_env(plan.env_file)
    wanted = {"AWS_S3_BUCKET": plan.bucket, "AWS_REGION": plan.region}
    stale = {k: v for k, v in wanted.items() if env.get(k) != v}
    if stale:
        if not plan.dry_run:
            update_env(plan.env_file, stale)
        changes.append(f"{', '.join(stale)} written to {plan.env_file} (no access key)")
        if not plan.dry_run and (added := ignore_in_git(plan.env_file)):
            changes.append(added)


def step_role(plan: Plan, kind: str, *, remove: bool = False) -> StepResult:
    kind = check_kind(kind)
    call = Recorder(plan, "iam")
    if remove:
        return _remove(plan, call, kind)
    arn = _policy_arn(plan)
    try:
        # the user's policy, made or updated by the same code as `setup iam`: one document, one grant
        changes = _iam._ensure_policy(plan, call, arn)[0] + _ensure_role(plan, call, kind, arn)
    except bexc.ClientError as exc:
        raise _iam.iam_error(exc, f"set up role {role_name(kind)}") from exc
    _env_notes(plan, changes)
    extra = f", instance profile {role_name(kind)}" if kind == "ec2" else ""
    result = call.result("iam", changes, f"role {role_name(kind)} ({SERVICES[kind]}) with {_iam.POLICY}{extra}; no access key")
    if "AWS_SECRET_ACCESS_KEY" in read_env(plan.env_file):
        result.detail += f"; note: {plan.env_file} still holds an access key, which wins over the role: remove it where the app runs"
    result.env_file = plan.env_file
    return result


def _remove(plan: Plan, call: Recorder, kind: str) -> StepResult:
    """Take the role (and instance profile) away; the managed policy stays for the user."""
    name = role_name(kind)
    changes: list[str] = []
    if kind == "ec2" and (profile := _get_profile(plan, name)) is not None:
        for role in profile.get("Roles", []):
            call("remove_role_from_instance_profile", InstanceProfileName=name, RoleName=role["RoleName"])
        call("delete_instance_profile", InstanceProfileName=name)
        changes.append(f"instance profile {name} deleted")
    if _get_role(plan, name) is not None:
        for p in plan.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            call("detach_role_policy", RoleName=name, PolicyArn=p["PolicyArn"])
        for inline in plan.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            call("delete_role_policy", RoleName=name, PolicyName=inline)
        call("delete_role", RoleName=name)
        changes.append(f"role {name} deleted ({_iam.POLICY} kept)")
    return call.result("iam", changes, f"no role {name}")


def setup_role(
    kind: str,
    *,
    remove: bool = False,
    bucket: str | None = None,
    region: str | None = None,
    settings=None,
    dry_run: bool = False,
    env_file=".env",
) -> StepResult:
    """A role for ``kind`` ("ec2", "ecs" or "lambda") with the app's policy; no access key is made."""
    from drumscribe.provision.run import run_step

    check_kind(kind)
    return run_step("iam", step_role, bucket=bucket, region=region, settings=settings, dry_run=dry_run, env_file=env_file, kind=kind, remove=remove)
