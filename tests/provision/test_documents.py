"""The documents setup applies: one copy at the repository root, packaged byte for byte."""

from __future__ import annotations

import json

import pytest

from drumscribe.provision import documents
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", [documents.LIFECYCLE, documents.CORS, documents.IAM_POLICY])
def test_packaged_document_is_the_repo_root_file(name):
    assert documents.raw_text(name).encode() == (REPO_ROOT / name).read_bytes()


@pytest.mark.parametrize("name", [documents.LIFECYCLE, documents.CORS, documents.IAM_POLICY])
def test_source_tree_keeps_one_copy(name):
    """The package folder links to the root file; nobody has to keep two copies in step."""
    packaged = REPO_ROOT / "src" / "drumscribe" / "documents" / name
    assert packaged.is_symlink() and packaged.resolve() == (REPO_ROOT / name).resolve()


def test_iam_policy_names_only_the_given_bucket():
    doc = documents.iam_policy("my-drums")
    text = json.dumps(doc)
    assert documents.PLACEHOLDER_BUCKET not in text
    resources = sorted({s["Resource"] for s in doc["Statement"]})
    assert resources == ["arn:aws:s3:::my-drums", "arn:aws:s3:::my-drums/*"]
    objects, listing, settings = doc["Statement"]
    assert sorted(objects["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert listing["Action"] == ["s3:ListBucket"]
    # read-only access to the settings doctor checks, nothing that changes them
    assert settings["Resource"] == "arn:aws:s3:::my-drums"
    assert all(action.startswith("s3:Get") for action in settings["Action"])


def test_lifecycle_expires_temp_and_processed_and_aborts_multipart():
    rules = {r["ID"]: r for r in documents.lifecycle()["Rules"]}
    assert rules["CleanupTempFiles"]["Filter"] == {"Prefix": "temp/"}
    assert rules["CleanupTempFiles"]["Expiration"] == {"Days": 1}
    assert rules["CleanupProcessedFiles"]["Expiration"] == {"Days": 30}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_infrequent_access_moves_only_uploads_after_30_days():
    extra = [r for r in documents.lifecycle(infrequent_access=True)["Rules"] if "Transitions" in r]
    assert extra == [
        {
            "ID": documents.IA_RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": "uploads/"},
            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
        }
    ]


def test_lifecycle_comparison_ignores_ids_order_and_empty_prefix_spelling():
    rules = documents.lifecycle()["Rules"]
    as_aws_returns = [dict(r, ID=f"x{i}") for i, r in enumerate(reversed(rules))]
    as_aws_returns[0] = {k: v for k, v in as_aws_returns[0].items() if k != "Filter"} | {"Filter": {}}
    assert documents.lifecycle_matches(as_aws_returns)
    changed = [dict(r) for r in rules]
    changed[0] = dict(changed[0], Expiration={"Days": 7})
    assert not documents.lifecycle_matches(changed)
    # with or without the optional IA rule both count as the document unless asked
    with_ia = documents.lifecycle(infrequent_access=True)["Rules"]
    assert documents.lifecycle_matches(with_ia)
    assert not documents.lifecycle_matches(with_ia, infrequent_access=False)


def test_cors_origins_override_and_order_insensitive_comparison():
    doc = documents.cors(["https://app.example"])
    assert doc["CORSRules"][0]["AllowedOrigins"] == ["https://app.example"]
    default = documents.cors()["CORSRules"]
    shuffled = [dict(default[0], AllowedMethods=list(reversed(default[0]["AllowedMethods"])))]
    assert documents.normalize_cors(shuffled) == documents.normalize_cors(default)
    assert documents.normalize_cors(doc["CORSRules"]) != documents.normalize_cors(default)


def test_tls_policy_keeps_other_statements_and_replaces_its_own():
    other = {"Sid": "AllowAuditor", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    stale = dict(documents.tls_statement("old-bucket"))
    policy = documents.tls_policy("b", {"Version": "2012-10-17", "Statement": [other, stale]})
    assert policy["Statement"][0] == other
    assert len(policy["Statement"]) == 2
    assert documents.find_tls_statement(policy, "b") is not None
    assert documents.find_tls_statement(policy, "old-bucket") is None
