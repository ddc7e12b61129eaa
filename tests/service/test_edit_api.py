"""serve's editor API: GET/PUT /api/jobs/{id}/edited with If-Match, and the job's links and counts
following the edited revision; on the local mirror and on S3 (a moto server)."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from service_helpers import ALICE, BOB, bearer

from drumscribe.config import load_settings
from drumscribe.jobs.edits import model_revision
from drumscribe.keys import edited_key, midi_key, transcription_key
from drumscribe.storage import get_storage
from test_edits import JOB, model_transcription, with_changes

TOKENS = {ALICE: "tester", BOB: "bob"}


@pytest.fixture(params=["local", "s3"])
def served(request, make_client, monkeypatch, bucket_name):
    """A stored job of user tester (alice's token), and the app over the same storage."""
    if request.param == "s3":
        request.getfixturevalue("moto_server")
        from drumscribe.provision import setup

        setup(bucket=bucket_name, steps=["bucket", "encryption"])
        monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    storage = get_storage(load_settings(), announce=False)
    data = model_transcription().to_json().encode()
    storage.put(transcription_key("tester", JOB), data)
    storage.put(midi_key("tester", JOB), model_transcription().to_midi())
    client = make_client(tokens=TOKENS)
    client.headers.update(bearer(ALICE))
    return client, storage, model_revision(data)


def events(changes=True):
    model = model_transcription()
    chosen = with_changes(model) if changes else model.events
    return [{"time": e.time, "instrument": e.instrument, "velocity": e.velocity, "confidence": e.confidence} for e in chosen]


def test_a_save_names_its_revision_and_a_stale_one_is_refused(served):
    client, storage, sha = served
    status = client.get(f"/api/jobs/{JOB}").json()
    assert status["result"]["revision"] == sha and status["result"]["edited"] is None
    missing = client.get(f"/api/jobs/{JOB}/edited")
    assert missing.status_code == 404 and missing.headers["etag"] == f'"{sha}"'

    assert client.put(f"/api/jobs/{JOB}/edited", json={"events": events()}).status_code == 428
    saved = client.put(f"/api/jobs/{JOB}/edited", json={"events": events()}, headers={"If-Match": f'"{sha}"'})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert saved.headers["etag"] == f'"{body["revision"]}"' and body["parent"] == sha and body["based_on"] == sha
    assert body["summary"] == {"added": 1, "removed": 1, "moved": 1, "relabelled": 1}
    assert body["note"] == "edited revision (1 added, 1 removed, 1 moved, 1 relabelled)"

    stale = client.put(f"/api/jobs/{JOB}/edited", json={"events": events(False)}, headers={"If-Match": f'"{sha}"'})
    assert stale.status_code == 409 and "nothing was saved" in stale.json()["detail"]
    assert stale.headers["etag"] == f'"{body["revision"]}"'  # what to reload
    got = client.get(f"/api/jobs/{JOB}/edited")
    assert got.status_code == 200 and got.headers["etag"] == f'"{body["revision"]}"'
    assert got.json()["edit"]["summary"] == body["summary"] == json.loads(storage.get(edited_key("tester", JOB)))["edit"]["summary"]

    again = client.put(f"/api/jobs/{JOB}/edited", json={"events": events(False)}, headers={"If-Match": f'W/"{body["revision"]}"'})
    assert again.status_code == 200 and again.json()["parent"] == body["revision"]


def test_the_job_its_links_and_its_page_follow_the_edit(served):
    client, storage, sha = served
    before = client.get(f"/api/jobs/{JOB}").json()["result"]
    saved = client.put(f"/api/jobs/{JOB}/edited", json={"events": events()}, headers={"If-Match": sha}).json()
    status = client.get(f"/api/jobs/{JOB}").json()["result"]  # the cached summary is not shown any more
    assert status["edited"]["revision"] == saved["revision"] and status["revision"] == saved["revision"]
    assert status["counts"]["tom_low"] == 1 and "tom_low" not in before["counts"]
    assert "edited.json" in status["json_url"] and "edited.mid" in status["midi_url"]
    listed = client.get("/api/jobs").json()["jobs"]
    assert listed[0]["result"]["edited"]["summary"] == saved["summary"]

    html = client.get(f"/api/jobs/{JOB}/view").text
    data = json.loads(re.search(r'id="drumscribe-data">(.*?)</script>', html, re.S).group(1))
    assert data["edit"]["mode"] == "parent" and data["edit"]["revision"] == saved["revision"] and data["edit"]["based_on"] == sha
    assert any(data["lanes"][h[1]]["name"] == "tom_low" for h in data["hits"])
    assert "Showing the edited revision (1 added, 1 removed, 1 moved, 1 relabelled)" in html
    if storage.name == "s3":  # the presigned link really gives the edited MIDI
        assert httpx.get(status["midi_url"]).content == storage.get("processed/tester/" + JOB + "/edited.mid")


def test_bad_events_and_other_users_are_refused(served):
    client, storage, sha = served
    bad = client.put(f"/api/jobs/{JOB}/edited", json={"events": [{"time": 1.0, "instrument": "cowbell"}]}, headers={"If-Match": sha})
    assert bad.status_code == 400 and "unknown instrument 'cowbell'" in bad.json()["detail"]
    late = client.put(f"/api/jobs/{JOB}/edited", json={"events": [{"time": 99.0, "instrument": "kick"}]}, headers={"If-Match": sha})
    assert late.status_code == 400 and "past the end" in late.json()["detail"]
    negative = client.put(f"/api/jobs/{JOB}/edited", json={"events": [{"time": -1, "instrument": "kick"}]}, headers={"If-Match": sha})
    assert negative.status_code == 422
    bob = bearer(BOB)
    assert client.put(f"/api/jobs/{JOB}/edited", json={"events": events()}, headers={"If-Match": sha, **bob}).status_code == 404
    assert client.get(f"/api/jobs/{JOB}/edited", headers=bob).status_code == 404
    assert client.put(f"/api/jobs/{JOB}/edited", json={"events": events()}, headers={"If-Match": sha,
                                                                                    "Authorization": "Bearer nope"}).status_code == 401
    assert client.put("/api/jobs/..%2F/edited", json={"events": []}, headers={"If-Match": sha}).status_code in (400, 404)
    assert not storage.exists(edited_key("tester", JOB)) and not storage.exists(edited_key("bob", JOB))
