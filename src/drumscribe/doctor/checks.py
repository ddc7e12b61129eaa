"""The doctor's table and its rows: a ``Check`` per row, the ``DoctorReport`` that holds them, and
the ``Runner`` that runs a check function and files what happened (pass, fail with a fix, skip).

Every other module of the package writes its checks as plain functions that return the detail of a
pass or raise ``Failed``/``Skipped``/``NotApplicable``; only this one knows how a row is made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import botocore.exceptions as bexc

from drumscribe.errors import DrumscribeError
from drumscribe.provision.base import translate

PASS, FAIL, SKIP = "pass", "fail", "skip"
WARN = "warn"  # a security practice missing (security.py), or a storage check the endpoint cannot support: nothing broken
BOTO_ERRORS = (bexc.ClientError, bexc.BotoCoreError)
# Doctor should answer quickly when the endpoint is down, not back off for a minute.
QUICK = {"retries": {"max_attempts": 2, "mode": "standard"}, "read_timeout": 20}


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
    security: list[Check] = field(default_factory=list)  # security.py: pass, warn, skip or fail
    capabilities: list[Check] = field(default_factory=list)  # endpoint.py, off AWS: pass = supported, warn = not

    @property
    def ok(self) -> bool:
        # "exit 0 only if all pass": a skipped check is not a pass. A warning is a check the endpoint
        # cannot support (Ceph RGW has no default encryption): said, with how to get it, not failed.
        # Security checks only count when they fail: a warning is advice, and "no permission" is
        # what a least-privilege key gets.
        return (bool(self.checks) and all(c.status in (PASS, WARN) for c in self.checks)
                and all(c.status != FAIL for c in self.security))

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "backend": self.backend, "info": self.info, "checks": [asdict(c) for c in self.checks],
                "security": [asdict(c) for c in self.security], "capabilities": [asdict(c) for c in self.capabilities]}


class Failed(Exception):
    """A check failed; carries the line to show and the fix."""

    def __init__(self, detail: str, hint: str = ""):
        super().__init__(detail)
        self.detail, self.hint = detail, hint


class Skipped(Exception):
    pass


class Unsupported(Failed):
    """The endpoint does not have what the check looks for (``provision.support``): a warning row
    saying what that means and how to get it on that platform, not a failure."""


class NotApplicable(Exception):
    """An optional check could not run here (e.g. no permission to simulate): said in ``info``,
    not shown as a skipped check, so it never makes the report fail."""


def message(exc: BaseException, **where: Any) -> str:
    if isinstance(exc, DrumscribeError):
        return str(exc)
    return str(translate(exc, **where))


class Runner:
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
        except Skipped as exc:
            self.report.checks.append(Check(name, SKIP, str(exc)))
        except NotApplicable as exc:
            self.report.info.append(f"{name}: skipped: {exc}")
            return False
        except Unsupported as exc:
            self.report.checks.append(Check(name, WARN, exc.detail, exc.hint))
            return True
        except Failed as exc:
            self.report.checks.append(Check(name, FAIL, exc.detail, exc.hint))
        except DrumscribeError as exc:
            self.report.checks.append(Check(name, FAIL, str(exc)))
        except (OSError, *BOTO_ERRORS) as exc:  # anything unforeseen is still a failed check, not a crash
            self.report.checks.append(Check(name, FAIL, f"{type(exc).__name__}: {exc}"))
        if fatal:
            self.blocked = name
        return False

    def passed(self, name: str) -> bool:
        return any(c.name == name and c.status in (PASS, WARN) for c in self.report.checks)
