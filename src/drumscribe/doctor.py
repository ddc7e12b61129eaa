"""``drumscribe doctor``: check that storage works and the bucket is configured as setup left it.

Each check passes, fails (with a hint that says how to fix it) or is skipped (an earlier failure
makes it meaningless, or the credentials may not read that setting). ``DoctorReport.ok`` is true
only when every check passed. Then ``doctor_security`` adds the guide's security practices
(``.env`` in git, alarms, key age, root MFA, CloudTrail) to ``report.security``; they warn rather
than fail, except for a tracked ``.env`` holding a key or broken alarms. The app's IAM policy
grants read access to the bucket settings doctor inspects, so the app's own key can pass every check. With no S3 bucket configured (or ``--local``) the local mirror is checked.

S3 checks use raw clients on purpose: doctor inspects the bucket itself, e.g. the test object is
written *without* an encryption header so that its encryption proves the bucket's default.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import botocore.exceptions as bexc

from drumscribe import aws, keys
from drumscribe.config import Settings, load_settings
from drumscribe.errors import DrumscribeError
from drumscribe.provision import documents, policy
from drumscribe.provision.base import translate
from drumscribe.provision.s3_steps import PUBLIC_ACCESS_BLOCK

PASS, FAIL, SKIP = "pass", "fail", "skip"
WARN = "warn"  # only the security checks (doctor_security.py) warn: a practice missing, nothing broken
_BOTO = (bexc.ClientError, bexc.BotoCoreError)
# Doctor should answer quickly when the endpoint is down, not back off for a minute.
_QUICK = {"retries": {"max_attempts": 2, "mode": "standard"}, "connect_timeout": 5, "read_timeout": 20}


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""
    hint: str = ""


@dataclass
class DoctorReport:
    backend: str  # "s3" or "local"
    checks: list[Check] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    security: list[Check] = field(default_factory=list)  # doctor_security.py: pass, warn, skip or fail

    @property
    def ok(self) -> bool:
        # "exit 0 only if all pass": a skipped check is not a pass. Security checks only count when
        # they fail: a warning is advice, and "no permission" is what a least-privilege key gets.
        return bool(self.checks) and all(c.status == PASS for c in self.checks) and all(c.status != FAIL for c in self.security)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "backend": self.backend, "info": self.info, "checks": [asdict(c) for c in self.checks],
                "security": [asdict(c) for c in self.security]}


class _Failed(Exception):
    """A check failed; carries the line to show and the fix."""

    def __init__(self, detail: str, hint: str = ""):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


class _Skipped(Exception):
    pass


class _NotApplicable(Exception):
    """An optional check could not run here (e.g. no permission to simulate): said in ``info``,
    not shown as a skipped check, so it never makes the report fail."""


def _message(exc: BaseException, **where: Any) -> str:
    if isinstance(exc, DrumscribeError):
        return str(exc)
    return str(translate(exc, **where))


class _Runner:
    """Runs checks in order; after a fatal failure the remaining checks are skipped."""

    def __init__(self, report: DoctorReport):
        self.report = report
        self.blocked: str | None = None

    def run(self, name: str, fn: Callable[[], str], *, fatal: bool = False, needs: Iterable[str] = ()) -> bool:
        failed_needs = [n for n in needs if not self.passed(n)]
        if self.blocked or failed_needs:
            reason = self.blocked or failed_needs[0]
            self.report.checks.append(Check(name, SKIP, f"skipped: {reason} did not pass"))
            return False
        try:
            self.report.checks.append(Check(name, PASS, fn()))
            return True
        except _Skipped as exc:
            self.report.checks.append(Check(name, SKIP, str(exc)))
        except _NotApplicable as exc:
            self.report.info.append(f"{name}: skipped: {exc}")
            return False
        except _Failed as exc:
            self.report.checks.append(Check(name, FAIL, exc.detail, exc.hint))
        except DrumscribeError as exc:
            self.report.checks.append(Check(name, FAIL, str(exc)))
        except (OSError, *_BOTO) as exc:  # anything unforeseen is still a failed check, not a crash
            self.report.checks.append(Check(name, FAIL, f"{type(exc).__name__}: {exc}"))
        if fatal:
            self.blocked = name
        return False

    def passed(self, name: str) -> bool:
        return any(c.name == name and c.status == PASS for c in self.report.checks)


def doctor(settings: Settings | None = None, *, prefer_local: bool = False, origins: Iterable[str] | None = None,
           origin: str | None = None) -> DoctorReport:
    """Run every check and return the report (never raises for a failed check).

    ``origin`` (a page's ``scheme://host:port``, e.g. ``drumscribe serve``'s) adds the CORS
    preflight a browser makes before uploading from that page, and is the expected CORS origin
    when ``origins`` is not given."""
    settings = settings or load_settings()
    if prefer_local or not settings.bucket:
        report = DoctorReport("local")
        report.info.append(
            "--local: checked the local mirror only"
            if prefer_local
            else "S3 is not configured (no AWS_S3_BUCKET), so the local mirror was checked; to use S3 set AWS_S3_BUCKET "
            "and AWS credentials (.env, AWS_PROFILE or `aws sso login`), then run `drumscribe setup`"
        )
        _local_checks(settings, _Runner(report))
    else:
        report = DoctorReport("s3")
        _s3_checks(settings, _Runner(report), list(origins or []) or ([origin] if origin else None), origin)
    from drumscribe.doctor_security import security_checks

    aws_ok = report.backend == "s3" and _Runner(report).passed("credentials")  # the AWS ones need working credentials
    report.security = security_checks(settings, aws_ok=aws_ok)
    return report


# -- S3 -------------------------------------------------------------------------------------


def _s3_checks(settings: Settings, run: _Runner, origins: list[str] | None, origin: str | None = None) -> None:
    bucket = settings.bucket
    state: dict[str, Any] = {}

    def configuration() -> str:
        keys.validate_bucket_name(bucket)
        if not aws.has_credentials(settings):
            raise _Failed(f"bucket {bucket!r} is named but no AWS credentials resolve",
                          "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in .env, AWS_PROFILE, or run `aws sso login`")
        state["s3"] = aws.client(settings, "s3", **_QUICK)
        source = settings.sources.get("bucket", "default")
        return f"bucket {bucket} (from {source}), region {settings.region_name}" + (
            f", endpoint {settings.endpoint_url}" if settings.endpoint_url else "")

    def credentials() -> str:
        try:
            ident = aws.client(settings, "sts", **_QUICK).get_caller_identity()
        except _BOTO as exc:
            raise _Failed(_message(exc)) from None  # the message already says what to check
        state["arn"] = ident["Arn"]
        return f"authenticated as {ident['Arn']}"

    def reachable() -> str:
        try:
            response = state["s3"].head_bucket(Bucket=bucket)
        except _BOTO as exc:
            if not _listable_after_403(state["s3"], bucket, exc):
                raise _tls_over_http(settings, state["s3"], exc) or _bucket_failure(exc, bucket) from None
            return f"s3://{bucket} answers (listing allowed)"
        region = response.get("BucketRegion") or response["ResponseMetadata"].get("HTTPHeaders", {}).get("x-amz-bucket-region")
        if region and region != settings.region_name:
            raise _Failed(f"bucket {bucket!r} is in {region} but AWS_REGION is {settings.region_name}", f"set AWS_REGION={region}")
        return f"s3://{bucket} answers" + (f" ({region})" if region else "")

    def round_trip() -> str:
        s3 = state["s3"]
        key = keys.temp_key(f"doctor-{secrets.token_hex(6)}", "probe.bin")
        data = os.urandom(4096)
        state["key"] = key
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=data)  # no SSE header: see the module docstring
            got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except _BOTO as exc:
            hint = "the IAM policy must allow s3:PutObject and s3:GetObject on the bucket's objects"
            if aws.plain_http(settings):  # the bucket policy could not be read to tell for sure
                hint += "; or, if the bucket has the TLS-only policy, it refuses them through this plain-HTTP endpoint: `drumscribe setup tls-policy --remove`"
            raise _tls_over_http(settings, s3, exc) or _Failed(
                _message(exc, bucket=bucket, key=key, action="write and read back"), hint) from None
        if got != data:
            raise _Failed(f"read back {len(got)} bytes that differ from the {len(data)} written to {key}")
        return f"wrote and read back {len(data)} identical bytes at {key}"

    def encrypted() -> str:
        try:
            sse = state["s3"].head_object(Bucket=bucket, Key=state["key"]).get("ServerSideEncryption")
        except _BOTO as exc:
            raise _Failed(_message(exc, bucket=bucket, key=state["key"], action="inspect")) from None
        if not sse:
            raise _Failed("an object uploaded without an encryption header was stored unencrypted",
                          "run `drumscribe setup encryption` to set default encryption")
        return f"objects are encrypted at rest by default ({sse})"

    def _read(fn: str, missing: str, what: str) -> Any:
        try:
            return getattr(state["s3"], fn)(Bucket=bucket)
        except _BOTO as exc:
            code = aws.error_code(exc)
            if code == missing:
                return None
            if code in ("AccessDenied", "403"):
                raise _Skipped(f"these credentials may not read the {what} (the app policy only allows object access); "
                               "run doctor with administrator credentials to check it") from None
            raise _Failed(_message(exc, bucket=bucket, action=f"read the {what} of")) from None

    def lifecycle() -> str:
        got = _read("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration", "lifecycle configuration")
        rules = (got or {}).get("Rules")
        if not rules:
            raise _Failed("the bucket has no lifecycle configuration", "run `drumscribe setup lifecycle`")
        if not documents.lifecycle_matches(rules):
            want = documents.normalize_lifecycle(documents.lifecycle()["Rules"])
            have = documents.normalize_lifecycle(rules)
            missing = [json.dumps(r, sort_keys=True) for r in want if r not in have]
            extra = [json.dumps(r, sort_keys=True) for r in have if r not in want]
            raise _Failed(f"lifecycle differs from {documents.LIFECYCLE}: missing {missing or 'nothing'}; unexpected {extra or 'nothing'}",
                          "run `drumscribe setup lifecycle`")
        return f"matches {documents.LIFECYCLE} ({len(rules)} rules)"

    def cors() -> str:
        got = _read("get_bucket_cors", "NoSuchCORSConfiguration", "CORS configuration")
        want = documents.cors(origins)
        fix = "run `drumscribe setup cors" + (" --origins " + ",".join(origins) if origins else "") + "`"
        if not got:
            raise _Failed("the bucket has no CORS configuration", fix)
        if documents.normalize_cors(got.get("CORSRules")) != documents.normalize_cors(want["CORSRules"]):
            have = sorted({o for r in got.get("CORSRules", []) for o in r.get("AllowedOrigins", [])})
            raise _Failed(f"CORS differs from {documents.CORS} (bucket allows origins {', '.join(have) or 'none'})",
                          fix + " (or pass doctor --origins if you set custom origins)")
        return f"matches {documents.CORS} (origins {', '.join(want['CORSRules'][0]['AllowedOrigins'])})"

    def public_access() -> str:
        got = _read("get_public_access_block", "NoSuchPublicAccessBlockConfiguration", "public access block")
        flags = (got or {}).get("PublicAccessBlockConfiguration", {})
        off = [f for f in PUBLIC_ACCESS_BLOCK if flags.get(f) is not True]
        if off:
            raise _Failed(f"public access is not fully blocked: {', '.join(off)} off", "run `drumscribe setup block-public`")
        return "all four public access block flags on"

    def permissions() -> str:
        from drumscribe.provision.simulation import simulate_app_access

        sim = simulate_app_access(aws.client(settings, "iam", **_QUICK), state["arn"], bucket)
        if sim.skipped:
            raise _NotApplicable(sim.skipped)
        if sim.denied:
            shown = "; ".join(f"{action} on {resource} ({decision})" for action, resource, decision in sim.denied[:4])
            raise _Failed(f"IAM policy simulation: {sim.principal} may not {shown}" + (" ..." if len(sim.denied) > 4 else ""),
                          f"run `drumscribe setup iam --bucket {bucket}` with administrator credentials: "
                          f"it adds the bucket to {documents.POLICY_NAME} without removing the others")
        actions = sorted({action for action, _ in sim.checked})
        return f"IAM policy simulation: {sim.principal} may {', '.join(actions)} on s3://{bucket}"

    def cleanup() -> str:
        s3, key = state["s3"], state["key"]
        try:
            s3.delete_object(Bucket=bucket, Key=key)
            s3.head_object(Bucket=bucket, Key=key)
        except bexc.ClientError as exc:
            if aws.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return f"test object {key} deleted and gone"
            raise _Failed(_message(exc, bucket=bucket, key=key, action="delete"), "the IAM policy must allow s3:DeleteObject") from None
        except bexc.BotoCoreError as exc:
            raise _Failed(_message(exc, bucket=bucket, key=key, action="delete")) from None
        raise _Failed(f"test object {key} is still there after deleting it", f"delete it with `aws s3 rm s3://{bucket}/{key}`")

    run.run("configuration", configuration, fatal=True)
    run.run("credentials", credentials, fatal=True)
    run.run("bucket", reachable, fatal=True)
    run.run("round-trip", round_trip)
    run.run("encryption", encrypted, needs=["round-trip"])
    run.run("lifecycle", lifecycle)
    run.run("cors", cors)
    if origin:
        run.run("cors-preflight", lambda: cors_preflight(settings, origin, state["s3"]))
    run.run("public-access", public_access)
    run.run("iam-permissions", permissions, needs=["credentials"])
    if "key" in state:  # also after a failed round trip: whatever was written must go
        run.run("cleanup", cleanup)
    else:
        run.run("cleanup", lambda: "", needs=["round-trip"])


def cors_preflight(settings: Settings, origin: str, s3: Any = None) -> str:
    """Make the preflight a browser on ``origin`` sends before POSTing an upload to the bucket.

    The URL is the one a presigned POST names (so path- or virtual-host style, endpoint and region
    are exactly the browser's). Raises ``_Failed`` (a one-line message and a fix) if S3 would refuse.
    """
    import urllib.error
    import urllib.request

    origin = documents.normalize_origin(origin)
    s3 = s3 or aws.client(settings, "s3", **_QUICK)
    url = s3.generate_presigned_post(settings.bucket, keys.UPLOADS + "/preflight")["url"]
    fix = f"run `drumscribe setup cors --origins {origin}`"
    try:  # S3 refuses every preflight to a bucket without CORS rules; some test servers answer anyway
        s3.get_bucket_cors(Bucket=settings.bucket)
    except _BOTO as exc:
        if aws.error_code(exc) == "NoSuchCORSConfiguration":
            raise _Failed(f"the bucket has no CORS rules, so browsers on {origin} may not upload to it", fix) from None
        # anything else (the app's key may not read bucket settings): the preflight below decides
    request = urllib.request.Request(url, method="OPTIONS", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            allowed_origin = response.headers.get("Access-Control-Allow-Origin", "")
            methods = {m.strip().upper() for m in response.headers.get("Access-Control-Allow-Methods", "").split(",")}
    except urllib.error.HTTPError as exc:
        raise _Failed(f"the bucket refuses uploads from {origin} (preflight to {url} answered {exc.code})", fix) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _Failed(f"no answer to the CORS preflight at {url}: {getattr(exc, 'reason', exc)}") from None
    if allowed_origin not in (origin, "*") or "POST" not in methods:
        raise _Failed(f"the bucket's preflight answer does not allow POST from {origin} "
                      f"(allows origin {allowed_origin or 'none'}, methods {', '.join(sorted(methods - {''})) or 'none'})", fix)
    return f"a browser on {origin} may POST uploads to {url}"


def _tls_over_http(settings: Settings, s3: Any, exc: BaseException) -> _Failed | None:
    """A 403 through a plain-HTTP endpoint on a bucket whose policy denies requests without TLS
    is that policy at work, not a missing IAM permission: say so, and how to take it out."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, bexc.ClientError) else None
    if status != 403 or not aws.plain_http(settings):
        return None
    try:
        current = json.loads(s3.get_bucket_policy(Bucket=settings.bucket)["Policy"])
    except (*_BOTO, ValueError, KeyError):  # no policy, or not allowed to read it: no diagnosis
        return None
    if policy.find_statement(current, documents.TLS_STATEMENT_ID) is None:
        return None
    return _Failed(
        f"the bucket policy denies every request made without TLS (statement {documents.TLS_STATEMENT_ID}), "
        f"and the endpoint {settings.endpoint_url} is plain HTTP, so S3 refuses this request",
        "run `drumscribe setup tls-policy --remove` (a TLS-only policy only makes sense behind an https:// endpoint)",
    )


def _listable_after_403(s3: Any, bucket: str, exc: BaseException) -> bool:
    """On AWS, HeadBucket is authorized by s3:ListBucket; some S3-compatible servers (moto among
    them) check a made-up "s3:HeadBucket" action instead and refuse a correctly scoped key. So a
    403 is only believed once listing the bucket is refused too."""
    if not (isinstance(exc, bexc.ClientError) and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403):
        return False
    try:
        s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
        return True
    except _BOTO:
        return False


def _bucket_failure(exc: BaseException, bucket: str) -> _Failed:
    if isinstance(exc, bexc.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if status == 404:
            return _Failed(f"bucket {bucket!r} does not exist", "check AWS_S3_BUCKET, or create it with `drumscribe setup`")
        if status == 403:
            return _Failed(f"access denied to bucket {bucket!r}",
                           f"attach DrumTranscriptionS3Policy (s3:ListBucket on arn:aws:s3:::{bucket}) to your user, and check AWS_S3_BUCKET names your bucket")
        if status in (301, 400) and headers.get("x-amz-bucket-region"):
            region = headers["x-amz-bucket-region"]
            return _Failed(f"bucket {bucket!r} is in region {region}", f"set AWS_REGION={region}")
    return _Failed(_message(exc, bucket=bucket, action="reach"))


# -- local mirror ---------------------------------------------------------------------------


def _local_checks(settings: Settings, run: _Runner) -> None:
    from drumscribe.storage.local import LocalStorage

    root = settings.local_root
    state: dict[str, Any] = {}

    def root_ok() -> str:
        existed = root.is_dir()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _Failed(f"cannot create the local mirror {root}: {exc.strerror}", "set DRUMSCRIBE_HOME to a folder you can write") from None
        return f"{root} {'exists' if existed else 'created'}"

    def writable() -> str:
        probe = root / f".doctor-{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise _Failed(f"cannot write in {root}: {exc.strerror}", "fix the folder's permissions or set DRUMSCRIBE_HOME") from None
        return f"{root} is writable"

    def round_trip() -> str:
        storage = LocalStorage(root, bucket=settings.bucket)
        key = keys.temp_key(f"doctor-{secrets.token_hex(6)}", "probe.bin")
        data = os.urandom(4096)
        state.update(storage=storage, key=key)
        storage.put(key, data)  # temp file + rename
        if storage.get(key) != data:
            raise _Failed(f"read back different bytes from {key}")
        return f"wrote (atomically) and read back {len(data)} identical bytes at {key}"

    def cleanup() -> str:
        storage, key = state["storage"], state["key"]
        storage.delete(key)
        if storage.exists(key):
            raise _Failed(f"test file {key} is still there after deleting it", f"remove it from {root}")
        return f"test file {key} removed"

    run.run("local-root", root_ok, fatal=True)
    run.run("writable", writable, fatal=True)
    run.run("round-trip", round_trip)
    if "key" in state:
        run.run("cleanup", cleanup)
    else:
        run.run("cleanup", lambda: "", needs=["round-trip"])
