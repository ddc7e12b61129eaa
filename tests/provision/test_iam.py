"""The app's IAM identity: least-privilege policy, user, key in .env, and key rotation."""

from __future__ import annotations

import json
import os
import stat

import boto3
import botocore.exceptions as bexc
import pytest

from drumscribe.envfile import read_env
from drumscribe.errors import ConfigError, ProvisioningError
from drumscribe.provision import CHANGED, IN_PLACE, documents, rotate_key, setup

USER = documents.USER_NAME


@pytest.fixture
def iam(s3_mock):
    return boto3.client("iam", region_name="us-east-1")


@pytest.fixture
def provisioned(iam, bucket_name, tmp_path):
    """A bucket plus the app user, with its key in a .env that already had a line of its own."""
    env = tmp_path / "work" / ".env"
    env.write_text("DRUMSCRIBE_USER=alice\n")
    setup(bucket=bucket_name, steps=["bucket", "block-public", "encryption", "lifecycle", "cors", "iam"], env_file=env)
    return env


def key_ids(iam) -> set[str]:
    return {k["AccessKeyId"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]}


def test_iam_step_creates_policy_user_and_key_in_env(iam, provisioned, bucket_name):
    env = read_env(provisioned)
    assert env["DRUMSCRIBE_USER"] == "alice"  # the line that was there is kept
    assert env["AWS_S3_BUCKET"] == bucket_name and env["AWS_REGION"] == "us-east-1"
    assert key_ids(iam) == {env["AWS_ACCESS_KEY_ID"]}
    assert stat.S_IMODE(os.stat(provisioned).st_mode) == 0o600
    assert (provisioned.parent / ".env.bak").read_text() == "DRUMSCRIBE_USER=alice\n"
    attached = iam.list_attached_user_policies(UserName=USER)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == [documents.POLICY_NAME]
    version = iam.get_policy(PolicyArn=attached[0]["PolicyArn"])["Policy"]["DefaultVersionId"]
    doc = iam.get_policy_version(PolicyArn=attached[0]["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"]
    assert doc == documents.iam_policy(bucket_name)


def test_second_run_keeps_the_key(iam, provisioned, bucket_name):
    before = read_env(provisioned)["AWS_ACCESS_KEY_ID"]
    (result,) = setup(bucket=bucket_name, steps=["iam"], env_file=provisioned)
    assert result.status == IN_PLACE and result.secret_access_key is None
    assert read_env(provisioned)["AWS_ACCESS_KEY_ID"] == before and key_ids(iam) == {before}


def test_policy_for_another_bucket_covers_both_in_one_new_version_and_old_ones_pruned(iam, provisioned, bucket_name):
    arn = iam.list_attached_user_policies(UserName=USER)["AttachedPolicies"][0]["PolicyArn"]
    for i in range(3):  # some history, as if edited by hand
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(documents.iam_policy(f"old-{i}")), SetAsDefault=False)
    (result,) = setup(bucket="another-drums-bucket", steps=["iam"], env_file=provisioned)
    assert result.status == CHANGED
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(versions) == 1 and versions[0]["IsDefaultVersion"]
    doc = iam.get_policy_version(PolicyArn=arn, VersionId=versions[0]["VersionId"])["PolicyVersion"]["Document"]
    # issue 13: the first bucket keeps its access (its key is the same user's)
    assert documents.buckets_in_iam_policy(doc) == [bucket_name, "another-drums-bucket"]
    assert doc == documents.iam_policy(bucket_name, "another-drums-bucket")
    assert f"now also covers bucket another-drums-bucket; {bucket_name} keeps its access" in result.detail
    assert read_env(provisioned)["AWS_S3_BUCKET"] == "another-drums-bucket"
    assert f"the key keeps its access to {bucket_name}" in result.detail
    assert len(key_ids(iam)) == 1  # no second key: the one in .env was reused


def test_a_working_key_in_the_working_directory_env_is_reused_for_another_env_file(iam, provisioned, bucket_name, monkeypatch):
    monkeypatch.chdir(provisioned.parent)  # provisioned is ./.env
    other = provisioned.parent / "other.env"
    (result,) = setup(bucket=bucket_name, steps=["iam"], env_file=other)
    assert key_ids(iam) == {read_env(provisioned)["AWS_ACCESS_KEY_ID"]}  # still one key
    assert read_env(other)["AWS_ACCESS_KEY_ID"] == read_env(provisioned)["AWS_ACCESS_KEY_ID"]
    assert read_env(other)["AWS_SECRET_ACCESS_KEY"] == read_env(provisioned)["AWS_SECRET_ACCESS_KEY"]
    assert "reused from .env" in result.detail and result.secret_access_key is None


def test_an_inactive_key_is_not_reused_and_the_output_says_why(iam, provisioned, bucket_name):
    old = read_env(provisioned)["AWS_ACCESS_KEY_ID"]
    iam.update_access_key(UserName=USER, AccessKeyId=old, Status="Inactive")
    (result,) = setup(bucket=bucket_name, steps=["iam"], env_file=provisioned)
    new = read_env(provisioned)["AWS_ACCESS_KEY_ID"]
    assert new != old and key_ids(iam) == {old, new}
    assert f"key {old[:4]}…{old[-4:]} in {provisioned} is inactive" in result.detail


def test_two_existing_keys_point_to_rotate_key(iam, provisioned, bucket_name):
    iam.create_access_key(UserName=USER)
    provisioned.unlink()  # neither key is in .env any more
    with pytest.raises(ProvisioningError, match=r"already has 2 access keys.*drumscribe iam rotate-key"):
        setup(bucket=bucket_name, steps=["iam"], env_file=provisioned)


def test_rotate_key_replaces_the_key_and_deletes_the_old_one(iam, provisioned, bucket_name):
    old = read_env(provisioned)["AWS_ACCESS_KEY_ID"]
    rotation = rotate_key(env_file=provisioned, timeout=0)
    env = read_env(provisioned)
    assert rotation.old_key_id == old
    assert env["AWS_ACCESS_KEY_ID"] == rotation.new_key_id != old
    assert env["AWS_SECRET_ACCESS_KEY"] == rotation.secret_access_key
    assert key_ids(iam) == {rotation.new_key_id}  # the old key no longer exists in IAM
    assert read_env(provisioned.parent / ".env.bak")["AWS_ACCESS_KEY_ID"] == old
    assert stat.S_IMODE(os.stat(provisioned).st_mode) == 0o600
    assert "secret_access_key" not in repr(rotation)


def test_failed_verification_keeps_the_old_key(iam, provisioned):
    before = provisioned.read_bytes()
    old = read_env(provisioned)["AWS_ACCESS_KEY_ID"]
    # the new key cannot list a bucket that does not exist, so verification fails
    with pytest.raises(ProvisioningError, match="old key .* was kept and the new one deleted"):
        rotate_key(bucket="no-such-drums-bucket", env_file=provisioned, timeout=0)
    assert provisioned.read_bytes() == before
    assert key_ids(iam) == {old}


def test_rotate_key_without_a_key_in_env(iam, tmp_path):
    with pytest.raises(ConfigError, match="no AWS_ACCESS_KEY_ID in .*setup iam"):
        rotate_key(bucket="b-drums", env_file=tmp_path / "missing.env")


def test_least_privilege_of_the_new_key(iam, provisioned, bucket_name):
    """With moto's IAM enforcement on, the app key can use its bucket and nothing else."""
    from moto.core import enable_iam_authentication

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="someone-elses-bucket")
    env = read_env(provisioned)
    creds = dict(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
    with enable_iam_authentication():
        s3 = boto3.client("s3", **creds)
        s3.put_object(Bucket=bucket_name, Key="uploads/tester/a.wav", Body=b"drums")
        assert s3.get_object(Bucket=bucket_name, Key="uploads/tester/a.wav")["Body"].read() == b"drums"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name)["Contents"]] == ["uploads/tester/a.wav"]
        s3.delete_object(Bucket=bucket_name, Key="uploads/tester/a.wav")
        for denied in (
            lambda: s3.put_object(Bucket="someone-elses-bucket", Key="x", Body=b"x"),
            lambda: s3.list_objects_v2(Bucket="someone-elses-bucket"),
            lambda: s3.put_bucket_cors(Bucket=bucket_name, CORSConfiguration=documents.cors()),
            lambda: boto3.client("iam", **creds).list_users(),
        ):
            with pytest.raises(bexc.ClientError) as exc:
                denied()
            assert exc.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
