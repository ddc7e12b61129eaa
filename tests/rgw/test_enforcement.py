"""What moto cannot prove, proven on a real S3 server (Ceph RGW): every refusal below comes from the
server, not from drumscribe's own check of its policy. Each test first shows the allowed request
going through, so a refusal means the rule, not a broken set-up; and each fails if the server let
the forbidden request through.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request

import botocore.exceptions as bexc
import httpx
import pytest
from typer.testing import CliRunner

from drumscribe import keys
from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.provision import setup

pytest.importorskip("fastapi", reason="the service needs the `serve` extra")
# starlette announces a future switch of its test client's HTTP library; nothing to act on here
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")

PAGE = "http://127.0.0.1:8765"  # the origin a `drumscribe serve` page would have


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


def denied(call) -> str:
    """The error code the server answered ``call`` with; fails the test if the call went through."""
    with pytest.raises(bexc.ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


@pytest.fixture
def bucket(rgw, rgw_bucket):
    setup(bucket=rgw_bucket, steps=["bucket", "block-public", "lifecycle", "cors"], origins=[PAGE])
    return rgw_bucket


# -- the browser's upload: a presigned POST, its policy checked by the server -----------------------


def service_ticket(bucket: str, size: int, filename: str = "song.wav", *, max_mb: float = 0.01) -> dict:
    """A ticket from drumscribe's own service (POST /api/uploads), as the page gets it."""
    from fastapi.testclient import TestClient

    from drumscribe.service.app import create_app
    from drumscribe.storage.s3 import S3Storage

    settings = load_settings({"bucket": bucket}).replace(max_upload_mb=max_mb)
    with TestClient(create_app(settings, storage=S3Storage(settings))) as client:
        response = client.post("/api/uploads", json={"filename": filename, "size": size, "content_type": "audio/wav"})
    assert response.status_code == 201, response.text
    return response.json()


def post(ticket: dict, data: bytes, **forged: str) -> httpx.Response:
    """What the page does with a ticket, straight to the bucket: the fields, then the file."""
    fields = {**ticket["fields"], **forged}
    return httpx.post(ticket["url"], data=fields, files={"file": ("song.wav", data, "audio/wav")}, timeout=30)


def stored(rgw, bucket: str, key: str) -> bool:
    try:
        rgw.s3().head_object(Bucket=bucket, Key=key)
        return True
    except bexc.ClientError:
        return False


def test_an_upload_within_its_ticket_is_stored(rgw, bucket):
    ticket = service_ticket(bucket, 4000)
    assert ticket["url"] == f"{rgw.endpoint}/{bucket}"  # the browser posts to the bucket, not to the app
    response = post(ticket, b"RIFF" + b"\0" * 3996)
    assert response.status_code == 204, response.text
    assert stored(rgw, bucket, ticket["key"])


def size_bound(ticket: dict) -> int:
    """The upper end of the content-length-range the ticket's signed policy states."""
    import base64

    conditions = json.loads(base64.b64decode(ticket["fields"]["policy"]))["conditions"]
    (bound,) = [c[2] for c in conditions if isinstance(c, list) and c[0] == "content-length-range"]
    return int(bound)


def test_a_post_over_the_size_bound_is_refused_by_the_server(rgw, bucket):
    ticket = service_ticket(bucket, 4000, max_mb=0.01)
    bound = size_bound(ticket)
    assert bound < 40_000  # the app's limit (with its room for a WAV stored as FLAC), not S3's 5 GB
    response = post(ticket, b"RIFF" + b"\0" * bound)  # one byte over
    assert response.status_code == 400 and "EntityTooLarge" in response.text, response.text
    assert not stored(rgw, bucket, ticket["key"])


def test_a_post_to_another_prefix_is_refused_by_the_server(rgw, bucket):
    ticket = service_ticket(bucket, 4000)
    elsewhere = ticket["key"].replace("uploads/tester/", "uploads/someone-else/")
    response = post(ticket, b"RIFF" + b"\0" * 3996, key=elsewhere)
    assert response.status_code == 403, response.text
    assert not stored(rgw, bucket, elsewhere) and not stored(rgw, bucket, ticket["key"])
    outside = "processed/tester/forged/transcription.json"
    assert post(ticket, b"{}", key=outside).status_code == 403
    assert not stored(rgw, bucket, outside)


def test_an_expired_ticket_is_refused_by_the_server(rgw, bucket):
    from drumscribe.service.s3service import S3Service
    from drumscribe.storage.s3 import S3Storage

    service = S3Service(S3Storage(load_settings({"bucket": bucket})), upload_seconds=1)
    key = keys.upload_key("tester", "late.wav", "0" * 64)
    ticket = {"url": None, "key": key, **asyncio.run(service.presigned_post(key, user_id="tester", max_bytes=10_000, content_type="audio/wav"))}
    time.sleep(2.5)  # the policy's expiration is in whole seconds
    response = post(ticket, b"RIFF" + b"\0" * 100)
    assert response.status_code == 403 and "AccessDenied" in response.text, response.text
    assert not stored(rgw, bucket, key)


# -- CORS: the preflight a browser sends before that POST -------------------------------------------


def preflight(url: str, origin: str) -> tuple[int, str]:
    request = urllib.request.Request(url, method="OPTIONS", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Access-Control-Allow-Origin", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Access-Control-Allow-Origin", "")


def test_cors_lets_the_pages_origin_preflight_and_refuses_another(rgw, bucket):
    from drumscribe.doctor import cors_preflight

    url = f"{rgw.endpoint}/{bucket}"
    assert preflight(url, PAGE) == (200, PAGE)
    status, allowed = preflight(url, "http://evil.example")
    assert status == 403 and allowed == ""
    assert cors_preflight(load_settings({"bucket": bucket}), PAGE).startswith(f"a browser on {PAGE} may POST uploads")


# -- setup ip-allowlist ------------------------------------------------------------------------------


def test_the_ip_allowlist_refuses_requests_from_outside_and_removing_it_restores_access(rgw, bucket, app_user):
    s3 = rgw.s3()
    s3.put_object(Bucket=bucket, Key="uploads/tester/before.wav", Body=b"RIFF")  # allowed before
    result = cli("setup", "ip-allowlist", "203.0.113.0/24", "--yes", "--bucket", bucket)
    assert result.exit_code == 0, result.output
    assert "you are outside the ranges you allowed" in result.stderr and "radosgw-admin user modify" in result.stderr
    # every request comes from 127.0.0.1, outside 203.0.113.0/24: refused, the owner's too
    assert denied(lambda: s3.get_object(Bucket=bucket, Key="uploads/tester/before.wav")) == "AccessDenied"
    assert denied(lambda: s3.put_object(Bucket=bucket, Key="uploads/tester/after.wav", Body=b"RIFF")) == "AccessDenied"
    assert cli("--bucket", bucket, "ls").exit_code == 4

    # the way back on Ceph (there is no root user): the system flag lets the owner past the policy
    rgw.rgw._ceph("radosgw-admin", "user", "modify", "--uid=admin", "--system")
    try:
        removed = cli("setup", "ip-allowlist", "--remove", "--bucket", bucket)
    finally:
        rgw.rgw._ceph("radosgw-admin", "user", "modify", "--uid=admin", "--system=0")
    assert removed.exit_code == 0, removed.output
    assert s3.get_object(Bucket=bucket, Key="uploads/tester/before.wav")["Body"].read() == b"RIFF"


# -- least privilege: the app's permissions as an inline user policy ---------------------------------


def test_the_app_key_may_use_its_own_bucket_only(rgw, bucket, app_user, rgw_bucket, tmp_path):
    env = tmp_path / "app.env"
    env.write_text(f"AWS_ACCESS_KEY_ID={app_user.key}\nAWS_SECRET_ACCESS_KEY={app_user.secret}\n")
    assert cli("setup", "iam", "--bucket", bucket, "--env-file", str(env)).exit_code == 0
    other = f"{rgw_bucket}-other"
    rgw.s3().create_bucket(Bucket=other)  # the owner's, not the app's
    rgw.s3().put_object(Bucket=other, Key="uploads/tester/theirs.wav", Body=b"RIFF")

    app_s3, app_iam = rgw.s3(app_user.key, app_user.secret), rgw.iam(app_user.key, app_user.secret)
    key = "uploads/tester/mine.wav"
    app_s3.put_object(Bucket=bucket, Key=key, Body=b"RIFF")  # its own bucket: yes
    assert app_s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"RIFF"
    assert [o["Key"] for o in app_s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    app_s3.delete_object(Bucket=bucket, Key=key)

    # another bucket: no
    assert denied(lambda: app_s3.put_object(Bucket=other, Key="uploads/tester/x.wav", Body=b"RIFF")) == "AccessDenied"
    assert denied(lambda: app_s3.get_object(Bucket=other, Key="uploads/tester/theirs.wav")) == "AccessDenied"
    assert denied(lambda: app_s3.list_objects_v2(Bucket=other)) == "AccessDenied"
    # its own bucket's settings, a new bucket, IAM: no
    assert denied(lambda: app_s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={
        "CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]})) == "AccessDenied"
    assert denied(lambda: app_s3.delete_bucket_policy(Bucket=bucket)) == "AccessDenied"
    assert denied(lambda: app_s3.create_bucket(Bucket=f"{rgw_bucket}-mine")) == "AccessDenied"
    wide_open = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    with pytest.raises(bexc.ClientError) as refused:
        app_iam.put_user_policy(UserName="drum-transcription-app", PolicyName="more", PolicyDocument=wide_open)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    names = rgw.iam().list_user_policies(UserName="drum-transcription-app")["PolicyNames"]
    assert names == ["DrumTranscriptionS3Policy"]  # nothing was added
