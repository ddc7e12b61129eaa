"""The guide's monitoring and security practices as ``drumscribe setup`` steps.

``setup monitoring``, ``setup ip-allowlist``, ``setup iam --role`` and ``setup lifecycle
--archive-uploads-after``: thin wrappers over ``provision.monitoring``, ``allowlist``, ``roles``
and ``archive``, printing the same table as every other setup step.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from drumscribe.cli.app import err
from drumscribe.cli.setup_cmd import (
    _BUCKET, _DRY, _ENV, _IA, _KMS, _ORIGINS, _REGION, _SHOW, STEP_HELP, _print_results, _run, setup_app, step_options,
)
from drumscribe.errors import ConfigError


@setup_app.command("lifecycle")
def setup_lifecycle(
    ctx: typer.Context,
    bucket: Optional[str] = _BUCKET,
    region: Optional[str] = _REGION,
    dry_run: bool = _DRY,
    infrequent_access: Optional[bool] = _IA,
    archive_after: Optional[int] = typer.Option(
        None, "--archive-uploads-after", metavar="DAYS",
        help="Also move uploads/ (the originals, which never expire) to --archive-class after DAYS days. The guide's expirations stay.",
    ),
    archive_class: Optional[str] = typer.Option(
        None, "--archive-class", metavar="CLASS",
        help="STANDARD_IA (30 days at least), INTELLIGENT_TIERING, GLACIER_IR (default: read back at once), GLACIER or DEEP_ARCHIVE "
        "(both need `drumscribe restore` before an original can be read again).",
    ),
    no_archive: bool = typer.Option(False, "--no-archive", help="Remove the uploads/ archive rule. Without any archive option the rule in place is kept."),
) -> None:
    """Apply lifecycle-policy.json: temp/ deleted after 1 day, processed/ (results) after 30 days, uploads/ (originals) kept until you delete them; unfinished multipart uploads aborted after 1 day. Optionally archive uploads/ after N days."""
    _run(ctx, ["lifecycle"], bucket, region, dry_run, None, False, infrequent_access, None, Path(".env"), False,
         archive_uploads_after=archive_after, archive_class=archive_class, remove_archive=no_archive)


@setup_app.command("iam")
def setup_iam(
    ctx: typer.Context,
    bucket: Optional[str] = _BUCKET,
    region: Optional[str] = _REGION,
    dry_run: bool = _DRY,
    origins: Optional[List[str]] = _ORIGINS,
    kms_key_id: Optional[str] = _KMS,
    env_file: Path = _ENV,
    show_secret: bool = _SHOW,
    role: Optional[str] = typer.Option(
        None, "--role", metavar="KIND",
        help="ec2, ecs or lambda: instead of a user and key, a role that EC2 (with an instance profile), ECS tasks or Lambda assume, with the same policy. "
        "No key is created; .env gets only AWS_S3_BUCKET and AWS_REGION.",
    ),
    remove: bool = typer.Option(False, "--remove", help="With --role: delete that role (and its instance profile); the policy stays."),
) -> None:
    """Policy DrumTranscriptionS3Policy + user drum-transcription-app + an access key written to .env (mode 0600); or, with --role, a role."""
    if role is None:
        if remove:
            raise ConfigError("--remove needs --role ec2|ecs|lambda", hint="the user and its key are removed by hand; see docs/security.md")
        _run(ctx, ["iam"], bucket, region, dry_run, origins, False, None, kms_key_id, env_file, show_secret)
        return
    from drumscribe.provision.roles import setup_role

    settings, dry_run, env_file = step_options(ctx, bucket, region, dry_run, env_file)
    result = setup_role(role, remove=remove, settings=settings, dry_run=dry_run, env_file=env_file)
    _print_results([result], dry_run=dry_run, show_secret=False)


@setup_app.command("monitoring")
def setup_monitoring_cmd(
    ctx: typer.Context,
    email: Optional[str] = typer.Option(None, "--email", metavar="ADDRESS", help="Where alerts go (SNS email subscription; AWS first mails a confirmation link)."),
    max_size_gb: float = typer.Option(50.0, "--max-size-gb", metavar="GB", help="Alarm when the bucket holds more (STANDARD storage, daily average)."),
    max_4xx: int = typer.Option(100, "--max-4xx", metavar="N", help="Alarm on more client errors (403, 404...) in 5 minutes."),
    max_5xx: int = typer.Option(10, "--max-5xx", metavar="N", help="Alarm on more server errors in 5 minutes."),
    max_download_gb: float = typer.Option(5.0, "--max-download-gb-per-hour", metavar="GB", help="Alarm on more bytes downloaded in an hour (unusual activity)."),
    max_requests: int = typer.Option(5000, "--max-requests", metavar="N", help="Alarm on more requests in 5 minutes (unusual activity)."),
    remove: bool = typer.Option(False, "--remove", help="Delete the alarms, the request metrics (their cost stops) and the topic."),
    bucket: Optional[str] = _BUCKET,
    region: Optional[str] = _REGION,
    dry_run: bool = _DRY,
) -> None:
    """CloudWatch alarms on bucket size, 4xx/5xx errors and unusual downloads or requests, mailed via an SNS topic.

    Turns on S3 request metrics for the bucket: billed as 16 CloudWatch custom metrics, at most
    about $4.80 a month (only for hours with requests), plus $0.10 a month per alarm (5).
    """
    from drumscribe.provision.monitoring import Thresholds, setup_monitoring

    settings, dry_run, _ = step_options(ctx, bucket, region, dry_run)
    thresholds = Thresholds(size_gb=max_size_gb, errors_4xx=max_4xx, errors_5xx=max_5xx, download_gb_per_hour=max_download_gb, requests=max_requests)
    result = setup_monitoring(email, thresholds=thresholds, remove=remove, settings=settings, dry_run=dry_run)
    _print_results([result], dry_run=dry_run, show_secret=False)


@setup_app.command("ip-allowlist")
def setup_ip_allowlist_cmd(
    ctx: typer.Context,
    cidrs: Optional[List[str]] = typer.Argument(None, metavar="CIDR...", help="IPv4/IPv6 ranges (203.0.113.0/24, 2001:db8::/32) or addresses.", show_default=False),
    remove: bool = typer.Option(False, "--remove", help="Take the allowlist statement out of the bucket policy (other statements stay)."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: requests from anywhere else are denied, yours and your administrators' included."),
    bucket: Optional[str] = _BUCKET,
    region: Optional[str] = _REGION,
    dry_run: bool = _DRY,
) -> None:
    """Bucket-policy statement that denies every request from outside the given ranges.

    Merged by its Sid: the TLS-only statement and any other stay. Locked out? The account root user
    can always delete a bucket policy: `aws s3api delete-bucket-policy --bucket BUCKET` as root.
    """
    from drumscribe.provision.allowlist import parse_cidrs, private_ranges, setup_ip_allowlist

    settings, dry_run, _ = step_options(ctx, bucket, region, dry_run)
    if not remove:
        ranges = parse_cidrs(cidrs or [])
        preview = setup_ip_allowlist(ranges, settings=settings, dry_run=True)
        if preview.changed and not dry_run:
            _warn(ranges, private_ranges(ranges), settings.bucket)
            if not yes:
                raise ConfigError("nothing changed", hint="check the ranges above, then run again with --yes")
        if dry_run or not preview.changed:
            _print_results([preview], dry_run=dry_run, show_secret=False)
            return
    result = setup_ip_allowlist(cidrs or [], remove=remove, yes=yes, settings=settings, dry_run=dry_run)
    _print_results([result], dry_run=dry_run, show_secret=False)


def _warn(ranges: list[str], private: list[str], bucket: str | None) -> None:
    from drumscribe.provision.allowlist import RECOVERY

    table = Table(title=f"only these ranges will reach s3://{bucket}", title_justify="left")
    table.add_column("allowed source range")
    for r in ranges:
        table.add_row(r + ("  [yellow](private: S3 never sees it as a source address)[/]" if r in private else ""))
    err.print(table)
    err.print("[bold yellow]warning:[/] every other address is denied, including yours and your administrators'. "
              f"If you lock yourself out: {escape(RECOVERY.format(bucket=bucket))}.")


def _in_documented_order() -> None:
    """`setup --help` lists the guide's steps in the order `setup` runs them, then the new ones."""
    order = [*STEP_HELP, "monitoring", "ip-allowlist"]
    setup_app.registered_commands.sort(key=lambda c: order.index(c.name) if c.name in order else len(order))


_in_documented_order()
