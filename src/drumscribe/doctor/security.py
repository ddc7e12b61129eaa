"""Doctor's security checks: the guide's "Security Best Practices", as far as the caller may see.

They land in ``DoctorReport.security``, apart from the storage checks:

    env-in-git       the .env here is not tracked by git (fail when it is and holds a secret)
    alarms           `setup monitoring`'s alarms, their topic, a confirmed subscription, request metrics
    ip-allowlist     `setup ip-allowlist`'s statement, if any: the ranges it lets in
    access-key-age   the key in use is younger than 90 days (else: `drumscribe iam rotate-key`)
    root-mfa         the account's root user has MFA (iam:GetAccountSummary)
    cloudtrail       a trail exists and is logging

Only env-in-git (and a monitoring set-up that is broken) can fail: missing practices are warnings,
because drumscribe cannot apply them all for you. A check these credentials may not make is
"skip" with "no permission" and never a failure: the app's least-privilege key sees little of this.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import botocore.exceptions as bexc
from botocore.parsers import ResponseParserError

from drumscribe import aws, envfile
from drumscribe.config import Settings
from drumscribe.doctor.checks import FAIL, PASS, QUICK, SKIP, WARN, Check
from drumscribe.provision import support
from drumscribe.provision.iam import short

KEY_MAX_DAYS = 90
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException"}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation", "403", "Forbidden"}


class _Result(Exception):
    def __init__(self, status: str, detail: str, hint: str = ""):
        super().__init__(detail)
        self.check = (status, detail, hint)


def _denied(exc: BaseException) -> bool:
    if not isinstance(exc, bexc.ClientError):
        return False
    code = aws.error_code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code not in _CREDENTIAL_CODES and (code in _DENIED_CODES or status == 403)


def _run(name: str, permission: str, fn: Callable[[], tuple[str, str, str]]) -> Check:
    try:
        status, detail, hint = fn()
    except _Result as result:
        status, detail, hint = result.check
    except (bexc.ClientError, bexc.BotoCoreError, ResponseParserError) as exc:
        if _denied(exc):
            return Check(name, SKIP, f"skipped: no permission ({permission}) for these credentials")
        if support.unsupported(exc) or isinstance(exc, ResponseParserError):  # Ceph RGW: no CloudWatch, STS, IAM account API
            return Check(name, SKIP, f"skipped: {support.UNSUPPORTED} (no {permission.split(':')[0]} API there)")
        return Check(name, SKIP, f"skipped: could not check ({aws.error_code(exc) or type(exc).__name__})")
    return Check(name, status, detail, hint)


def security_checks(settings: Settings, *, aws_ok: bool, cwd: Path | None = None) -> list[Check]:
    """The checks above; the AWS ones only when ``aws_ok`` (a bucket and working credentials)."""
    checks = [_run("env-in-git", "git", lambda: env_in_git((cwd or Path.cwd()) / ".env"))]
    if not aws_ok:
        return checks
    session, clients = aws.make_session(settings), {}  # one session: service models load once

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = aws.client(settings, service, session=session, **QUICK)
        return clients[service]

    checks.append(_run("alarms", "cloudwatch:DescribeAlarms, sns:GetTopicAttributes", lambda: alarms(settings, client)))
    checks.append(_run("ip-allowlist", "s3:GetBucketPolicy", lambda: ip_allowlist(settings.bucket or "", client("s3"))))
    checks.append(_run("access-key-age", "iam:ListAccessKeys", lambda: access_key_age(settings, client)))
    checks.append(_run("root-mfa", "iam:GetAccountSummary", lambda: root_mfa(client("iam"))))
    checks.append(_run("cloudtrail", "cloudtrail:DescribeTrails", lambda: cloudtrail(client("cloudtrail"))))
    return checks


# -- the checks -----------------------------------------------------------------------------------


def env_in_git(path: Path) -> tuple[str, str, str]:
    if not path.is_file():
        return PASS, f"no .env in {path.parent}", ""
    root = envfile.git_work_tree(path)
    if root is None:
        return PASS, f"{path} is not inside a git work tree", ""
    secret = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(envfile.read_env(path))
    if envfile.git_tracks(path):
        untrack = f"untrack it: git -C {root} rm --cached {path.relative_to(root)}, commit, and list it in .gitignore"
        if secret:
            raise _Result(FAIL, f"{path} is tracked by git and holds {', '.join(sorted(secret))}: treat the key as leaked "
                                "(anyone with a copy of the repository history has it)",
                          f"{untrack}; then replace the key with `drumscribe iam rotate-key` (administrator credentials), "
                          "which deletes the old one")
        raise _Result(WARN, f"{path} is tracked by git (it holds no secret now, but the next key written there would be committed)", untrack)
    if not envfile.git_ignores(path):
        return WARN, f"{path} is not ignored by git: `git add .` would commit it", \
            f"add /{path.relative_to(root).as_posix()} to {root / '.gitignore'} (`drumscribe setup iam` does it when it writes the key)"
    return PASS, f"{path} is ignored by git", ""


def alarms(settings: Settings, client: Callable[[str], Any]) -> tuple[str, str, str]:
    from drumscribe.provision import monitoring

    bucket = settings.bucket or ""
    fix = "run `drumscribe setup monitoring --email you@example.com`"
    cw = client("cloudwatch")
    found = {}
    for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=monitoring.alarm_prefix(bucket)):
        found.update({a["AlarmName"]: a for a in page.get("MetricAlarms", [])})
    if not found:
        return WARN, f"no drumscribe alarms for {bucket}: nobody hears of unusual activity", fix
    wanted = {a["AlarmName"] for a in monitoring.alarms(bucket, "", monitoring.Thresholds())}
    missing = sorted(wanted - set(found))
    if missing:
        raise _Result(FAIL, f"alarm(s) missing: {', '.join(missing)}", fix)
    topics = {arn for a in found.values() for arn in a.get("AlarmActions", [])}
    if len(topics) != 1:
        raise _Result(FAIL, f"the alarms notify {len(topics)} different targets, not the one topic", fix)
    (topic,) = topics
    try:
        attributes = client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]
    except bexc.ClientError as exc:
        if aws.error_code(exc) in ("NotFound", "NotFoundException"):
            raise _Result(FAIL, f"the alarms' topic {topic} no longer exists: alerts go nowhere", fix) from None
        raise
    s3 = client("s3")
    try:
        s3.get_bucket_metrics_configuration(Bucket=bucket, Id=monitoring.METRICS_ID)
    except bexc.ClientError as exc:
        if aws.error_code(exc) == "NoSuchConfiguration":
            raise _Result(FAIL, "request metrics are off: the error and traffic alarms never fire", fix) from None
        if not _denied(exc):
            raise
    name = topic.rsplit(":", 1)[-1]
    if int(attributes.get("SubscriptionsConfirmed", "0") or 0) == 0:
        pending = int(attributes.get("SubscriptionsPending", "0") or 0)
        return WARN, f"{len(found)} alarms -> topic {name}, but no confirmed subscription ({pending} pending)", \
            "follow the link in the confirmation mail AWS sent; unconfirmed, it expires after 3 days: then run `drumscribe setup monitoring --email ADDRESS` again for a new mail"
    return PASS, f"{len(found)} alarms -> topic {name} ({attributes.get('SubscriptionsConfirmed')} confirmed subscription(s))", ""


def ip_allowlist(bucket: str, s3: Any) -> tuple[str, str, str]:
    """Optional: say which ranges may reach the bucket, and whether the statement is as setup writes it."""
    import json

    from drumscribe.provision import allowlist

    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except bexc.ClientError as exc:
        if aws.error_code(exc) != "NoSuchBucketPolicy":
            raise
        policy = None
    found = allowlist.find_statement(policy, allowlist.SID)
    if found is None:
        return PASS, "no IP allowlist (optional: `drumscribe setup ip-allowlist CIDR... --yes`)", ""
    ranges = allowlist.allowed_ranges(policy)
    if not allowlist.same_statement(found, allowlist.statement(bucket, ranges)):
        return WARN, f"statement {allowlist.SID} differs from what setup writes (edited by hand?)", \
            f"run `drumscribe setup ip-allowlist {' '.join(ranges)} --yes` to rewrite it"
    return PASS, f"requests only from {', '.join(ranges)}", ""


def access_key_age(settings: Settings, client: Callable[[str], Any], *, now: datetime | None = None) -> tuple[str, str, str]:
    credentials = aws.make_session(settings).get_credentials()
    if credentials is None:
        return SKIP, "skipped: no credentials", ""
    frozen = credentials.get_frozen_credentials()
    arn = client("sts").get_caller_identity()["Arn"]
    if frozen.token:  # e.g. `setup iam --role ec2` on the instance: assumed-role/drum-transcription-app-ec2/...
        return PASS, f"temporary credentials ({arn}): nothing to rotate", ""
    if arn.endswith(":root"):
        return WARN, "these are the root user's access keys", "delete them (root should have none) and use an IAM user or role"
    if ":user/" not in arn:
        return SKIP, f"skipped: {arn} is not an IAM user", ""
    user = arn.rsplit("/", 1)[-1]
    try:
        keys = client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    except bexc.ClientError as exc:
        if aws.error_code(exc) != "NoSuchEntity":
            raise
        return SKIP, f"skipped: IAM knows no user {user} in this account", ""
    mine = next((k for k in keys if k["AccessKeyId"] == frozen.access_key), None)
    if mine is None:
        return SKIP, f"skipped: key {short(frozen.access_key)} is not among {user}'s keys", ""
    age = ((now or datetime.now(timezone.utc)) - mine["CreateDate"]).days
    if age > KEY_MAX_DAYS:
        return WARN, f"key {short(frozen.access_key)} of {user} is {age} days old (rotate every {KEY_MAX_DAYS})", \
            "run `drumscribe iam rotate-key` with administrator credentials"
    return PASS, f"key {short(frozen.access_key)} of {user} is {age} days old", ""


def root_mfa(iam: Any) -> tuple[str, str, str]:
    summary = iam.get_account_summary()["SummaryMap"]
    if summary.get("AccountMFAEnabled") == 1:
        return PASS, "the root user has MFA", ""
    return WARN, "the account's root user has no MFA", \
        "sign in as root, open Security credentials and assign an MFA device (the console is the only way)"


def cloudtrail(ct: Any) -> tuple[str, str, str]:
    trails = ct.describe_trails(includeShadowTrails=True).get("trailList", [])
    create = ("aws cloudtrail create-trail --name drumscribe-audit --s3-bucket-name LOG_BUCKET --is-multi-region-trail && "
              "aws cloudtrail start-logging --name drumscribe-audit (LOG_BUCKET needs CloudTrail's bucket policy; the console's "
              "Create trail sets it up)")
    if not trails:
        return WARN, "no CloudTrail trail: API activity is kept only 90 days (Event history)", create
    for trail in trails:
        try:
            if ct.get_trail_status(Name=trail["TrailARN"]).get("IsLogging"):
                return PASS, f"trail {trail['Name']} is logging", ""
        except bexc.ClientError as exc:
            if _denied(exc):
                return PASS, f"trail {trail['Name']} exists (its logging state is not visible to these credentials)", ""
            raise
    names = ", ".join(t["Name"] for t in trails)
    return WARN, f"trail(s) {names} exist but none is logging", f"aws cloudtrail start-logging --name {trails[0]['Name']}"
