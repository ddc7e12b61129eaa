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

import copy
import json
from importlib import resources
from typing import Any, Iterable

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


def cors(origins: Iterable[str] | None = None) -> dict[str, Any]:
    doc = load(CORS)
    if origins:
        for rule in doc["CORSRules"]:
            rule["AllowedOrigins"] = list(origins)
    return doc


def iam_policy(bucket: str) -> dict[str, Any]:
    return load(IAM_POLICY, bucket)


def tls_statement(bucket: str) -> dict[str, Any]:
    """Deny every request that does not arrive over TLS, for the bucket and its objects."""
    return {
        "Sid": TLS_STATEMENT_ID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def tls_policy(bucket: str, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """``existing`` bucket policy with our TLS statement added or replaced; other statements kept."""
    policy = copy.deepcopy(existing) if existing else {"Version": "2012-10-17", "Statement": []}
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = [s for s in statements if s.get("Sid") != TLS_STATEMENT_ID]
    policy["Statement"] = kept + [tls_statement(bucket)]
    policy.setdefault("Version", "2012-10-17")
    return policy


# -- comparison -----------------------------------------------------------------------------


def _canon(value: Any) -> Any:
    """Sort every list and dict so that order never makes two equal documents differ."""
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canon(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


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


def _listify(value: Any) -> Any:
    """IAM treats ``"Action": "x"`` and ``"Action": ["x"]`` alike; so do we."""
    if isinstance(value, dict):
        return {
            k: ([v] if k in ("Action", "Resource", "NotAction", "NotResource") and isinstance(v, str) else _listify(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value


def find_tls_statement(policy: dict[str, Any] | None, bucket: str) -> dict[str, Any] | None:
    """Our TLS statement in a bucket policy if present and exactly as we would write it."""
    statements = (policy or {}).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    want = _canon(_listify(tls_statement(bucket)))
    for st in statements:
        if st.get("Sid") == TLS_STATEMENT_ID and _canon(_listify(st)) == want:
            return st
    return None
