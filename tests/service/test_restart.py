"""A restarted server loses no finished job and marks unfinished ones so they can be retried."""

from __future__ import annotations

import threading

from service_helpers import run_job, upload, wait

from drumscribe.config import load_settings
from drumscribe.storage.local import LocalStorage


def test_restart_keeps_done_jobs_and_marks_unfinished_ones_interrupted(make_client, song):
    storage = LocalStorage(load_settings().local_root)
    first = make_client(storage=storage)
    done = run_job(first, song)

    release = threading.Event()

    def stuck(*args, **kwargs):  # a job the "crash" catches half-way
        release.wait(30)
        raise RuntimeError("never finishes in this test")

    hanging = make_client(storage=storage, transcribe=stuck)
    key = upload(hanging, song)
    job = hanging.post("/api/jobs", json={"upload_key": key}).json()["job_id"]
    assert hanging.get(f"/api/jobs/{job}").json()["state"] in ("queued", "running")

    # a new server on the same storage: what the old one left is all it knows
    restarted = make_client(storage=storage)
    states = {j["job_id"]: j for j in restarted.get("/api/jobs").json()["jobs"]}
    assert states[done["job_id"]]["state"] == "done"
    assert states[job]["state"] == "interrupted" and states[job]["retryable"] is True
    assert "server stopped" in states[job]["error"]

    retried = restarted.post(f"/api/jobs/{job}/retry")
    assert retried.status_code == 202
    finished = wait(restarted, job)
    assert finished["state"] == "done" and finished["result"]["counts"]["kick"] == 4
    release.set()


def test_a_state_record_is_written_whole(make_client, song):
    storage = LocalStorage(load_settings().local_root)
    client = make_client(storage=storage, transcribe=lambda *a, **k: (_ for _ in ()).throw(ValueError("boom")))
    failed = run_job(client, song)
    assert failed["state"] == "failed" and failed["error"] == "internal error: ValueError: boom"
    records = [o.key for o in storage.list("temp/")]
    assert records == [f"temp/{failed['job_id']}/job.json"]
    assert b'"state": "failed"' in storage.get(records[0])
