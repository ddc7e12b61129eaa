"""The JSON API without S3 (the local mirror): a song from upload to result, and each route's job."""

from __future__ import annotations

import json
import re

from service_helpers import post_form, run_job, ticket, upload, wait

from drumscribe import keys
from drumscribe.config import load_settings


def test_a_song_goes_from_upload_ticket_to_midi(client, song):
    info = client.get("/api/info").json()
    assert info == {"user": "tester", "backend": "local", "bucket": None, "max_bytes": 50 * 1048576,
                    "max_wav_bytes": 150 * 1048576, "auth_required": False, "workers": 1}

    doc = ticket(client, "My Song.wav", len(song))
    assert doc["key"].startswith("uploads/tester/") and doc["key"].endswith("_My_Song.wav")
    assert doc["url"] == "/api/uploads/local"  # no bucket: the app itself plays S3's part
    assert post_form(client, doc, song).status_code == 204

    started = client.post("/api/jobs", json={"upload_key": doc["key"]})
    assert started.status_code == 202
    assert started.json()["state"] in ("queued", "running")
    done = wait(client, started.json()["job_id"])

    assert done["state"] == "done", done
    assert done["filename"] == "My_Song.wav"
    assert done["result"]["counts"] == {"kick": 4, "snare": 4, "hihat_closed": 16}
    assert round(done["result"]["tempo"]) == 120
    midi = client.get(done["result"]["midi_url"])  # a signed link: no token needed, like a presigned URL
    assert midi.status_code == 200 and midi.content.startswith(b"MThd")
    # saved after the song, not as the stored output.mid
    assert (done["result"]["midi_name"], done["result"]["json_name"]) == ("My_Song.mid", "My_Song.json")
    assert midi.headers["content-disposition"] == "attachment; filename=\"My_Song.mid\"; filename*=UTF-8''My_Song.mid"
    assert 'filename="My_Song.json"' in client.get(done["result"]["json_url"]).headers["content-disposition"]
    stored = json.loads(client.get(done["result"]["json_url"]).content)
    assert stored["job_id"] == done["job_id"] and stored["source"]["key"] == doc["key"]

    listed = client.get("/api/jobs").json()
    assert listed["user"] == "tester"
    assert [j["job_id"] for j in listed["jobs"]] == [done["job_id"]]


def test_the_upload_is_stored_once_under_the_users_prefix(client, song):
    key = upload(client, song)
    run = client.post("/api/jobs", json={"upload_key": key}).json()
    assert wait(client, run["job_id"])["state"] == "done"
    root = load_settings().local_root
    uploads = sorted(p.relative_to(root).as_posix() for p in (root / "uploads").rglob("*") if p.is_file())
    assert uploads == [key]  # the job read the browser's upload; it did not store a second copy


def page_data(html: str) -> dict:
    """The JSON block the result page's script draws the grid from (hits, lanes, the original's URL)."""
    return json.loads(re.search(r'<script type="application/json" id="drumscribe-data">(.*?)</script>', html, re.S).group(1))


def test_result_page_has_the_grid_the_summary_the_tab_and_links(client, song):
    done = run_job(client, song)
    page = client.get(f"/api/jobs/{done['job_id']}/view")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "song.wav" in html and re.search(r"1(19\.[5-9]|20\.[0-4]) BPM", html)  # the summary (a 120 BPM groove)
    data = page_data(html)
    assert len(data["hits"]) == sum(done["result"]["counts"].values()) == 24  # one grid hit per event
    assert [lane["name"] for lane in data["lanes"] if lane["hits"]] == ["hihat_closed", "snare", "kick"]  # the drums played
    assert len(data["lanes"]) == 11  # and an (empty) lane for every other drum of the kit, to add a missed hit to
    assert "BD  |O-------O-------|" in html  # the text tab, under the grid
    assert "default-src 'none'" in html  # the view's own CSP: only its hashed script and style run

    links = dict((label, href.replace("&amp;", "&")) for href, label in re.findall(r'<a href="([^"]+)"[^>]*>(MIDI|JSON)</a>', html))
    assert client.get(links["MIDI"]).content.startswith(b"MThd")  # signed links: no token needed
    assert re.findall(r'download="([^"]+)"[^>]*>(MIDI|JSON)</a>', html) == [("song.mid", "MIDI"), ("song.json", "JSON")]
    assert 'filename="song.mid"' in client.get(links["MIDI"]).headers["content-disposition"]
    assert json.loads(client.get(links["JSON"]).content)["job_id"] == done["job_id"]
    assert "links valid until" in html
    # the original plays from the upload the browser made, through a signed link too
    assert data["audio"].startswith("/api/files?key=uploads%2Ftester%2F")
    assert client.get(data["audio"]).content == song

    # the page itself is static and user-free; /jobs/<id> serves it for the result view
    assert client.get(f"/jobs/{done['job_id']}").text == client.get("/").text
    assert "app.js" in client.get("/").text and client.get("/static/app.js").status_code == 200


def test_result_page_links_only_the_users_own_stored_original(client, song):
    done = run_job(client, song)
    root = load_settings().local_root
    result = root / keys.transcription_key("tester", done["job_id"])
    own = json.loads(result.read_text())["source"]["key"]

    (root / own).unlink()  # the upload is gone: the synthesized drums play alone
    assert page_data(client.get(f"/api/jobs/{done['job_id']}/view").text)["audio"] is None

    # a result naming someone else's upload never gets a link to it
    theirs = root / "uploads" / "bob" / "20261201T000000Z_0123456789ab_secret.wav"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(song)
    doc = json.loads(result.read_text())
    doc["source"]["key"] = theirs.relative_to(root).as_posix()
    result.write_text(json.dumps(doc))
    assert page_data(client.get(f"/api/jobs/{done['job_id']}/view").text)["audio"] is None


def test_a_failed_job_shows_one_line_and_can_be_retried(client):
    failed = run_job(client, b"RIFF but not really a wav file" * 10, "broken.wav")
    assert failed["state"] == "failed" and failed["retryable"] is True
    assert failed["error"] and "\n" not in failed["error"] and "broken.wav" in failed["error"]

    again = client.post(f"/api/jobs/{failed['job_id']}/retry")
    assert again.status_code == 202 and again.json()["job_id"] == failed["job_id"]
    assert wait(client, failed["job_id"])["state"] == "failed"
    # listed with its error; a done job cannot be retried
    assert client.get("/api/jobs").json()["jobs"][0]["error"] == failed["error"]


def test_a_done_job_cannot_be_retried(client, song):
    done = run_job(client, song)
    assert client.post(f"/api/jobs/{done['job_id']}/retry").status_code == 409


def test_delete_removes_results_record_and_upload(client, song):
    done = run_job(client, song)
    assert client.delete(f"/api/jobs/{done['job_id']}").status_code == 204
    assert client.get(f"/api/jobs/{done['job_id']}").status_code == 404
    assert client.get("/api/jobs").json()["jobs"] == []
    root = load_settings().local_root
    assert not [p for p in root.rglob("*") if p.is_file() and ".drumscribe" not in p.parts]
    assert client.delete(f"/api/jobs/{done['job_id']}").status_code == 404


def test_an_upload_two_jobs_share_goes_with_the_last_of_them(client, song):
    key = upload(client, song, "song.wav")
    ids = []
    for _ in range(2):  # two jobs on the one stored original (the second one asked for: force)
        started = client.post("/api/jobs", json={"upload_key": key, "force": bool(ids)})
        assert started.status_code == 202, started.text
        ids.append(started.json()["job_id"])
        assert wait(client, ids[-1])["state"] == "done"
    first, second = ({"job_id": i} for i in ids)
    stored = load_settings().local_root / key
    assert stored.is_file()

    assert client.delete(f"/api/jobs/{first['job_id']}").status_code == 204
    assert stored.is_file()  # the second job still plays it and can be retried
    assert client.delete(f"/api/jobs/{second['job_id']}").status_code == 204
    assert not stored.exists()


def test_the_same_song_again_is_answered_by_the_job_that_has_it(client, song):
    first = run_job(client, song)
    again = run_job(client, song, "same song, other name.wav")  # the page uploads it again: the job is not run again

    assert again["state"] == "done" and again["job_id"] != first["job_id"] and again["answered_by"] == first["job_id"]
    assert again["result"]["counts"] == first["result"]["counts"]
    assert again["result"]["view_url"] == f"/api/jobs/{first['job_id']}/view"
    assert client.get(f"/api/jobs/{again['job_id']}/view").status_code == 200
    root = load_settings().local_root
    assert len(list((root / "processed").rglob("transcription.json"))) == 1  # transcribed once
    assert [j["job_id"] for j in client.get("/api/jobs").json()["jobs"]] == [first["job_id"]]

    started = client.post("/api/jobs", json={"upload_key": upload(client, song), "force": True})  # asked for: again
    forced = wait(client, started.json()["job_id"])
    assert forced["state"] == "done" and forced["answered_by"] is None
    assert len(list((root / "processed").rglob("transcription.json"))) == 2


def test_openapi_documents_every_route(client):
    doc = client.get("/openapi.json").json()
    assert set(doc["paths"]) == {
        "/api/info", "/api/uploads", "/api/uploads/local", "/api/jobs", "/api/jobs/{job_id}",
        "/api/jobs/{job_id}/view", "/api/jobs/{job_id}/retry", "/api/files", "/api/jobs/{job_id}/edited",
        "/api/tune",  # tune on your corrections (service/tuning.py)
    }
    assert set(doc["paths"]["/api/jobs/{job_id}"]) == {"get", "delete"}
    assert set(doc["paths"]["/api/jobs/{job_id}/edited"]) == {"get", "put"}
    put = doc["paths"]["/api/jobs/{job_id}/edited"]["put"]
    assert {"409", "428"} <= set(put["responses"]) and any(p["name"] == "if-match" for p in put["parameters"])
    assert "UploadTicket" in doc["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_job_ids_are_validated(client):
    for bad in ("..", "x", "a" * 80, "job%2F..%2Fother"):
        assert client.get(f"/api/jobs/{bad}").status_code in (400, 404)
    assert client.get("/api/jobs/not-a-real-job-id").status_code == 404
    assert client.get("/api/jobs/bad.id.here").status_code == 400


def test_state_records_live_in_temp_and_go_when_done(client, song):
    done = run_job(client, song)
    assert not load_settings().local_root.joinpath(keys.temp_key(done["job_id"], "job.json")).exists()


def test_two_workers_transcribe_side_by_side_with_one_model(make_client, song):
    client = make_client(workers=2)
    started = [client.post("/api/jobs", json={"upload_key": upload(client, song, f"take{n}.wav")}).json() for n in range(3)]
    finished = [wait(client, job["job_id"]) for job in started]
    assert [j["state"] for j in finished] == ["done"] * 3
    assert len({json.dumps(j["result"]["counts"], sort_keys=True) for j in finished}) == 1  # same song, same result


def test_the_queue_is_bounded(make_client, song):
    import threading

    release = threading.Event()

    def slow(*args, **kwargs):
        release.wait(30)
        raise RuntimeError("a stand-in that never transcribes")

    client = make_client(transcribe=slow, max_waiting=1)
    first = client.post("/api/jobs", json={"upload_key": upload(client, song)})
    assert first.status_code == 202
    refused = client.post("/api/jobs", json={"upload_key": upload(client, song, "take2.wav")})
    assert refused.status_code == 503 and "already waiting" in refused.json()["detail"]
    release.set()
    assert wait(client, first.json()["job_id"])["state"] == "failed"
    assert client.post("/api/jobs", json={"upload_key": upload(client, song, "take3.wav")}).status_code == 202
