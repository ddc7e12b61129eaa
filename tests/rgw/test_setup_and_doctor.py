"""`setup` and `doctor` on Ceph RGW, a real S3 implementation that is not AWS (issue 25).

What RGW 16 lacks is reported as "not supported by this endpoint", with what it means and how to get
it there; never a traceback, never a silent pass; and both commands end with a table and exit 0.
"""

from __future__ import annotations

import json

import botocore.exceptions as bexc
import pytest
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.provision import documents

UNSUPPORTED = "not supported by this endpoint"


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def rows(output: str) -> dict[str, tuple[str, str]]:
    """setup's table -> {step: (status, detail)} (continuation lines joined)."""
    found: dict[str, list[str]] = {}
    last = None
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")] if line.startswith("│") else None
        if not cells or len(cells) != 3:
            continue
        if cells[0]:
            last = cells[0]
            found[last] = [cells[1], cells[2]]
        elif last:
            found[last][1] += " " + cells[2]
    return {k: (v[0], v[1]) for k, v in found.items()}


def test_setup_on_a_fresh_bucket_adapts_to_what_rgw_lacks_and_exits_0(rgw, rgw_bucket, no_app_user):
    result = cli("setup", "--bucket", rgw_bucket, "--env-file", "app.env")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    table = rows(result.stdout)
    assert list(table) == ["bucket", "block-public", "encryption", "tls-policy", "lifecycle", "cors", "iam"]
    assert table["bucket"][0] == "changed" and "object ownership controls: not supported by this endpoint (Ceph RGW)" in table["bucket"][1]
    assert table["block-public"][0] == "changed" and "BlockPublicAcls is left off" in table["block-public"][1]
    assert table["encryption"] == (UNSUPPORTED, table["encryption"][1]) and "dmcrypt" in table["encryption"][1]
    assert table["tls-policy"][0] == "skipped"  # plain HTTP
    assert table["lifecycle"][0] == "changed" and table["cors"][0] == "changed"
    assert table["iam"][0] == UNSUPPORTED and "radosgw-admin user create --uid drum-transcription-app" in table["iam"][1]

    s3 = rgw.s3()
    blocks = s3.get_public_access_block(Bucket=rgw_bucket)["PublicAccessBlockConfiguration"]
    assert blocks == {"BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    s3.put_object(Bucket=rgw_bucket, Key="uploads/tester/still-works.wav", Body=b"RIFF")  # uploads are not broken
    assert [k for k in s3.list_objects_v2(Bucket=rgw_bucket, Prefix="temp/").get("Contents", [])] == []  # setup's probe is gone

    again = rows(cli("setup", "--bucket", rgw_bucket, "--env-file", "app.env").stdout)
    assert {step: status for step, (status, _) in again.items()} == {
        "bucket": "in place", "block-public": "in place", "encryption": UNSUPPORTED, "tls-policy": "skipped",
        "lifecycle": "in place", "cors": "in place", "iam": UNSUPPORTED}


def test_a_bucket_left_with_every_public_block_on_is_repaired(rgw, rgw_bucket):
    """What an older setup did: all four flags, so RGW 16 refused every upload. Not left worse."""
    s3 = rgw.s3()
    s3.create_bucket(Bucket=rgw_bucket)
    s3.put_public_access_block(Bucket=rgw_bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    with pytest.raises(bexc.ClientError, match="AccessDenied"):  # the RGW bug the step works around
        s3.put_object(Bucket=rgw_bucket, Key="uploads/tester/a.wav", Body=b"RIFF")
    result = cli("setup", "block-public", "--bucket", rgw_bucket)
    assert result.exit_code == 0, result.output
    assert rows(result.stdout)["block-public"][0] == "changed"
    s3.put_object(Bucket=rgw_bucket, Key="uploads/tester/a.wav", Body=b"RIFF")


def test_setup_iam_puts_the_app_permissions_on_the_user_radosgw_admin_made(rgw, rgw_bucket, app_user, tmp_path):
    env = tmp_path / "app.env"
    env.write_text(f"AWS_ACCESS_KEY_ID={app_user.key}\nAWS_SECRET_ACCESS_KEY={app_user.secret}\n")
    assert cli("setup", "bucket", "--bucket", rgw_bucket).exit_code == 0
    result = cli("setup", "iam", "--bucket", rgw_bucket, "--env-file", str(env))
    assert result.exit_code == 0, result.output
    status, detail = rows(result.stdout)["iam"]
    assert status == "changed" and "inline policy DrumTranscriptionS3Policy on user drum-transcription-app" in detail
    assert f"the key in {env} is drum-transcription-app's" in detail
    iam = rgw.iam()
    doc = iam.get_user_policy(UserName="drum-transcription-app", PolicyName="DrumTranscriptionS3Policy")["PolicyDocument"]
    assert rgw_bucket in documents.buckets_in_iam_policy(doc)
    assert "s3:GetEncryptionConfiguration" not in json.dumps(doc)  # RGW 16 refuses the whole document with it
    assert rows(cli("setup", "iam", "--bucket", rgw_bucket, "--env-file", str(env)).stdout)["iam"][0] == "in place"


def test_doctor_prints_what_the_endpoint_supports_and_exits_0(rgw, rgw_bucket):
    assert cli("setup", "--bucket", rgw_bucket, "--env-file", "app.env").exit_code == 0
    result = cli("--bucket", rgw_bucket, "doctor")
    assert result.exit_code == 0, result.output
    assert "what this endpoint supports" in result.stdout
    assert "all checks passed or are not supported by this endpoint: encryption, public-access" in result.stdout

    report = json.loads(cli("--bucket", rgw_bucket, "doctor", "--json").stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is True
    # GetCallerIdentity answers 405 on RGW: doctor goes on, and says who the keys belong to another way
    assert checks["credentials"]["status"] == "pass" and checks["credentials"]["detail"].startswith("authenticated as admin")
    assert {n: c["status"] for n, c in checks.items()} == {
        "configuration": "pass", "endpoint": "pass", "credentials": "pass", "bucket": "pass", "round-trip": "pass",
        "encryption": "warn", "lifecycle": "pass", "cors": "pass", "public-access": "warn", "cleanup": "pass"}
    assert UNSUPPORTED in checks["encryption"]["detail"] and "dmcrypt" in checks["encryption"]["hint"]
    features = {c["name"]: c for c in report["capabilities"]}
    # GetBucketEncryption answers 200 with a listing of the bucket: read as "not supported", not as a pass
    assert features["default encryption"]["status"] == "warn" and "listing of the bucket" in features["default encryption"]["detail"]
    assert features["object ownership controls"]["status"] == "warn"
    assert features["IAM users and keys"]["status"] == "warn" and "radosgw-admin" in features["IAM users and keys"]["hint"]
    assert features["inline user policies"]["status"] == "pass"
    assert features["STS GetCallerIdentity"]["status"] == "warn"
    assert {features[n]["status"] for n in ("public access block", "bucket policy", "lifecycle rules", "CORS rules")} == {"pass"}
    security = {c["name"]: c for c in report["security"]}
    assert security["alarms"]["detail"] == "skipped: not supported by this endpoint (no cloudwatch API there)"


def test_doctor_with_the_app_key(rgw, rgw_bucket, app_user, tmp_path):
    env = tmp_path / "app.env"
    env.write_text(f"AWS_ACCESS_KEY_ID={app_user.key}\nAWS_SECRET_ACCESS_KEY={app_user.secret}\n")
    assert cli("setup", "--bucket", rgw_bucket, "--env-file", str(env)).exit_code == 0
    report = json.loads(cli("--bucket", rgw_bucket, "doctor", "--json", env=app_user.env()).stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["credentials"]["detail"].startswith("authenticated as drum-transcription-app")
    assert [checks[n]["status"] for n in ("bucket", "round-trip", "lifecycle", "cors", "cleanup")] == ["pass"] * 5
    assert checks["encryption"]["status"] == "warn"
    assert checks["public-access"]["status"] == "skip"  # RGW lets only the owner read it, whatever the user policy says
