"""The service on S3 (a moto server): the browser's form goes to the bucket, never to the app.

moto accepts presigned POSTs without checking their policy, so what S3 would refuse is shown
by evaluating the signed policy document itself, with the rules S3 applies (``policy.check_post``).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlparse

import boto3
import httpx
import pytest
from service_helpers import ticket, wait

from drumscribe.provision import setup
from drumscribe.service import policy

pytestmark = pytest.mark.e2e
ORIGIN = "http://127.0.0.1:8123"


@pytest.fixture
def s3_client(moto_server, bucket_name, monkeypatch, make_client):
    setup(bucket=bucket_name, steps=["bucket", "encryption", "cors"], origins=[ORIGIN])
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    return make_client()


def test_upload_goes_straight_to_the_bucket_and_the_result_comes_back_by_presigned_link(s3_client, moto_server, bucket_name, song):
    info = s3_client.get("/api/info").json()
    assert info["backend"] == "s3" and info["bucket"] == bucket_name

    doc = ticket(s3_client, "song.wav", len(song))
    assert doc["url"] == f"{moto_server}/{bucket_name}"  # the bucket, not the app
    form = httpx.post(doc["url"], data=doc["fields"], files={"file": ("song.wav", song, "audio/wav")}, headers={"Origin": ORIGIN})
    assert form.status_code == 204 and form.headers["access-control-allow-origin"] == ORIGIN

    job = s3_client.post("/api/jobs", json={"upload_key": doc["key"]}).json()
    done = wait(s3_client, job["job_id"])
    assert done["state"] == "done", done
    assert done["result"]["midi_url"].startswith(f"{moto_server}/{bucket_name}/processed/tester/")
    assert "Signature" in done["result"]["midi_url"] or "X-Amz-Signature" in done["result"]["midi_url"]
    midi = httpx.get(done["result"]["midi_url"])
    assert midi.status_code == 200 and midi.content.startswith(b"MThd")
    # S3 names the download: the Content-Disposition it sends back is signed into the link
    # (moto does not send it back; real S3 and radosgw do)
    asked = parse_qs(urlparse(done["result"]["midi_url"]).query)["response-content-disposition"]
    assert asked == ["attachment; filename=\"song.mid\"; filename*=UTF-8''song.mid"] and done["result"]["midi_name"] == "song.mid"
    # the app's own upload endpoint is for the local mirror only
    assert s3_client.post("/api/uploads/local", files={"file": ("a.wav", b"x")}).status_code == 404


def test_the_presigned_post_policy_bounds_key_size_type_and_encryption(s3_client, bucket_name, song):
    doc = ticket(s3_client, "song.wav", len(song))
    signed = json.loads(base64.b64decode(doc["fields"]["policy"]))
    conditions = signed["conditions"]
    # the hard bound S3 enforces: a WAV may be sent up to 3x the limit (it is stored as a FLAC that
    # must fit it); any other file up to the limit
    assert ["content-length-range", 1, 150 * 1048576] in conditions
    flac = json.loads(base64.b64decode(ticket(s3_client, "song.flac", len(song), content_type="audio/flac")["fields"]["policy"]))
    assert ["content-length-range", 1, 50 * 1048576] in flac["conditions"]
    assert ["starts-with", "$key", "uploads/tester/"] in conditions
    assert ["starts-with", "$Content-Type", "audio/"] in conditions
    assert {"key": doc["key"]} in conditions and {"bucket": bucket_name} in conditions
    assert {"x-amz-server-side-encryption": "AES256"} in conditions

    fields = doc["fields"]
    policy.check_post(signed, fields, len(song))  # the page's own form passes
    refusals = {
        "over the bound": (fields, 150 * 1048576 + 1),
        "empty": (fields, 0),
        "another user's key": ({**fields, "key": "uploads/bob/20260101T000000Z_0123456789ab_a.wav"}, 10),
        "not audio": ({**fields, "Content-Type": "text/plain"}, 10),
        "no encryption": ({k: v for k, v in fields.items() if k != "x-amz-server-side-encryption"}, 10),
        "an extra field": ({**fields, "acl": "public-read"}, 10),
    }
    for what, (form, size) in refusals.items():
        with pytest.raises(policy.PolicyError):
            policy.check_post(signed, form, size)
            pytest.fail(f"{what} was accepted")


def test_doctor_makes_the_browsers_preflight(s3_client, bucket_name):
    from drumscribe.doctor import doctor

    allowed = {c.name: c for c in doctor(origin=ORIGIN).checks}
    assert allowed["cors-preflight"].status == "pass", allowed["cors-preflight"]
    assert allowed["cors"].status == "pass"  # --origin is also the origin the rules should name

    refused = {c.name: c for c in doctor(origin="http://evil.example:9").checks}
    assert refused["cors-preflight"].status == "fail"
    assert "refuses uploads from http://evil.example:9" in refused["cors-preflight"].detail
    assert refused["cors-preflight"].hint == "run `drumscribe setup cors --origins http://evil.example:9`"


def test_doctor_fails_the_preflight_of_a_bucket_without_cors_rules(moto_server, bucket_name, monkeypatch):
    from drumscribe.doctor import doctor

    setup(bucket=bucket_name, steps=["bucket"])
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    check = {c.name: c for c in doctor(origin=ORIGIN).checks}["cors-preflight"]
    # S3 refuses such a preflight; moto answers it, so doctor reads the rules first
    assert check.status == "fail" and "no CORS rules" in check.detail


def test_setup_cors_then_doctor_origin_from_the_cli(moto_server, bucket_name, monkeypatch):
    from typer.testing import CliRunner

    from drumscribe.cli import app

    monkeypatch.setenv("COLUMNS", "200")
    cli = CliRunner()
    made = cli.invoke(app, ["setup", "--bucket", bucket_name, "bucket"])
    assert made.exit_code == 0, made.output
    cors = cli.invoke(app, ["setup", "--bucket", bucket_name, "cors", "--origins", "http://127.0.0.1:8000/"])
    assert cors.exit_code == 0 and "origins http://127.0.0.1:8000)" in cors.output  # trailing slash dropped
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    report = json.loads(cli.invoke(app, ["doctor", "--json", "--origin", "http://127.0.0.1:8000"]).output)
    assert {c["name"]: c["status"] for c in report["checks"]}["cors-preflight"] == "pass"
    bad = cli.invoke(app, ["setup", "--bucket", bucket_name, "cors", "--origins", "http://127.0.0.1:8000/app"])
    assert bad.exit_code == 2 and "is not an origin" in bad.output


def test_a_wav_over_the_limit_goes_to_the_bucket_and_only_its_flac_stays(s3_client, moto_server, bucket_name, song, monkeypatch,
                                                                          make_client):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "0.25")  # the 441 KB song is over it, its FLAC is not
    client = make_client()
    doc = ticket(client, "song.wav", len(song))
    form = httpx.post(doc["url"], data=doc["fields"], files={"file": ("song.wav", song, "audio/wav")}, headers={"Origin": ORIGIN})
    assert form.status_code == 204
    done = wait(client, client.post("/api/jobs", json={"upload_key": doc["key"]}).json()["job_id"])
    assert done["state"] == "done", done
    listed = boto3.client("s3", endpoint_url=moto_server).list_objects_v2(Bucket=bucket_name, Prefix="uploads/")["Contents"]
    assert [(o["Key"].endswith("_song.wav.flac"), o["Size"] <= 262144) for o in listed] == [(True, True)]
