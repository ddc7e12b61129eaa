"""Statement-level edits of a bucket policy: each setup step owns one statement, found by Sid."""

from __future__ import annotations

import copy

import pytest

from drumscribe.provision import policy

OWNERS = {"Sid": "Audit", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
OURS = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]}
ALLOWLIST = {"Sid": "AllowOnlyListedIps", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}


def test_put_adds_to_no_policy_and_to_an_existing_one():
    assert policy.put_statement(None, OURS) == {"Version": "2012-10-17", "Statement": [OURS]}
    existing = {"Version": "2012-10-17", "Statement": [OWNERS]}
    before = copy.deepcopy(existing)
    assert policy.put_statement(existing, OURS)["Statement"] == [OWNERS, OURS]
    assert existing == before  # the argument is never modified


def test_put_replaces_by_sid_in_place_and_accepts_a_single_statement_object():
    changed = dict(OURS, Resource="arn:aws:s3:::b/*")
    current = {"Statement": [OURS, OWNERS]}
    assert policy.put_statement(current, changed)["Statement"] == [changed, OWNERS]
    assert policy.put_statement({"Statement": OWNERS}, ALLOWLIST)["Statement"] == [OWNERS, ALLOWLIST]


def test_put_needs_a_sid():
    with pytest.raises(ValueError):
        policy.put_statement(None, {"Effect": "Deny"})


def test_remove_keeps_the_others_and_returns_none_when_empty():
    both = {"Version": "2012-10-17", "Id": "mine", "Statement": [OWNERS, OURS, ALLOWLIST]}
    assert policy.remove_statement(both, OURS["Sid"]) == {"Version": "2012-10-17", "Id": "mine", "Statement": [OWNERS, ALLOWLIST]}
    assert policy.remove_statement({"Statement": [OURS]}, OURS["Sid"]) is None
    assert policy.remove_statement(None, OURS["Sid"]) is None
    assert policy.remove_statement({"Statement": [OWNERS]}, "NotThere") == {"Version": "2012-10-17", "Statement": [OWNERS]}


def test_find_and_compare_as_aws_does():
    assert policy.find_statement({"Statement": [OWNERS, OURS]}, OURS["Sid"]) == OURS
    assert policy.find_statement(None, OURS["Sid"]) is None
    reshaped = dict(OURS, Resource=list(reversed(OURS["Resource"])), Action=["s3:*"])
    assert policy.same_statement(OURS, reshaped)
    assert not policy.same_statement(OURS, ALLOWLIST) and not policy.same_statement(OURS, None)
