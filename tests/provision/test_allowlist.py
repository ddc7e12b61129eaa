"""`setup ip-allowlist`: a Deny outside the given ranges, merged by Sid next to the TLS statement."""

from __future__ import annotations

import json

import boto3
import botocore.exceptions as bexc
import pytest

from drumscribe.errors import ConfigError
from drumscribe.provision import CHANGED, IN_PLACE, WOULD_CHANGE, documents, setup
from drumscribe.provision.allowlist import SID, parse_cidrs, setup_ip_allowlist
from drumscribe.provision.policy import put_statement, remove_statement

RANGES = ["203.0.113.0/24", "2001:db8::/32"]


@pytest.fixture
def s3(s3_mock, bucket_name):
    setup(bucket=bucket_name, steps=["bucket"])
    return boto3.client("s3", region_name="us-east-1")


def policy(s3, bucket):
    return json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])


def sids(s3, bucket):
    return [s["Sid"] for s in policy(s3, bucket)["Statement"]]


def test_allowlist_denies_requests_from_outside_the_ranges(s3, bucket_name):
    result = setup_ip_allowlist(RANGES, yes=True, bucket=bucket_name)
    assert result.status == CHANGED and "203.0.113.0/24, 2001:db8::/32" in result.detail
    (statement,) = policy(s3, bucket_name)["Statement"]
    assert statement["Sid"] == SID and statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Condition"] == {"NotIpAddress": {"aws:SourceIp": RANGES}}
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"]


def test_second_run_changes_nothing(s3, bucket_name):
    setup_ip_allowlist(RANGES, yes=True, bucket=bucket_name)
    again = setup_ip_allowlist(RANGES, bucket=bucket_name)  # nothing to confirm when nothing changes
    assert again.status == IN_PLACE and again.calls == []


def test_without_yes_nothing_is_applied_and_the_way_back_is_named(s3, bucket_name):
    with pytest.raises(ConfigError) as exc:
        setup_ip_allowlist(RANGES, bucket=bucket_name)
    message = str(exc.value)
    assert "203.0.113.0/24, 2001:db8::/32" in message and "--yes" in message
    assert f"aws s3api delete-bucket-policy --bucket {bucket_name}" in message and "root" in message
    with pytest.raises(bexc.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket_name)


def test_dry_run_needs_no_yes_and_writes_nothing(s3, bucket_name):
    result = setup_ip_allowlist(RANGES, bucket=bucket_name, dry_run=True)
    assert result.status == WOULD_CHANGE and [c.operation for c in result.calls] == ["put_bucket_policy"]
    with pytest.raises(bexc.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket_name)


@pytest.mark.parametrize("first", ["tls-policy", "ip-allowlist"])
def test_tls_and_allowlist_never_overwrite_each_other(s3, bucket_name, first):
    steps = {
        "tls-policy": lambda: setup(bucket=bucket_name, steps=["tls-policy"]),
        "ip-allowlist": lambda: setup_ip_allowlist(RANGES, yes=True, bucket=bucket_name),
    }
    steps[first]()
    steps[({"tls-policy", "ip-allowlist"} - {first}).pop()]()
    assert sorted(sids(s3, bucket_name)) == sorted([SID, documents.TLS_STATEMENT_ID])
    # and each, run again, finds itself in place beside the other
    assert setup(bucket=bucket_name, steps=["tls-policy"])[0].status == IN_PLACE
    assert setup_ip_allowlist(RANGES, bucket=bucket_name).status == IN_PLACE


def test_remove_keeps_the_tls_statement_then_deletes_an_empty_policy(s3, bucket_name):
    setup(bucket=bucket_name, steps=["tls-policy"])
    setup_ip_allowlist(RANGES, yes=True, bucket=bucket_name)
    removed = setup_ip_allowlist(bucket=bucket_name, remove=True)
    assert removed.status == CHANGED and sids(s3, bucket_name) == [documents.TLS_STATEMENT_ID]
    assert setup_ip_allowlist(bucket=bucket_name, remove=True).status == IN_PLACE

    s3.delete_bucket_policy(Bucket=bucket_name)
    setup_ip_allowlist(RANGES, yes=True, bucket=bucket_name)
    (gone,) = [c.operation for c in setup_ip_allowlist(bucket=bucket_name, remove=True).calls]
    assert gone == "delete_bucket_policy"


def test_changed_ranges_replace_the_statement(s3, bucket_name):
    setup_ip_allowlist(RANGES, yes=True, bucket=bucket_name)
    setup_ip_allowlist(["198.51.100.7"], yes=True, bucket=bucket_name)
    (statement,) = policy(s3, bucket_name)["Statement"]
    assert statement["Condition"]["NotIpAddress"]["aws:SourceIp"] == ["198.51.100.7/32"]


@pytest.mark.parametrize(
    "value, message",
    [
        ("203.0.113.5/24", "has host bits set (did you mean 203.0.113.0/24?)"),
        ("300.1.1.1", "is not an IPv4 or IPv6 address or CIDR range"),
        ("example.com", "is not an IPv4 or IPv6 address"),
        ("127.0.0.0/8", "can never be the source of a request to S3"),
    ],
)
def test_bad_ranges_are_one_clear_line(value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_cidrs([value])


def test_ranges_are_normalized_and_deduplicated():
    assert parse_cidrs(["2001:DB8:0::/32, 203.0.113.9", "203.0.113.9/32"]) == ["2001:db8::/32", "203.0.113.9/32"]


def test_merge_and_remove_by_sid():
    theirs = {"Sid": "Audit", "Effect": "Allow"}
    merged = put_statement({"Version": "2012-10-17", "Statement": theirs}, {"Sid": "Mine", "Effect": "Deny"})
    assert [s["Sid"] for s in merged["Statement"]] == ["Audit", "Mine"]
    replaced = put_statement(merged, {"Sid": "Mine", "Effect": "Allow"})
    assert replaced["Statement"][-1] == {"Sid": "Mine", "Effect": "Allow"} and len(replaced["Statement"]) == 2
    assert remove_statement(replaced, "Mine")["Statement"] == [theirs]
    assert remove_statement({"Statement": [theirs]}, "Audit") is None
    assert remove_statement(None, "Audit") is None
