"""Doctor's security checks (drumscribe.doctor.security, imported here by its old name): .env in git, alarms, key age, root MFA, CloudTrail.

Missing practices warn, broken ones fail, and what the caller may not see is "no permission".
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from typer.testing import CliRunner

from drumscribe import aws
from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.doctor import FAIL, PASS, SKIP, WARN, doctor
from drumscribe.doctor_security import access_key_age, root_mfa
from drumscribe.envfile import read_env
from drumscribe.provision import setup
from drumscribe.provision.monitoring import alarm_prefix, setup_monitoring

SETUP_STEPS = ["bucket", "block-public", "encryption", "lifecycle", "cors"]


def security(report):
    return {c.name: c for c in report.security}


@pytest.fixture
def admin(s3_mock, bucket_name, monkeypatch, request_metrics):
    """A set-up bucket, and an IAM user's key (so its age can be seen) as the caller's credentials."""
    setup(bucket=bucket_name, steps=SETUP_STEPS)
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="admin")
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(everything))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return key


@pytest.fixture
def request_metrics(monkeypatch):
    from moto_shims import answer_request_metrics

    return answer_request_metrics(monkeypatch)


def git(*args):
    subprocess.run(["git", *args], check=True, capture_output=True)


def test_a_fresh_account_warns_but_does_not_fail(admin):
    report = doctor()
    found = security(report)
    assert {n: c.status for n, c in found.items()} == {
        "env-in-git": PASS, "alarms": WARN, "ip-allowlist": PASS, "access-key-age": PASS, "root-mfa": WARN, "cloudtrail": WARN,
    }
    assert report.ok  # warnings are advice
    assert "drumscribe setup monitoring --email" in found["alarms"].hint
    assert "is 0 days old" in found["access-key-age"].detail and admin["AccessKeyId"] not in found["access-key-age"].detail
    assert "MFA" in found["root-mfa"].hint
    assert "aws cloudtrail create-trail" in found["cloudtrail"].hint and "start-logging" in found["cloudtrail"].hint


def test_alarms_after_setup_monitoring_then_broken(admin, bucket_name):
    setup_monitoring("ops@example.com", bucket=bucket_name)
    alarms = security(doctor())["alarms"]
    # moto never confirms an email subscription; AWS waits for the link in the mail
    assert alarms.status == WARN and "5 alarms -> topic" in alarms.detail and "no confirmed subscription" in alarms.detail

    sns = boto3.client("sns", region_name="us-east-1")
    sns.delete_topic(TopicArn=sns.list_topics()["Topics"][0]["TopicArn"])
    gone = security(doctor())["alarms"]
    assert gone.status == FAIL and "no longer exists" in gone.detail and "setup monitoring" in gone.hint

    setup_monitoring("ops@example.com", bucket=bucket_name)
    boto3.client("cloudwatch", region_name="us-east-1").delete_alarms(AlarmNames=[alarm_prefix(bucket_name) + "5xx-errors"])
    report = doctor()
    missing = security(report)["alarms"]
    assert missing.status == FAIL and "5xx-errors" in missing.detail and not report.ok


def test_old_key_points_to_rotate_key(admin):
    settings = load_settings()
    client = lambda service: aws.client(settings, service)  # noqa: E731
    status, detail, hint = access_key_age(settings, client, now=datetime.now(timezone.utc) + timedelta(days=91))
    assert status == WARN and "is 91 days old" in detail and hint == "run `drumscribe iam rotate-key` with administrator credentials"


def test_ip_allowlist_ranges_are_shown(admin, bucket_name):
    from drumscribe.provision.allowlist import setup_ip_allowlist

    setup_ip_allowlist(["203.0.113.0/24"], yes=True, bucket=bucket_name)
    check = security(doctor())["ip-allowlist"]
    assert check.status == PASS and check.detail == "requests only from 203.0.113.0/24"


def test_temporary_credentials_have_nothing_to_rotate(admin):
    sts = boto3.client("sts", region_name="us-east-1", aws_access_key_id=admin["AccessKeyId"], aws_secret_access_key=admin["SecretAccessKey"])
    creds = sts.get_session_token()["Credentials"]
    settings = load_settings().replace(access_key_id=creds["AccessKeyId"], secret_access_key=creds["SecretAccessKey"], session_token=creds["SessionToken"])
    status, detail, _ = access_key_age(settings, lambda service: aws.client(settings, service))
    assert status == PASS and detail.startswith("temporary credentials (") and "nothing to rotate" in detail


def test_root_mfa_on_passes():
    class IAM:
        def get_account_summary(self):
            return {"SummaryMap": {"AccountMFAEnabled": 1}}

    assert root_mfa(IAM())[0] == PASS


def test_cloudtrail_present_and_logging(admin):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="drumscribe-audit-logs")
    ct = boto3.client("cloudtrail", region_name="us-east-1")
    ct.create_trail(Name="audit", S3BucketName="drumscribe-audit-logs")
    idle = security(doctor())["cloudtrail"]
    assert idle.status == WARN and idle.hint == "aws cloudtrail start-logging --name audit"
    ct.start_logging(Name="audit")
    assert security(doctor())["cloudtrail"].status == PASS


def test_app_key_skips_what_it_may_not_see(admin, bucket_name, tmp_path):
    """The least-privilege key of `setup iam`, with moto enforcing IAM: no permission, no failure."""
    from moto.core import enable_iam_authentication

    setup_monitoring("ops@example.com", bucket=bucket_name)
    setup(bucket=bucket_name, steps=["iam"], env_file=tmp_path / "app.env")
    values = read_env(tmp_path / "app.env")
    settings = load_settings().replace(access_key_id=values["AWS_ACCESS_KEY_ID"], secret_access_key=values["AWS_SECRET_ACCESS_KEY"])
    with enable_iam_authentication():
        report = doctor(settings)
    found = security(report)
    for name in ("alarms", "ip-allowlist", "access-key-age", "root-mfa", "cloudtrail"):
        assert found[name].status == SKIP and found[name].detail.startswith("skipped: no permission"), found[name]
    assert found["env-in-git"].status == PASS and report.ok


def test_env_tracked_by_git_fails_naming_it_and_the_way_out(admin, isolated_env):
    env = isolated_env / ".env"
    env.write_text(f"AWS_S3_BUCKET=x\nAWS_SECRET_ACCESS_KEY={admin['SecretAccessKey']}\n")
    git("init", "-q")
    git("add", "-f", ".env")
    report = doctor()
    check = security(report)["env-in-git"]
    assert check.status == FAIL and not report.ok
    assert f"{env} is tracked by git" in check.detail and "treat the key as leaked" in check.detail
    assert "rm --cached .env" in check.hint and "drumscribe iam rotate-key" in check.hint
    assert admin["SecretAccessKey"] not in check.detail + check.hint

    result = CliRunner().invoke(app, ["doctor"], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "failed: env-in-git" in result.stdout
    assert json.loads(CliRunner().invoke(app, ["doctor", "--json"]).stdout)["security"][0]["status"] == FAIL


def test_env_in_git_but_not_ignored_warns_and_setup_iam_fixes_it(admin, isolated_env, bucket_name):
    git("init", "-q")
    (isolated_env / ".env").write_text("DRUMSCRIBE_USER=alice\n")
    assert security(doctor())["env-in-git"].status == WARN
    (result,) = setup(bucket=bucket_name, steps=["iam"])
    assert f"/.env, /.env.bak added to {isolated_env / '.gitignore'}" in result.detail
    assert security(doctor())["env-in-git"].status == PASS
    (again,) = setup(bucket=bucket_name, steps=["iam"])
    assert ".gitignore" not in again.detail and (isolated_env / ".gitignore").read_text().count("/.env\n") == 1


def test_local_backend_still_checks_env_in_git(isolated_env):
    report = doctor()
    assert report.backend == "local" and [c.name for c in report.security] == ["env-in-git"]
