"""`setup iam --role ec2|ecs|lambda`: a role with the app's policy, and no access key anywhere."""

from __future__ import annotations

import json

import boto3
import pytest

from drumscribe.envfile import read_env
from drumscribe.errors import ConfigError
from drumscribe.provision import CHANGED, IN_PLACE, WOULD_CHANGE, documents, setup
from drumscribe.provision.roles import SERVICES, role_name, setup_role


@pytest.fixture
def iam(s3_mock, bucket_name):
    setup(bucket=bucket_name, steps=["bucket"])
    return boto3.client("iam", region_name="us-east-1")


@pytest.mark.parametrize("kind", sorted(SERVICES))
def test_role_trusted_by_the_service_with_the_app_policy_and_no_key(iam, bucket_name, kind, tmp_path):
    env = tmp_path / ".env"
    result = setup_role(kind, bucket=bucket_name, env_file=env)
    assert result.status == CHANGED and result.secret_access_key is None and result.access_key_id is None
    role = iam.get_role(RoleName=role_name(kind))["Role"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": SERVICES[kind]} and statement["Action"] == "sts:AssumeRole"
    (attached,) = iam.list_attached_role_policies(RoleName=role_name(kind))["AttachedPolicies"]
    assert attached["PolicyName"] == documents.POLICY_NAME
    version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
    assert iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]["Document"] == documents.iam_policy(bucket_name)
    # no user, no key, and .env holds no secret
    assert iam.list_users()["Users"] == []
    assert read_env(env) == {"AWS_S3_BUCKET": bucket_name, "AWS_REGION": "us-east-1"}
    profiles = [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]]
    assert profiles == ([role_name("ec2")] if kind == "ec2" else [])
    if kind == "ec2":
        roles = iam.get_instance_profile(InstanceProfileName=role_name("ec2"))["InstanceProfile"]["Roles"]
        assert [r["RoleName"] for r in roles] == [role_name("ec2")]


def test_second_run_changes_nothing(iam, bucket_name):
    setup_role("ec2", bucket=bucket_name)
    again = setup_role("ec2", bucket=bucket_name)
    assert again.status == IN_PLACE and again.calls == []


def test_role_shares_the_users_policy(iam, bucket_name, tmp_path):
    setup(bucket=bucket_name, steps=["iam"], env_file=tmp_path / "user.env")
    result = setup_role("lambda", bucket=bucket_name, env_file=tmp_path / "role.env")
    assert "new policy" not in result.detail  # the same managed policy, not a copy
    assert len(iam.list_policies(Scope="Local")["Policies"]) == 1


def test_dry_run_creates_nothing(iam, bucket_name, tmp_path):
    result = setup_role("ec2", bucket=bucket_name, dry_run=True, env_file=tmp_path / ".env")
    assert result.status == WOULD_CHANGE
    ops = [c.operation for c in result.calls]
    assert ops == ["create_policy", "create_role", "attach_role_policy", "create_instance_profile", "add_role_to_instance_profile"]
    assert "create_access_key" not in ops
    assert iam.list_roles()["Roles"] == [] and not (tmp_path / ".env").exists()


def test_trust_edited_by_hand_is_put_back(iam, bucket_name):
    setup_role("ecs", bucket=bucket_name)
    iam.update_assume_role_policy(RoleName=role_name("ecs"), PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
    fixed = setup_role("ecs", bucket=bucket_name)
    assert fixed.detail.startswith(f"role {role_name('ecs')} now trusted by ecs-tasks.amazonaws.com only")


def test_remove_deletes_role_and_instance_profile_but_keeps_the_policy(iam, bucket_name):
    setup_role("ec2", bucket=bucket_name)
    removed = setup_role("ec2", bucket=bucket_name, remove=True)
    assert removed.status == CHANGED
    assert iam.list_roles()["Roles"] == [] and iam.list_instance_profiles()["InstanceProfiles"] == []
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == [documents.POLICY_NAME]
    assert setup_role("ec2", bucket=bucket_name, remove=True).status == IN_PLACE


def test_a_key_left_in_env_is_pointed_out(iam, bucket_name, tmp_path):
    env = tmp_path / ".env"
    env.write_text("AWS_ACCESS_KEY_ID=AKIAOLD\nAWS_SECRET_ACCESS_KEY=old\n")
    result = setup_role("lambda", bucket=bucket_name, env_file=env)
    assert "still holds an access key, which wins over the role" in result.detail


def test_unknown_kind_is_one_line(s3_mock):
    with pytest.raises(ConfigError, match="unknown role kind 'k8s' .*ec2, ecs, lambda"):
        setup_role("k8s", bucket="drums-x")
