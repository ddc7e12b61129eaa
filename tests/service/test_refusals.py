"""What the API refuses: missing or wrong tokens, other users' jobs, keys outside the caller's
prefixes, files over the limit and uploads that are not audio."""

from __future__ import annotations

import pytest
from service_helpers import ALICE, BOB, bearer, post_form, run_job, ticket, upload

from drumscribe.errors import ConfigError
from drumscribe.service.auth import Auth, check_bind

JOB = "20260101T000000Z-0123abcd"
ROUTES = [
    ("get", "/api/info", None),
    ("post", "/api/uploads", {"filename": "a.wav", "size": 10, "content_type": "audio/wav"}),
    ("post", "/api/uploads/local", None),
    ("post", "/api/jobs", {"upload_key": "uploads/alice/a.wav"}),
    ("get", "/api/jobs", None),
    ("get", f"/api/jobs/{JOB}", None),
    ("get", f"/api/jobs/{JOB}/view", None),
    ("post", f"/api/jobs/{JOB}/retry", None),
    ("delete", f"/api/jobs/{JOB}", None),
]


@pytest.fixture
def two_users(make_client):
    return make_client(tokens={ALICE: "alice", BOB: "bob"})


@pytest.mark.parametrize("method,path,body", ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_api_route_needs_the_token(two_users, method, path, body):
    kwargs = {"json": body} if body else {}
    missing = getattr(two_users, method)(path, **kwargs)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    wrong = getattr(two_users, method)(path, headers=bearer("alice-token-0123456788"), **kwargs)
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong API token"
    basic = getattr(two_users, method)(path, headers={"Authorization": f"Basic {ALICE}"}, **kwargs)
    assert basic.status_code == 401


def test_the_token_names_the_user_not_the_request(two_users):
    assert two_users.get("/api/info", headers=bearer(ALICE)).json()["user"] == "alice"
    assert two_users.get("/api/info", headers=bearer(BOB)).json()["user"] == "bob"
    # a user named in the body is not a thing the API reads: the key is built for the token's user
    doc = ticket(two_users, headers=bearer(BOB), user_id="alice")
    assert doc["key"].startswith("uploads/bob/")


def test_another_users_job_does_not_exist_for_you(two_users, song):
    alice = bearer(ALICE)
    done = run_job(two_users, song, headers=alice)
    assert done["state"] == "done"
    job = done["job_id"]
    bob = bearer(BOB)
    assert two_users.get(f"/api/jobs/{job}", headers=bob).status_code == 404
    assert two_users.get(f"/api/jobs/{job}/view", headers=bob).status_code == 404
    assert two_users.post(f"/api/jobs/{job}/retry", headers=bob).status_code == 404
    assert two_users.delete(f"/api/jobs/{job}", headers=bob).status_code == 404
    assert two_users.get("/api/jobs", headers=bob).json()["jobs"] == []
    assert two_users.get(f"/api/jobs/{job}", headers=alice).json()["state"] == "done"  # still there


def test_bob_cannot_start_a_job_on_alices_upload(two_users, song):
    key = upload(two_users, song, headers=bearer(ALICE))
    refused = two_users.post("/api/jobs", json={"upload_key": key}, headers=bearer(BOB))
    assert refused.status_code == 403 and "uploads/bob/" in refused.json()["detail"]


@pytest.mark.parametrize("key", [
    "uploads/someone-else/20260101T000000Z_0123456789ab_a.wav",
    "processed/tester/20260101T000000Z-0123abcd/output.mid",
    "uploads/tester/../someone-else/a.wav",
    "uploads/tester/nested/a.wav",
    "/uploads/tester/a.wav",
    "temp/20260101T000000Z-0123abcd/job.json",
])
def test_a_job_on_a_key_outside_your_uploads_is_refused(client, key):
    refused = client.post("/api/jobs", json={"upload_key": key})
    assert refused.status_code in (400, 403), refused.text
    assert refused.status_code == 403 or "key" in refused.json()["detail"]


def test_a_missing_upload_is_not_found(client):
    missing = client.post("/api/jobs", json={"upload_key": "uploads/tester/20260101T000000Z_0123456789ab_a.wav"})
    assert missing.status_code == 404


def test_an_upload_form_with_a_forged_key_is_refused(client, song):
    doc = ticket(client, size=len(song))
    forged = post_form(client, doc, song, key="uploads/someone-else/20260101T000000Z_0123456789ab_a.wav")
    assert forged.status_code == 403 and "key" in forged.json()["detail"]
    resigned = post_form(client, doc, song, policy=doc["fields"]["policy"][:-4] + "AAA=")
    assert resigned.status_code == 403 and "signature" in resigned.json()["detail"]


def test_a_file_over_the_limit_is_refused_before_and_during_upload(make_client, monkeypatch, song):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "0.05")  # 52 428 bytes; the song is ~440 KB
    client = make_client()
    # a FLAC is stored as sent: the limit is the bound; a WAV may be sent 3x bigger (it is stored as FLAC)
    for name, bound in (("song.flac", 52428), ("song.wav", 3 * 52428)):
        announced = client.post("/api/uploads", json={"filename": name, "size": bound + 1, "content_type": "audio/wav"})
        assert announced.status_code == 413 and "0.05 MB upload limit" in announced.json()["detail"]
        assert announced.json()["detail"].count(name) == 1
        # a browser that lies about the size is stopped by the policy (as S3 does with content-length-range)
        doc = ticket(client, name, size=1000)
        over = post_form(client, doc, song[:bound + 1000], filename=name)
        assert over.status_code in (403, 413)
        assert f"outside 1..{bound}" in over.json()["detail"] or "upload limit" in over.json()["detail"]
        assert client.post("/api/jobs", json={"upload_key": doc["key"]}).status_code == 404  # nothing stored


def test_a_file_that_is_not_audio_is_refused(client, song):
    for name, content_type in [("notes.txt", "text/plain"), ("song.exe", "application/octet-stream"), ("song.txt", "audio/wav")]:
        refused = client.post("/api/uploads", json={"filename": name, "size": 100, "content_type": content_type})
        assert refused.status_code == 415, (name, refused.text)
    # the policy pins the content type: the form cannot switch it to something else
    doc = ticket(client, size=len(song))
    switched = post_form(client, doc, song, content_type="text/plain", **{"Content-Type": "text/plain"})
    assert switched.status_code == 403 and "Content-Type" in switched.json()["detail"]


def test_a_tampered_download_link_is_refused(client, song):
    done = run_job(client, song)
    link = done["result"]["midi_url"]
    other = link.replace("output.mid", "transcription.json")  # same signature, another key
    assert client.get(other).status_code == 403
    assert client.get(link.replace("sig=", "sig=0")).status_code == 403
    renamed = link.replace("name=song.mid", "name=evil.exe")  # the download name is signed too
    assert "name=song.mid" in link and client.get(renamed).status_code == 403


def test_listening_beyond_this_machine_needs_a_token_or_insecure():
    nobody = Auth("tester")
    check_bind("127.0.0.1", nobody, insecure=False)
    check_bind("::1", nobody, insecure=False)
    check_bind("localhost", nobody, insecure=False)
    with pytest.raises(ConfigError, match="DRUMSCRIBE_API_TOKEN"):
        check_bind("0.0.0.0", nobody, insecure=False)
    check_bind("0.0.0.0", Auth("tester", {ALICE: "tester"}), insecure=False)
    check_bind("0.0.0.0", nobody, insecure=True)
    with pytest.raises(ConfigError, match="at least 16"):
        Auth("tester", {"short": "tester"})


def test_serve_on_another_address_without_a_token_is_one_line(monkeypatch):
    from typer.testing import CliRunner

    from drumscribe.cli import app

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "refusing to listen on 0.0.0.0" in result.output


def test_the_token_comes_from_the_environment(make_client, monkeypatch):
    monkeypatch.setenv("DRUMSCRIBE_API_TOKEN", ALICE)
    client = make_client()
    assert client.get("/api/info").status_code == 401
    assert client.get("/api/info", headers=bearer(ALICE)).json() == {
        "user": "tester", "backend": "local", "bucket": None, "max_bytes": 50 * 1048576, "max_wav_bytes": 150 * 1048576,
        "auth_required": True, "workers": 1}


def test_serve_without_the_web_stack_says_which_extra_to_install(monkeypatch):
    import sys

    from drumscribe.service.app import create_app

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if the `serve` extra were not installed
    with pytest.raises(ConfigError, match=r"pip install 'drumscribe\[serve\]'"):
        create_app()
