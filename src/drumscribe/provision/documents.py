"""The documents setup applies, loaded from the package, and how to compare them with AWS's copy.

The three JSON files (``lifecycle-policy.json``, ``cors-config.json``, ``iam-policy.json``) are kept
once, at the repository root, exactly as in the original S3 setup guide; they name the guide's
example bucket ``drum-transcription-bucket``, which is replaced by the real bucket name when a
document is loaded. The TLS-only bucket policy is built here because it has nothing to tune.

AWS hands configurations back reshaped (IDs added, lists reordered, an empty filter written
differently), so ``normalize_*`` reduce both sides to what matters before comparing; setup uses
that to decide "already in place" and doctor to decide pass or fail.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any, Iterable

from drumscribe.provision import policy
from drumscribe.provision.policy import listify as _listify
from drumscribe.provision.policy import sort_all as _canon

PLACEHOLDER_BUCKET = "drum-transcription-bucket"
LIFECYCLE = "lifecycle-policy.json"
CORS = "cors-config.json"
IAM_POLICY = "iam-policy.json"

POLICY_NAME = "DrumTranscriptionS3Policy"
USER_NAME = "drum-transcription-app"
TLS_STATEMENT_ID = "DenyInsecureTransport"
IA_RULE_ID = "UploadsToInfrequentAccess"
IA_DAYS = 30  # S3 refuses STANDARD_IA transitions sooner than 30 days after creation


def raw_text(name: str) -> str:
    """The packaged document exactly as written (same bytes as the repository-root file)."""
    return resources.files("drumscribe.documents").joinpath(name).read_text(encoding="utf-8")


def _substitute(value: Any, bucket: str) -> Any:
    if isinstance(value, str):
        return value.replace(PLACEHOLDER_BUCKET, bucket)
    if isinstance(value, list):
        return [_substitute(v, bucket) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, bucket) for k, v in value.items()}
    return value


def load(name: str, bucket: str | None = None) -> dict[str, Any]:
    """A document as a dict, with the guide's bucket name replaced by ``bucket``."""
    doc = json.loads(raw_text(name))
    return _substitute(doc, bucket) if bucket else doc


def lifecycle(*, infrequent_access: bool = False) -> dict[str, Any]:
    doc = load(LIFECYCLE)
    if infrequent_access:
        # Only uploads/ lives long enough to benefit: temp/ expires after 1 day and processed/
        # after 30, the earliest day STANDARD_IA allows, so a transition there would never pay.
        doc["Rules"].append(
            {
                "ID": IA_RULE_ID,
                "Status": "Enabled",
                "Filter": {"Prefix": "uploads/"},
                "Transitions": [{"Days": IA_DAYS, "StorageClass": "STANDARD_IA"}],
            }
        )
    return doc


def describe_lifecycle(doc: dict[str, Any]) -> str:
    """What the rules do, in words, from the document itself: which prefix expires when, and what never does."""
    expiry: dict[str, int] = {}
    moves: dict[str, str] = {}
    abort = None
    for rule in doc.get("Rules", ()):
        if rule.get("Status") != "Enabled":
            continue
        prefix = (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))
        if "Expiration" in rule and "Days" in rule["Expiration"]:
            expiry[prefix] = int(rule["Expiration"]["Days"])
        for t in rule.get("Transitions", ()):
            moves[prefix] = f"moves to {t['StorageClass']} after {t['Days']} days"
        if "AbortIncompleteMultipartUpload" in rule:
            abort = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
    parts = []
    for prefix in ("temp/", "processed/", "uploads/"):
        days = expiry.get(prefix)
        what = f"{prefix} deleted after {days} day{'s' if days != 1 else ''}" if days else f"{prefix} kept until you delete it"
        parts.append(what + (f" ({moves[prefix]})" if prefix in moves else ""))
    if abort:
        parts.append(f"unfinished multipart uploads aborted after {abort} day{'s' if abort != 1 else ''}")
    return "; ".join(parts)


def cors(origins: Iterable[str] | None = None) -> dict[str, Any]:
    doc = load(CORS)
    if origins:
        for rule in doc["CORSRules"]:
            rule["AllowedOrigins"] = [normalize_origin(o) for o in origins]
    return doc


def normalize_origin(origin: str) -> str:
    """An origin as a browser sends it: ``scheme://host[:port]``; a trailing slash is dropped (the
    browser's Origin never has one, so a rule with it would match nothing). ``*`` passes."""
    import urllib.parse

    from drumscribe.errors import ConfigError

    text = str(origin).strip()
    if text == "*":
        return text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{origin!r} is not an origin", hint="use scheme://host[:port], e.g. http://127.0.0.1:8000")
    return f"{parts.scheme}://{parts.netloc}"


def iam_policy(*buckets: str) -> dict[str, Any]:
    """The app's IAM policy for one bucket, or for several: each statement then lists every bucket.

    One policy covers every bucket set up for the app user, so setting up a second bucket adds it
    instead of taking the first one's access away (see docs/security.md).
    """
    if not buckets:
        raise ValueError("iam_policy needs at least one bucket")
    if len(buckets) == 1:
        return load(IAM_POLICY, buckets[0])
    doc = load(IAM_POLICY)
    for statement in doc["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        statement["Resource"] = [r.replace(PLACEHOLDER_BUCKET, b) for b in buckets for r in resources]
    return doc


_BUCKET_ARN = re.compile(r"^arn:aws:s3:::([^/*]+)(/\*)?$")


def buckets_in_iam_policy(doc: dict[str, Any] | None) -> list[str]:
    """The buckets an app policy (as ``iam_policy`` writes it) grants access to, in order."""
    found: list[str] = []
    for statement in policy.statements(doc):
        resources = statement.get("Resource", [])
        for resource in [resources] if isinstance(resources, str) else resources:
            match = _BUCKET_ARN.match(str(resource))
            if match and match.group(1) not in found:
                found.append(match.group(1))
    return found


def app_permissions(bucket: str) -> list[tuple[list[str], str]]:
    """What the app itself needs (doctor's simulation checks these): (actions, resource) pairs.

    The policy's read-only statement for doctor is left out: lacking it degrades doctor, not the app.
    """
    needed = []
    for statement in iam_policy(bucket)["Statement"]:
        if statement.get("Sid") == "ReadBucketSettingsForDoctor":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        needed.append((actions, statement["Resource"]))
    return needed


def tls_statement(bucket: str, *, if_exists: bool = False) -> dict[str, Any]:
    """Deny every request that does not arrive over TLS, for the bucket and its objects.

    ``if_exists``: ``BoolIfExists``, which also denies a request where the server did not set
    ``aws:SecureTransport`` at all (Ceph RGW over plain HTTP); same meaning on AWS, which always sets it."""
    operator = "BoolIfExists" if if_exists else "Bool"
    return policy.deny_statement(TLS_STATEMENT_ID, bucket, {operator: {"aws:SecureTransport": "false"}})


def tls_policy(bucket: str, existing: dict[str, Any] | None = None, *, if_exists: bool = False) -> dict[str, Any]:
    """``existing`` bucket policy with our TLS statement added or replaced; other statements kept."""
    return policy.put_statement(existing, tls_statement(bucket, if_exists=if_exists))


# -- comparison -----------------------------------------------------------------------------


def normalize_lifecycle(rules: list[dict[str, Any]] | None) -> list[Any]:
    """Rules without IDs; ``Prefix`` at top level, ``Filter: {}`` and ``Filter: {Prefix: ""}`` all the same."""
    out = []
    for rule in rules or []:
        rule = {k: v for k, v in rule.items() if k != "ID"}
        prefix = rule.pop("Prefix", None)
        filt = rule.pop("Filter", None) or {}
        if prefix is not None and "Prefix" not in filt:
            filt = {**filt, "Prefix": prefix}
        if filt.get("Prefix") == "":
            filt = {k: v for k, v in filt.items() if k != "Prefix"}
        if filt:
            rule["Filter"] = filt
        out.append(rule)
    return _canon(out)


def lifecycle_matches(actual_rules: list[dict[str, Any]] | None, *, infrequent_access: bool | None = None) -> bool:
    """True when ``actual_rules`` equal the document (``None``: with or without the IA rule)."""
    options = [False, True] if infrequent_access is None else [infrequent_access]
    actual = normalize_lifecycle(actual_rules)
    if any(actual == normalize_lifecycle(lifecycle(infrequent_access=ia)["Rules"]) for ia in options):
        return True
    from drumscribe.provision import archive  # it builds on this module

    # `setup lifecycle --archive-uploads-after` puts its uploads/ rule in place of the IA rule
    kept = archive.find(actual_rules) if infrequent_access is None else None
    return kept is not None and actual == normalize_lifecycle(lifecycle()["Rules"] + [kept.rule()])


def normalize_cors(rules: list[dict[str, Any]] | None) -> list[Any]:
    return _canon([{k: v for k, v in rule.items() if k != "ID"} for rule in rules or []])


def policy_statements_equal(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    def norm(doc: dict[str, Any] | None) -> Any:
        doc = dict(doc or {})
        st = doc.get("Statement", [])
        doc["Statement"] = [st] if isinstance(st, dict) else st
        return _canon(_listify(doc))

    return norm(a) == norm(b)


def find_tls_statement(bucket_policy: dict[str, Any] | None, bucket: str, *, if_exists: bool = False) -> dict[str, Any] | None:
    """Our TLS statement in a bucket policy if present and exactly as we would write it."""
    found = policy.find_statement(bucket_policy, TLS_STATEMENT_ID)
    return found if policy.same_statement(found, tls_statement(bucket, if_exists=if_exists)) else None
