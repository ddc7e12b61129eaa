"""Ask IAM whether a principal may do what the app needs on a bucket (``iam simulate-principal-policy``).

Doctor uses this to catch a key that lost access (a policy edited, a bucket missing from it)
before a job fails half way. The simulation needs ``iam:SimulatePrincipalPolicy``, which the app's
own key does not have, and S3-compatible servers (moto, MinIO) do not implement it: then the
answer is "skipped" with the reason, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions as bexc
from botocore.parsers import ResponseParserError  # an HTML error page instead of IAM's XML (moto's server)

from drumscribe import aws, keys
from drumscribe.provision import documents

ALLOWED = "allowed"
_NO_PERMISSION = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess")
_NOT_IMPLEMENTED = ("NotImplemented", "InvalidAction", "UnknownOperationException", "UnsupportedOperation", "NotImplementedException")


@dataclass
class Simulation:
    principal: str = ""
    checked: list[tuple[str, str]] = field(default_factory=list)  # (action, resource ARN)
    denied: list[tuple[str, str, str]] = field(default_factory=list)  # (action, resource ARN, decision)
    skipped: str = ""  # why the simulation could not run ("" when it ran)


def principal_arn(caller_arn: str) -> tuple[str, str]:
    """The IAM ARN to simulate for an STS caller ARN: (arn, "") or ("", why it cannot be simulated)."""
    if re.fullmatch(r"arn:aws[\w-]*:iam::\d+:root", caller_arn):
        return "", "the caller is the account's root user, which IAM policies do not limit"
    user = re.fullmatch(r"arn:(aws[\w-]*):(?:iam|sts)::(\d+):user/(.+)", caller_arn)
    if user:
        return f"arn:{user[1]}:iam::{user[2]}:user/{user[3]}", ""
    role = re.fullmatch(r"arn:(aws[\w-]*):sts::(\d+):assumed-role/([^/]+)/.+", caller_arn)
    if role:  # a role with a path is not found this way; then the simulation says NoSuchEntity
        return f"arn:{role[1]}:iam::{role[2]}:role/{role[3]}", ""
    return "", f"{caller_arn} is neither an IAM user nor a role"


def required(bucket: str) -> list[tuple[list[str], str]]:
    """(actions, resource ARN) to simulate: object actions on a key under each top-level prefix the
    app writes (a policy granting only ``uploads/*`` must not pass), bucket actions on the bucket."""
    wanted = []
    for actions, resource in documents.app_permissions(bucket):
        if resource.endswith("/*"):
            wanted += [(actions, f"{resource[:-1]}{prefix}/doctor-simulation") for prefix in keys.TOP_LEVEL]
        else:
            wanted.append((actions, resource))
    return wanted


def simulate_app_access(iam: Any, caller_arn: str, bucket: str) -> Simulation:
    """Simulate every action the app needs on ``bucket`` for the caller; never raises for AWS errors."""
    arn, why = principal_arn(caller_arn)
    result = Simulation(principal=arn or caller_arn, skipped=why)
    if why:
        return result
    for actions, resource in required(bucket):
        try:
            response = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions, ResourceArns=[resource])
        except (bexc.ClientError, bexc.BotoCoreError, ResponseParserError, NotImplementedError) as exc:
            result.skipped = _why_skipped(exc)
            return result
        for evaluation in response.get("EvaluationResults", []):
            action = evaluation.get("EvalActionName", "?")
            result.checked.append((action, resource))
            decision = evaluation.get("EvalDecision", "")
            if decision != ALLOWED:
                result.denied.append((action, resource, decision))
    return result


def _why_skipped(exc: BaseException) -> str:
    code = aws.error_code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, bexc.ClientError) else None
    if code in _NO_PERMISSION or status == 403:
        return "no permission (these credentials may not call iam:SimulatePrincipalPolicy; an administrator's may)"
    if code == "NoSuchEntity":
        return "IAM does not know the caller as a user or role (a role with a path?)"
    if code in _NOT_IMPLEMENTED or status in (404, 405, 500, 501) or isinstance(exc, (NotImplementedError, ResponseParserError)):
        return "this endpoint does not implement IAM policy simulation (S3-compatible servers usually do not)"
    if isinstance(exc, (bexc.EndpointConnectionError, bexc.ConnectTimeoutError, bexc.ReadTimeoutError)):
        return "the IAM endpoint could not be reached"
    return f"IAM answered {code or type(exc).__name__}"
