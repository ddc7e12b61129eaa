"""Each setup step against in-process moto: it applies what it says, and a second run is a no-op."""

from __future__ import annotations

import json

import boto3
import botocore.exceptions as bexc
import pytest

from drumscribe import aws
from drumscribe.errors import ConfigError, ProvisioningError
from drumscribe.provision import CHANGED, IN_PLACE, SKIPPED, WOULD_CHANGE, documents, setup

S3_STEPS = ["bucket", "block-public", "encryption", "tls-policy", "lifecycle", "cors"]


@pytest.fixture
def s3(s3_mock):
    return boto3.client("s3", region_name="us-east-1")


def statuses(results):
    return {r.step: r.status for r in results}


def test_every_s3_step_applies_then_reports_in_place(s3, bucket_name):
    first = setup(bucket=bucket_name, steps=S3_STEPS)
    assert statuses(first) == dict.fromkeys(S3_STEPS, CHANGED)

    assert s3.get_bucket_ownership_controls(Bucket=bucket_name)["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    flags = s3.get_public_access_block(Bucket=bucket_name)["PublicAccessBlockConfiguration"]
    assert flags == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    rule = s3.get_bucket_encryption(Bucket=bucket_name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert documents.lifecycle_matches(s3.get_bucket_lifecycle_configuration(Bucket=bucket_name)["Rules"], infrequent_access=False)
    assert documents.normalize_cors(s3.get_bucket_cors(Bucket=bucket_name)["CORSRules"]) == documents.normalize_cors(documents.cors()["CORSRules"])

    second = setup(bucket=bucket_name, steps=S3_STEPS)
    assert statuses(second) == dict.fromkeys(S3_STEPS, IN_PLACE)
    assert all(r.calls == [] for r in second)  # nothing was written the second time


def test_tls_policy_denies_plain_http_and_reads_back(s3, bucket_name):
    setup(bucket=bucket_name, steps=["bucket", "tls-policy"])
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket_name)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*" and statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{bucket_name}", f"arn:aws:s3:::{bucket_name}/*"]


def test_tls_policy_keeps_someone_elses_statement(s3, bucket_name):
    s3.create_bucket(Bucket=bucket_name)
    theirs = {"Sid": "Audit", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket_name}/*"}
    s3.put_bucket_policy(Bucket=bucket_name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [theirs]}))
    (result,) = setup(bucket=bucket_name, steps=["tls-policy"])
    assert "1 other statement(s) kept" in result.detail
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=bucket_name)["Policy"])["Statement"]]
    assert sids == ["Audit", documents.TLS_STATEMENT_ID]


def test_no_tls_policy_skips_the_step(s3, bucket_name):
    results = setup(bucket=bucket_name, steps=["bucket", "tls-policy"], tls_policy=False)
    assert statuses(results)["tls-policy"] == SKIPPED
    with pytest.raises(bexc.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=bucket_name)


@pytest.mark.parametrize("region, constraint", [("us-east-1", None), ("eu-west-1", "eu-west-1")])
def test_location_constraint_only_outside_us_east_1(s3_mock, bucket_name, region, constraint):
    (result,) = setup(bucket=bucket_name, region=region, steps=["bucket"])
    create = next(c for c in result.calls if c.operation == "create_bucket")
    assert ("CreateBucketConfiguration" in create.params) == (constraint is not None)
    location = boto3.client("s3", region_name=region).get_bucket_location(Bucket=bucket_name)["LocationConstraint"]
    assert location == constraint  # S3 reports us-east-1 as no constraint at all


def test_existing_bucket_in_another_region_is_one_clear_line(s3_mock, bucket_name):
    setup(bucket=bucket_name, region="eu-west-1", steps=["bucket"])
    with pytest.raises(ProvisioningError, match=r"already exists in eu-west-1, not us-east-1 .*--region eu-west-1"):
        setup(bucket=bucket_name, region="us-east-1", steps=["bucket"])


def test_dry_run_changes_nothing(s3, bucket_name, tmp_path):
    results = setup(bucket=bucket_name, dry_run=True, env_file=tmp_path / ".env")
    assert statuses(results) == dict.fromkeys(S3_STEPS + ["iam"], WOULD_CHANGE)
    operations = [c.operation for r in results for c in r.calls]
    assert operations[:2] == ["create_bucket", "put_bucket_ownership_controls"]
    assert "put_bucket_lifecycle_configuration" in operations and "create_access_key" in operations
    with pytest.raises(bexc.ClientError) as exc:
        s3.head_bucket(Bucket=bucket_name)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert boto3.client("iam").list_users()["Users"] == []
    assert not (tmp_path / ".env").exists()


def test_dry_run_on_a_configured_bucket_reports_in_place(s3, bucket_name, tmp_path):
    setup(bucket=bucket_name, steps=S3_STEPS)
    s3.delete_bucket_cors(Bucket=bucket_name)
    results = setup(bucket=bucket_name, steps=S3_STEPS, dry_run=True)
    assert statuses(results) == dict.fromkeys(S3_STEPS, IN_PLACE) | {"cors": WOULD_CHANGE}
    with pytest.raises(bexc.ClientError, match="NoSuchCORSConfiguration"):
        s3.get_bucket_cors(Bucket=bucket_name)


def test_origins_and_infrequent_access_options(s3, bucket_name):
    setup(bucket=bucket_name, steps=["bucket", "lifecycle", "cors"], origins=["https://drums.example"], infrequent_access=True)
    assert s3.get_bucket_cors(Bucket=bucket_name)["CORSRules"][0]["AllowedOrigins"] == ["https://drums.example"]
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket_name)["Rules"]
    assert any(r.get("Transitions") == [{"Days": 30, "StorageClass": "STANDARD_IA"}] for r in rules)
    # not asking either way keeps what is there; asking for the default CORS changes it back
    again = setup(bucket=bucket_name, steps=["lifecycle", "cors"])
    assert statuses(again) == {"lifecycle": IN_PLACE, "cors": CHANGED}


def test_kms_encryption_uses_a_bucket_key(s3, bucket_name):
    setup(bucket=bucket_name, steps=["bucket", "encryption"], kms_key_id="alias/drums")
    rule = s3.get_bucket_encryption(Bucket=bucket_name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/drums"}
    assert rule["BucketKeyEnabled"] is True
    assert statuses(setup(bucket=bucket_name, steps=["encryption"], kms_key_id="alias/drums")) == {"encryption": IN_PLACE}


def test_missing_bucket_name_is_a_config_error(s3_mock):
    with pytest.raises(ConfigError, match="no bucket named"):
        setup(steps=["bucket"])


def test_later_step_on_missing_bucket_says_run_bucket_first(s3_mock, bucket_name):
    with pytest.raises(ProvisioningError, match="does not exist .*setup bucket"):
        setup(bucket=bucket_name, steps=["cors"])


def _answer_head_bucket_with(monkeypatch, status: int):
    """Make HeadBucket answer ``status``, as real S3 does for a name another account owns.

    moto answers 200 to HeadBucket for any account's bucket, so the answer is injected with a
    botocore event hook on the clients drumscribe creates.
    """
    real_client = aws.client

    def hooked(settings, service, **kwargs):
        client = real_client(settings, service, **kwargs)

        def refuse(**_):
            raise bexc.ClientError({"Error": {"Code": str(status), "Message": "Forbidden"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "HeadBucket")

        client.meta.events.register("before-call.s3.HeadBucket", refuse)
        return client

    monkeypatch.setattr(aws, "client", hooked)


def test_bucket_owned_by_another_account_on_head(s3_mock, bucket_name, monkeypatch):
    _answer_head_bucket_with(monkeypatch, 403)
    with pytest.raises(ProvisioningError) as exc:
        setup(bucket=bucket_name, steps=["bucket"])
    message = str(exc.value)
    assert "\n" not in message
    assert f"bucket name {bucket_name!r} is already taken" in message
    assert f"--bucket {bucket_name}-" in message  # a unique suffix is suggested


def test_bucket_owned_by_another_account_on_create(s3_mock, bucket_name, monkeypatch):
    # another account (moto keeps bucket names global across accounts) owns the name
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    _answer_head_bucket_with(monkeypatch, 404)  # HEAD says "not yours"; CreateBucket then says BucketAlreadyExists
    with pytest.raises(ProvisioningError, match="is already taken by another AWS account"):
        setup(bucket=bucket_name, steps=["bucket"])
