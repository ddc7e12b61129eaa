"""``drumscribe doctor``: check that storage works and the bucket is configured as setup left it.

Each check passes, fails (with a hint that says how to fix it) or is skipped (an earlier failure
makes it meaningless, or the credentials may not read that setting). ``DoctorReport.ok`` is true
only when every check passed. Then the security checks (``security.py``: ``.env`` in git, alarms,
key age, root MFA, CloudTrail) land in ``report.security``; they warn rather than fail, except for
a tracked ``.env`` holding a key or broken alarms. The app's IAM policy grants read access to the
bucket settings doctor inspects, so the app's own key can pass every check. With no S3 bucket
configured (or ``--local``) the local mirror is checked.

Off AWS, ``report.capabilities`` says what the endpoint supports (``endpoint.capabilities``),
and a check of something it lacks (Ceph RGW's default encryption) is a warning naming what that
means and how to get it there, not a failure: ``ok`` holds with warnings.

The rooms: ``checks`` (the table, its rows and the runner), ``endpoint`` (does anything answer
there; what it supports), ``connection`` (configuration, credentials, the bucket, a round trip), ``bucket_settings`` (encryption, lifecycle, CORS, public
access, IAM permissions), ``security`` and ``local``. This module only puts the rows in order.
"""

from __future__ import annotations

import inspect
import sys
import types
from typing import Any, Iterable

from drumscribe.config import Settings, load_settings
from drumscribe.doctor import bucket_settings, connection, endpoint
from drumscribe.doctor.bucket_settings import cors_preflight
from drumscribe.doctor.checks import FAIL, PASS, SKIP, WARN, Check, DoctorReport, Runner
from drumscribe.doctor.local import local_checks
from drumscribe.doctor.security import security_checks

__all__ = ["doctor", "cors_preflight", "DoctorReport", "Check", "PASS", "FAIL", "SKIP", "WARN"]


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
        local_checks(settings, Runner(report))
    else:
        report = DoctorReport("s3")
        probe = _s3_checks(settings, Runner(report), list(origins or []) or ([origin] if origin else None), origin)
        if Runner(report).passed("credentials") and probe.provider != "aws":
            report.capabilities = endpoint.capabilities(probe)
    aws_ok = report.backend == "s3" and Runner(report).passed("credentials")  # the AWS ones need working credentials
    report.security = security_checks(settings, aws_ok=aws_ok)
    return report


def _s3_checks(settings: Settings, run: Runner, origins: list[str] | None, origin: str | None = None) -> connection.S3Probe:
    probe = connection.S3Probe(settings, settings.bucket or "")
    run.run("configuration", lambda: connection.configuration(probe), fatal=True)
    run.run("endpoint", lambda: endpoint.reachable(probe), fatal=True)
    run.run("credentials", lambda: connection.credentials(probe), fatal=True)
    run.run("bucket", lambda: connection.reachable(probe), fatal=True)
    run.run("round-trip", lambda: connection.round_trip(probe))
    run.run("encryption", lambda: bucket_settings.encrypted(probe), needs=["round-trip"])
    run.run("lifecycle", lambda: bucket_settings.lifecycle(probe))
    run.run("cors", lambda: bucket_settings.cors(probe, origins))
    if origin:
        run.run("cors-preflight", lambda: cors_preflight(settings, origin, probe.s3))
    run.run("public-access", lambda: bucket_settings.public_access(probe))
    run.run("iam-permissions", lambda: bucket_settings.permissions(probe), needs=["credentials"])
    if probe.key:  # also after a failed round trip: whatever was written must go
        run.run("cleanup", lambda: connection.cleanup(probe))
    else:
        run.run("cleanup", lambda: "", needs=["round-trip"])
    return probe


class _CallableModule(types.ModuleType):
    """``drumscribe.doctor`` names both this package and the ``doctor()`` function (the public API
    says so), as ``drumscribe.sync`` does: Python binds the *package* to ``drumscribe.doctor``
    whenever a submodule (``drumscribe.doctor.security``...) is imported, so the package itself is
    the public object, and calling it runs ``doctor()``."""

    def __call__(self, *args: Any, **kwargs: Any) -> DoctorReport:
        return _doctor(*args, **kwargs)


_doctor = doctor
sys.modules[__name__].__class__ = _CallableModule
doctor = sys.modules[__name__]  # type: ignore[assignment]  # ``from drumscribe import doctor`` yields the callable package
_CallableModule.__call__.__signature__ = inspect.signature(_doctor)  # type: ignore[attr-defined]
