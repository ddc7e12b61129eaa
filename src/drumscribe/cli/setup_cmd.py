"""``drumscribe setup [STEP]`` and ``drumscribe iam rotate-key``: provision the bucket and app key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from drumscribe.cli.app import app, err, out, settings_from

setup_app = typer.Typer(
    help="Create and secure the S3 bucket and the app's IAM user. Safe to run again: only what differs is changed.",
    invoke_without_command=True,
    no_args_is_help=False,
)
iam_app = typer.Typer(help="Manage the app's IAM access key.", no_args_is_help=True)
app.add_typer(setup_app, name="setup")
app.add_typer(iam_app, name="iam")

STEP_HELP = {
    "bucket": "Create the bucket (if missing) with ACLs disabled (Object Ownership: BucketOwnerEnforced).",
    "block-public": "Turn on all four S3 public access block flags.",
    "encryption": "Default encryption: AES256, or SSE-KMS with a bucket key when --kms-key-id is given.",
    "tls-policy": "Bucket policy that denies every request not made over TLS (skipped, with a warning, through a plain http:// endpoint; --remove takes it out).",
    "lifecycle": "Apply lifecycle-policy.json: temp/ deleted after 1 day, processed/ (results) after 30 days, uploads/ (originals) "
                 "kept until you delete them; unfinished multipart uploads aborted after 1 day.",
    "cors": "Apply cors-config.json (AllowedOrigins from --origins if given).",
    "iam": "Policy DrumTranscriptionS3Policy (one policy for every bucket set up: this bucket is added, none removed) + user "
    "drum-transcription-app + an access key written to .env (mode 0600), unless a working key of that user is already there.",
}

STATUS_STYLE = {"changed": "yellow", "in place": "green", "would change (dry run)": "cyan", "skipped": "dim"}

_BUCKET = typer.Option(None, "--bucket", metavar="BUCKET", help="Bucket to set up (default: AWS_S3_BUCKET).")
_REGION = typer.Option(None, "--region", metavar="REGION", help="Region for the bucket (default: AWS_REGION, else us-east-1).")
_DRY = typer.Option(False, "--dry-run", help="Show what would change and the API calls with their documents; change nothing.")
_ORIGINS = typer.Option(None, "--origins", metavar="ORIGINS", help="CORS AllowedOrigins (repeat or comma-separate); default: those in cors-config.json.")
_NO_TLS = typer.Option(False, "--no-tls-policy", help="Skip the bucket policy that denies non-TLS requests (through an http:// endpoint it is skipped anyway, with a warning).")
_IA = typer.Option(
    None,
    "--infrequent-access/--no-infrequent-access",
    help="Also move uploads/ to STANDARD_IA after 30 days (the earliest S3 allows). Only uploads/: temp/ expires after 1 day "
    "and processed/ after 30, so a transition there would never save anything. Default: keep whichever is in place.",
)
_KMS = typer.Option(None, "--kms-key-id", metavar="KMS_KEY", help="Encrypt with this KMS key (SSE-KMS, bucket key on) instead of AES256.")
_ENV = typer.Option(Path(".env"), "--env-file", metavar="FILE", help="Where the iam step writes the new key (kept 0600, old file backed up to .bak).")
_SHOW = typer.Option(False, "--show-secret", help="Also print the new secret access key (it is always written to the .env file).")


def _origins(values: Optional[List[str]]) -> Optional[list[str]]:
    if not values:
        return None
    return [o.strip() for v in values for o in v.split(",") if o.strip()]


def _print_results(results, *, dry_run: bool, show_secret: bool) -> None:
    table = Table(title="drumscribe setup" + (" (dry run: nothing changed)" if dry_run else ""), title_justify="left")
    table.add_column("step")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for r in results:
        table.add_row(r.step, f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]", r.detail)
    out.print(table)
    if dry_run:
        for r in results:
            for c in r.calls:
                out.print(f"[bold]{c.service} {c.operation}[/]", markup=True)
                out.print(json.dumps(c.params, indent=2, default=str), markup=False)
    for r in results:
        if r.warning:
            err.print(f"[yellow]warning:[/] {r.warning}", markup=True)
    for r in results:
        if r.backup:
            out.print(f"previous {r.env_file} saved as {r.backup} (mode 0600)")
        if r.secret_access_key:
            if show_secret:
                out.print(f"AWS_SECRET_ACCESS_KEY={r.secret_access_key}", markup=False)
            else:
                out.print(f"the secret is in {r.env_file} only (use --show-secret to print it)")


def step_options(ctx: typer.Context, bucket, region, dry_run, env_file=None):
    """(settings, dry_run, env_file) of a step command, with the options given before its name.

    `setup --dry-run cors` must not silently ignore --dry-run: options given before the step name
    apply too (the step's own options win where both are given).
    """
    parent = ctx.meta.get("drumscribe.setup", {})
    bucket, region = bucket or parent.get("bucket"), region or parent.get("region")
    dry_run = dry_run or parent.get("dry_run", False)
    if env_file == Path(".env"):
        env_file = parent.get("env_file", env_file)
    return settings_from(ctx, bucket=bucket, region=region), dry_run, env_file


def _run(ctx: typer.Context, steps, bucket, region, dry_run, origins, no_tls_policy, infrequent_access, kms_key_id, env_file, show_secret, **extra) -> None:
    from drumscribe.provision import setup

    settings, dry_run, env_file = step_options(ctx, bucket, region, dry_run, env_file)
    parent = ctx.meta.get("drumscribe.setup", {})
    origins = origins or parent.get("origins")
    infrequent_access = parent.get("infrequent_access") if infrequent_access is None else infrequent_access
    kms_key_id = kms_key_id or parent.get("kms_key_id")
    show_secret = show_secret or parent.get("show_secret", False)
    done = []
    try:
        setup(
            steps=steps,
            dry_run=dry_run,
            origins=_origins(origins),
            tls_policy=not no_tls_policy,
            settings=settings,
            infrequent_access=infrequent_access,
            kms_key_id=kms_key_id,
            env_file=env_file,
            on_step=done.append,
            **extra,  # options of the commands in setup_security_cmd.py (archive...)
        )
    finally:
        if done:  # show what was done even when a later step failed
            _print_results(done, dry_run=dry_run, show_secret=show_secret)
    if not dry_run:
        _offer_offline_push(settings)


def _offer_offline_push(settings) -> None:
    """Work made before this bucket existed is not in it: print the one command that sends it."""
    from drumscribe.storage import offline_root
    from drumscribe.sync import offline_jobs_to_push

    jobs = len(offline_jobs_to_push(settings))
    if jobs:
        out.print(f"{jobs} job(s) made offline are in {offline_root(settings)}. To send them (and their originals) to "
                  f"s3://{settings.bucket}:", markup=False)
        out.print("  drumscribe sync push --from-local", markup=False)
        out.print("(content-based: safe to run again; nothing is deleted on either side)", markup=False)


@setup_app.callback()
def setup_all(
    ctx: typer.Context,
    bucket: Optional[str] = _BUCKET,
    region: Optional[str] = _REGION,
    dry_run: bool = _DRY,
    origins: Optional[List[str]] = _ORIGINS,
    no_tls_policy: bool = _NO_TLS,
    infrequent_access: Optional[bool] = _IA,
    kms_key_id: Optional[str] = _KMS,
    env_file: Path = _ENV,
    show_secret: bool = _SHOW,
) -> None:
    """Run every step in order: bucket, block-public, encryption, tls-policy, lifecycle, cors, iam.

    Each step is also a sub-command (e.g. `drumscribe setup cors --origins https://app.example`).
    """
    if ctx.invoked_subcommand is not None:
        ctx.meta["drumscribe.setup"] = dict(
            bucket=bucket, region=region, dry_run=dry_run, origins=origins, infrequent_access=infrequent_access,
            kms_key_id=kms_key_id, env_file=env_file, show_secret=show_secret,
        )
    else:
        _run(ctx, None, bucket, region, dry_run, origins, no_tls_policy, infrequent_access, kms_key_id, env_file, show_secret)


def _step_command(step: str):
    def command(
        ctx: typer.Context,
        bucket: Optional[str] = _BUCKET,
        region: Optional[str] = _REGION,
        dry_run: bool = _DRY,
        origins: Optional[List[str]] = _ORIGINS,
        infrequent_access: Optional[bool] = _IA,
        kms_key_id: Optional[str] = _KMS,
        env_file: Path = _ENV,
        show_secret: bool = _SHOW,
    ) -> None:
        _run(ctx, [step], bucket, region, dry_run, origins, False, infrequent_access, kms_key_id, env_file, show_secret)

    command.__doc__ = STEP_HELP[step]
    command.__name__ = f"setup_{step.replace('-', '_')}"
    return command


OWN_COMMANDS = {"lifecycle", "iam"}  # they take more options: defined in setup_security_cmd.py

for _step in STEP_HELP:
    if _step not in OWN_COMMANDS and _step != "tls-policy":  # tls-policy has its own command below (--remove)
        setup_app.command(_step, help=STEP_HELP[_step])(_step_command(_step))


@setup_app.command("tls-policy", help=STEP_HELP["tls-policy"])
def setup_tls_policy(
    ctx: typer.Context,
    bucket: Optional[str] = _BUCKET,
    region: Optional[str] = _REGION,
    dry_run: bool = _DRY,
    remove: bool = typer.Option(False, "--remove", help="Take the TLS-only statement out of the bucket policy (other statements stay; "
                                "an empty policy is deleted). The fix for a bucket set up through a plain-HTTP endpoint."),
) -> None:
    if not remove:
        _run(ctx, ["tls-policy"], bucket, region, dry_run, None, False, None, None, Path(".env"), False)
        return
    from drumscribe.provision import remove_tls_policy

    settings, dry_run, _ = step_options(ctx, bucket, region, dry_run)
    result = remove_tls_policy(dry_run=dry_run, settings=settings)
    _print_results([result], dry_run=dry_run, show_secret=False)


@iam_app.command("rotate-key")
def rotate_key_cmd(
    ctx: typer.Context,
    bucket: Optional[str] = typer.Option(None, "--bucket", metavar="BUCKET", help="Bucket the new key must be able to list (default: AWS_S3_BUCKET in the .env file)."),
    region: Optional[str] = _REGION,
    env_file: Path = typer.Option(Path(".env"), "--env-file", metavar="FILE", help="The .env holding the key to replace."),
    show_secret: bool = _SHOW,
    timeout: float = typer.Option(30.0, "--timeout", metavar="SECONDS", min=0, help="Seconds to keep retrying while IAM propagates the new key."),
) -> None:
    """Create a new key for drum-transcription-app, write it to .env, prove it works, then delete the old one.

    If the new key cannot be verified, .env is restored and the new key deleted: the old one keeps working.
    Run with administrator credentials (--profile, or exported AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
    """
    from drumscribe.provision import rotate_key
    from drumscribe.provision.iam import short

    settings = settings_from(ctx, region=region)
    rot = rotate_key(bucket=bucket, settings=settings, env_file=env_file, timeout=timeout)
    out.print(f"new key {short(rot.new_key_id)} written to {rot.env_file} (mode 0600) and verified; old key {short(rot.old_key_id)} deleted")
    if rot.backup:
        out.print(f"previous {rot.env_file} saved as {rot.backup} (mode 0600)")
    if show_secret:
        out.print(f"AWS_SECRET_ACCESS_KEY={rot.secret_access_key}", markup=False)
    else:
        err.print(f"the secret is in {rot.env_file} only (use --show-secret to print it)")
