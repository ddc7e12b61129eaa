"""``setup ip-allowlist``: a bucket-policy statement that denies requests from outside given ranges.

The guide's last security practice: "use bucket policies to restrict access by IP if needed".
Off AWS there is no root user to fall back on: on Ceph RGW the Deny shuts out the bucket owner's
policy calls too, and the way back is RGW's system flag (``recovery()`` says so per platform).

The statement has its own Sid and is merged into the bucket policy by that Sid, so it never
replaces the TLS-only statement (``tls-policy``) or anyone else's, and ``--remove`` takes out
only this statement (the policy is deleted when nothing else is left in it).

A Deny on ``aws:SourceIp`` applies to everyone, administrators included: applied from an address
outside the ranges, it locks the caller out of the bucket. The account's root user can always
delete a bucket policy, even one that denies it everything, so the way back is to sign in as root
and run ``aws s3api delete-bucket-policy --bucket BUCKET`` (or delete it in the S3 console under
Permissions -> Bucket policy). That is why applying it requires ``yes=True`` (``--yes``).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Iterable

from drumscribe.errors import AccessDeniedError, ConfigError, ProvisioningError
from drumscribe.provision.base import Plan, Recorder, StepResult, read_or_none, write_bucket_policy
from drumscribe.provision.policy import deny_statement, find_statement, put_statement, remove_statement, same_statement

SID = "DenyOutsideIpAllowlist"
# Ranges S3 never sees as a source address (requests reach it from public addresses, or through a
# VPC endpoint, where aws:SourceIp is absent); allowing only these would deny everything.
_NOT_ON_THE_INTERNET = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")]
RECOVERY = "the account root user can always delete the bucket policy: `aws s3api delete-bucket-policy --bucket {bucket}` with root credentials"
# Off AWS there is no root user; the Deny covers the bucket owner's policy calls too (Ceph RGW: tested).
RECOVERY_ON = {
    "ceph": "on a Ceph admin node, `radosgw-admin user modify --uid OWNER --system` lets the bucket owner past the policy: "
            "run `drumscribe setup ip-allowlist --remove --bucket {bucket}` with the owner's key, then "
            "`radosgw-admin user modify --uid OWNER --system=0`",
    # an endpoint of unknown kind may be AWS-like (moto, LocalStack) or not: both ways back
    "other": RECOVERY + "; on storage that is not AWS its administrator must delete the bucket policy of {bucket} "
             "(its owner is denied too)",
}


def recovery(bucket: str | None, platform: str = "aws") -> str:
    """How to get back in after locking yourself out, on this platform."""
    text = RECOVERY if platform == "aws" else RECOVERY_ON.get(platform, RECOVERY_ON["other"])
    return text.format(bucket=bucket or "BUCKET")


def parse_cidrs(values: Iterable[str]) -> list[str]:
    """Validated, de-duplicated ranges (IPv4 and IPv6); a bare address means that one address."""
    found: list[str] = []
    for raw in values:
        for text in str(raw).replace(",", " ").split():
            try:
                network = ipaddress.ip_network(text, strict=True)
            except ValueError as exc:
                try:  # host bits set: say which network was meant
                    meant = ipaddress.ip_network(text, strict=False)
                except ValueError:
                    raise ConfigError(f"{text!r} is not an IPv4 or IPv6 address or CIDR range ({exc})") from None
                raise ConfigError(f"{text!r} has host bits set", hint=f"did you mean {meant}?") from None
            if network.is_loopback or network.is_link_local or network.is_multicast or network.is_unspecified:
                raise ConfigError(f"{text} can never be the source of a request to S3")
            if str(network) not in found:
                found.append(str(network))
    if not found:
        raise ConfigError("no IP ranges given", hint="e.g. drumscribe setup ip-allowlist 203.0.113.0/24 2001:db8::/32 --yes")
    return found


def private_ranges(cidrs: Iterable[str]) -> list[str]:
    """The ranges S3 will not see as a source address (private networks), for a warning."""
    return [c for c in cidrs if any(ipaddress.ip_network(c).subnet_of(n) for n in _NOT_ON_THE_INTERNET if ipaddress.ip_network(c).version == n.version)]


def statement(bucket: str, cidrs: list[str]) -> dict[str, Any]:
    return deny_statement(SID, bucket, {"NotIpAddress": {"aws:SourceIp": list(cidrs)}})


def allowed_ranges(policy: dict | None) -> list[str]:
    """The ranges our statement in ``policy`` allows (empty if it is not there)."""
    found = find_statement(policy, SID)
    ranges = ((found or {}).get("Condition", {}).get("NotIpAddress", {}).get("aws:SourceIp")) or []
    return [ranges] if isinstance(ranges, str) else list(ranges)


# -- the step ---------------------------------------------------------------------------------------


def _current_policy(plan: Plan) -> dict | None:
    got = read_or_none(plan.s3.get_bucket_policy, ("NoSuchBucketPolicy",), plan=plan, what="read bucket policy of", Bucket=plan.bucket)
    return json.loads(got["Policy"]) if got else None


def step_ip_allowlist(plan: Plan, cidrs: Iterable[str] = (), *, remove: bool = False, yes: bool = False) -> StepResult:
    """Add (or replace) the allowlist statement, or with ``remove`` take it out; other statements stay."""
    call = Recorder(plan, "s3")
    current = _current_policy(plan)
    changes: list[str] = []
    if remove:
        if find_statement(current, SID) is not None:
            rest = remove_statement(current, SID)
            if rest is None:
                call("delete_bucket_policy", Bucket=plan.bucket)
                changes.append(f"statement {SID} removed (it was the only one: bucket policy deleted)")
            else:
                write_bucket_policy(plan, call, rest)
                changes.append(f"statement {SID} removed ({len(rest['Statement'])} other statement(s) kept)")
        return call.result("ip-allowlist", changes, f"no {SID} statement in the bucket policy")
    ranges = parse_cidrs(cidrs)
    want = statement(plan.bucket, ranges)
    if not same_statement(find_statement(current, SID), want):
        if not (yes or plan.dry_run):
            raise ConfigError(
                f"this denies every request to s3://{plan.bucket} from outside {', '.join(ranges)}, yours and your administrators' included",
                hint="check that you are inside these ranges, then pass --yes (yes=True); " + recovery(plan.bucket, plan.provider),
            )
        policy = put_statement(current, want)
        write_bucket_policy(plan, call, policy)
        kept = len(policy["Statement"]) - 1
        changes.append(f"bucket policy: deny requests from outside {', '.join(ranges)}" + (f" ({kept} other statement(s) kept)" if kept else ""))
        if not plan.dry_run:
            try:
                back = _current_policy(plan)
            except AccessDeniedError:  # the statement is in force, and this caller is outside the ranges
                result = call.result("ip-allowlist", changes, "")
                result.detail += "; in force: this endpoint now refuses your own requests too (you are outside these ranges)"
                result.warning = f"you are outside the ranges you allowed, so s3://{plan.bucket} refuses you now; " + recovery(plan.bucket, plan.provider)
                return result
            if not same_statement(find_statement(back, SID), want):
                raise ProvisioningError(f"the IP allowlist on {plan.bucket!r} did not read back as written")
    return call.result("ip-allowlist", changes, f"bucket policy denies requests from outside {', '.join(ranges)}")


def setup_ip_allowlist(
    cidrs: Iterable[str] = (),
    *,
    remove: bool = False,
    yes: bool = False,
    bucket: str | None = None,
    region: str | None = None,
    settings=None,
    dry_run: bool = False,
) -> StepResult:
    """Deny requests to the bucket from outside ``cidrs`` (IPv4/IPv6); ``yes=True`` confirms the lock-out risk.

    ``remove=True`` takes the statement out again. Other bucket-policy statements are kept.
    """
    from drumscribe.provision.run import run_step

    if remove and list(cidrs):
        raise ConfigError("--remove takes no ranges: it removes the whole allowlist statement")
    cidrs = [] if remove else parse_cidrs(cidrs)  # bad input fails before any request
    return run_step("ip-allowlist", step_ip_allowlist, bucket=bucket, region=region, settings=settings, dry_run=dry_run, cidrs=cidrs, remove=remove, yes=yes)
