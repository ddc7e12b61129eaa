"""`drumscribe.doctor()`: each check passes on a bucket setup made, and fails with the right hint."""

from __future__ import annotations

import boto3
import pytest

from drumscribe.config import load_settings
from drumscribe.doctor import FAIL, PASS, SKIP, doctor
from drumscribe.provision import documents, setup

SETUP_STEPS = ["bucket", "block-public", "encryption", "lifecycle", "cors"]


def by_name(report):
    return {c.name: c for c in report.checks}


def statuses(report):
    return {c.name: c.status for c in report.checks}


@pytest.fixture
def ready(s3_mock, bucket_name, monkeypatch):
    """A bucket configured by setup (without the TLS policy: moto would deny everything)."""
    setup(bucket=bucket_name, steps=SETUP_STEPS)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return boto3.client("s3", region_name="us-east-1")


def test_all_checks_pass_on_a_set_up_bucket(ready, bucket_name):
    report = doctor()
    assert report.backend == "s3" and report.ok
    assert statuses(report) == dict.fromkeys(
        ["configuration", "endpoint", "credentials", "bucket", "round-trip", "encryption", "lifecycle", "cors", "public-access", "cleanup"], PASS
    )
    assert "AES256" in by_name(report)["encryption"].detail
    assert "Contents" not in ready.list_objects_v2(Bucket=bucket_name, Prefix="temp/")  # its test object is gone


def test_broken_cors_fails_naming_cors(ready, bucket_name):
    ready.put_bucket_cors(Bucket=bucket_name, CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["https://evil.example"]}]})
    report = doctor()
    assert not report.ok
    cors = by_name(report)["cors"]
    assert cors.status == FAIL and "https://evil.example" in cors.detail and "drumscribe setup cors" in cors.hint
    assert [c.name for c in report.checks if c.status == FAIL] == ["cors"]


def test_custom_origins_are_compared_when_given(ready, bucket_name):
    setup(bucket=bucket_name, steps=["cors"], origins=["https://drums.example"])
    assert by_name(doctor())["cors"].status == FAIL
    assert by_name(doctor(origins=["https://drums.example"]))["cors"].status == PASS


def test_lifecycle_drift_names_the_difference(ready, bucket_name):
    rules = documents.lifecycle()["Rules"]
    rules[0] = dict(rules[0], Expiration={"Days": 7})
    ready.put_bucket_lifecycle_configuration(Bucket=bucket_name, LifecycleConfiguration={"Rules": rules})
    check = by_name(doctor())["lifecycle"]
    assert check.status == FAIL and '"Days": 7' in check.detail and "setup lifecycle" in check.hint


def test_lifecycle_with_the_optional_ia_rule_passes(ready, bucket_name):
    setup(bucket=bucket_name, steps=["lifecycle"], infrequent_access=True)
    assert by_name(doctor())["lifecycle"].status == PASS


def test_public_access_partly_open_fails(ready, bucket_name):
    ready.put_public_access_block(
        Bucket=bucket_name,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True},
    )
    check = by_name(doctor())["public-access"]
    assert check.status == FAIL and "BlockPublicPolicy off" in check.detail


def test_bucket_without_default_encryption_fails(s3_mock, bucket_name, monkeypatch):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    report = doctor()
    check = by_name(report)["encryption"]
    assert check.status == FAIL and "setup encryption" in check.hint
    assert by_name(report)["cleanup"].status == PASS  # it still removed its object


def test_missing_bucket(s3_mock, monkeypatch):
    monkeypatch.setenv("AWS_S3_BUCKET", "drums-nobody-made")
    report = doctor()
    bucket = by_name(report)["bucket"]
    assert bucket.status == FAIL and bucket.detail == "bucket 'drums-nobody-made' does not exist"
    assert "drumscribe setup" in bucket.hint
    assert all(c.status == SKIP for c in report.checks[4:])
    assert not report.ok


def test_wrong_region_gives_the_right_one(s3_mock, bucket_name, monkeypatch):
    setup(bucket=bucket_name, region="eu-west-1", steps=["bucket"])
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)  # AWS_REGION stays us-east-1
    check = by_name(doctor())["bucket"]
    assert check.status == FAIL and "is in eu-west-1" in check.detail and check.hint == "set AWS_REGION=eu-west-1"


def test_bucket_named_but_no_credentials(monkeypatch):
    monkeypatch.setenv("AWS_S3_BUCKET", "drums")
    report = doctor()
    assert statuses(report)["configuration"] == FAIL
    assert "no AWS credentials resolve" in report.checks[0].detail and "AWS_PROFILE" in report.checks[0].hint
    assert all(c.status == SKIP for c in report.checks[1:])


def test_wrong_credentials(ready):
    from moto.core import enable_iam_authentication

    with enable_iam_authentication():  # the fake test keys do not exist in moto's IAM
        report = doctor()
    creds = by_name(report)["credentials"]
    assert creds.status == FAIL and "rejected the credentials" in creds.detail
    assert statuses(report)["endpoint"] == PASS  # rejected keys come from a server that answers
    assert all(c.status == SKIP for c in report.checks[3:])


def test_app_key_passes_every_check(ready, bucket_name, tmp_path):
    """The least-privilege key may read (not change) the bucket settings doctor compares."""
    from moto.core import enable_iam_authentication

    env = tmp_path / "app.env"
    setup(bucket=bucket_name, steps=["iam"], env_file=env)
    from drumscribe.envfile import read_env

    values = read_env(env)
    settings = load_settings().replace(access_key_id=values["AWS_ACCESS_KEY_ID"], secret_access_key=values["AWS_SECRET_ACCESS_KEY"])
    with enable_iam_authentication():
        report = doctor(settings)
    found = statuses(report)
    found.pop("public-access")  # moto does not check permissions for GetPublicAccessBlock, AWS would
    assert found == {
        "configuration": PASS, "endpoint": PASS, "credentials": PASS, "bucket": PASS, "round-trip": PASS, "encryption": PASS,
        "lifecycle": PASS, "cors": PASS, "cleanup": PASS,
    }
    assert report.ok


def test_key_without_the_policy_is_denied_the_bucket(ready, bucket_name):
    from moto.core import enable_iam_authentication

    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="stranger")
    key = iam.create_access_key(UserName="stranger")["AccessKey"]
    settings = load_settings().replace(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])
    with enable_iam_authentication():
        check = by_name(doctor(settings))["bucket"]
    assert check.status == FAIL and check.detail == f"access denied to bucket {bucket_name!r}"
    assert "DrumTranscriptionS3Policy" in check.hint


# -- local mirror ---------------------------------------------------------------------------


def test_local_mirror_when_s3_is_not_configured(tmp_path):
    report = doctor()
    assert report.backend == "local" and report.ok
    assert statuses(report) == {"local-root": PASS, "writable": PASS, "round-trip": PASS, "cleanup": PASS}
    assert report.info and report.info[0].startswith("S3 is not configured") and "drumscribe setup" in report.info[0]
    root = load_settings().local_root
    assert not list((root / "temp").rglob("*.bin")) if (root / "temp").exists() else True


def test_local_mirror_root_that_cannot_be_created(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the mirror should go")
    monkeypatch.setenv("DRUMSCRIBE_HOME", str(blocker))
    report = doctor()
    assert statuses(report) == {"local-root": FAIL, "writable": SKIP, "round-trip": SKIP, "cleanup": SKIP}
    assert "DRUMSCRIBE_HOME" in report.checks[0].hint and not report.ok


def test_local_flag_checks_the_mirror_even_with_s3(ready):
    report = doctor(prefer_local=True)
    assert report.backend == "local" and report.info == ["--local: checked the local mirror only"]
