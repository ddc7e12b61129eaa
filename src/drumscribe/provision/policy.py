"""Edit a bucket (or IAM) policy one statement at a time, by ``Sid``.

Several setup steps own one statement each in the same bucket policy (the TLS-only deny, an IP
allowlist...), and the bucket may carry statements of its owner's too. So a step never writes
the whole policy: it reads it, puts or removes *its* statement (matched by ``Sid``) and writes
the result back; every other statement is kept as it was, in its place.

    put_statement(policy, statement)  -> new policy with ``statement`` added, or replacing the one with its Sid
    remove_statement(policy, sid)     -> new policy without that Sid, or None when no statement is left
                                         (S3 refuses an empty policy: delete the bucket policy instead)
    find_statement(policy, sid)       -> the statement with that Sid, or None
    deny_statement(sid, bucket, cond) -> a Deny of s3:* on the bucket and its objects under ``cond``
    same_statement(a, b)              -> equal as AWS understands them (order, "x" vs ["x"])

The functions never modify their arguments. ``policy`` may be ``None`` (no policy yet).
"""

from __future__ import annotations

import copy
import json
from typing import Any

VERSION = "2012-10-17"
_LISTABLE = ("Action", "NotAction", "Resource", "NotResource")


def statements(policy: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The statements as a list (AWS also accepts a single statement object)."""
    found = (policy or {}).get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def deny_statement(sid: str, bucket: str, condition: dict[str, Any]) -> dict[str, Any]:
    """A statement denying every S3 action on the bucket and its objects to anyone, under ``condition``."""
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": condition,
    }


def find_statement(policy: dict[str, Any] | None, sid: str) -> dict[str, Any] | None:
    return next((s for s in statements(policy) if s.get("Sid") == sid), None)


def put_statement(policy: dict[str, Any] | None, statement: dict[str, Any]) -> dict[str, Any]:
    """``policy`` with ``statement`` added, or replacing the statement that has the same Sid."""
    sid = statement.get("Sid")
    if not sid:
        raise ValueError("a statement managed by Sid needs a Sid")
    new = copy.deepcopy(policy) if policy else {}
    new.setdefault("Version", VERSION)
    current = statements(new)
    index = next((i for i, s in enumerate(current) if s.get("Sid") == sid), None)
    if index is None:
        current.append(copy.deepcopy(statement))
    else:  # replaced in place: the order of the owner's statements never changes
        current[index] = copy.deepcopy(statement)
    new["Statement"] = current
    return new


def remove_statement(policy: dict[str, Any] | None, sid: str) -> dict[str, Any] | None:
    """``policy`` without the statement ``sid``; ``None`` when nothing is left."""
    kept = [copy.deepcopy(s) for s in statements(policy) if s.get("Sid") != sid]
    if not kept:
        return None
    new = copy.deepcopy(policy) or {}
    new.setdefault("Version", VERSION)
    new["Statement"] = kept
    return new


def listify(value: Any) -> Any:
    """IAM treats ``"Action": "x"`` and ``"Action": ["x"]`` alike; so do we."""
    if isinstance(value, dict):
        return {k: ([v] if k in _LISTABLE and isinstance(v, str) else listify(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [listify(v) for v in value]
    return value


def sort_all(value: Any) -> Any:
    """Sort every list and dict so that order never makes two equal documents differ."""
    if isinstance(value, dict):
        return {k: sort_all(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [sort_all(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def same_statement(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    return sort_all(listify(a)) == sort_all(listify(b))
