"""Run one setup step that takes options of its own (monitoring, ip-allowlist, roles).

``setup()`` runs the guide's steps, whose options live on ``Plan``; the steps added for the
guide's monitoring and security practices take their options as arguments instead, so each has
a library function of its own (``setup_monitoring``, ``setup_ip_allowlist``, ``setup_role``)
built on this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import botocore.exceptions as bexc

from drumscribe.config import Settings
from drumscribe.provision.base import Plan, StepResult, translate


def run_step(
    name: str,
    step: Callable[..., StepResult],
    *,
    bucket: str | None = None,
    region: str | None = None,
    settings: Settings | None = None,
    dry_run: bool = False,
    env_file: str | Path = ".env",
    **options: Any,
) -> StepResult:
    """Build the plan as ``setup()`` does and run ``step(plan, **options)``; AWS errors become one line."""
    from drumscribe.provision import make_plan  # the package imports this module's users

    plan: Plan = make_plan(bucket=bucket, region=region, settings=settings, env_file=env_file, dry_run=dry_run)
    return run_planned(plan, name, step, **options)


def run_planned(plan: Plan, name: str, step: Callable[..., StepResult], **options: Any) -> StepResult:
    """``step(plan, **options)``: an API the endpoint does not have (Ceph's CloudWatch...) becomes a
    row saying so and setup goes on; any other AWS error becomes one line."""
    from drumscribe.errors import DrumscribeError
    from drumscribe.provision import support

    try:
        return step(plan, **options)
    except (DrumscribeError, bexc.ClientError) as exc:
        row = support.step_unsupported(name, exc, plan.provider, plan.bucket) if plan.provider != "aws" else None
        if row is not None:
            return row
        if isinstance(exc, DrumscribeError):
            raise
        raise translate(exc, bucket=plan.bucket, action=f"set up {name} on") from exc
    except bexc.BotoCoreError as exc:
        raise translate(exc, bucket=plan.bucket, action=f"set up {name} on") from exc
