"""Helpers that act like the page: get an upload ticket, POST the form, start a job, wait for it."""

from __future__ import annotations

import time

ALICE, BOB = "alice-token-0123456789", "bob-token-0123456789ab"
SETTLED = ("done", "failed", "interrupted")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ticket(client, filename="song.wav", size=1000, content_type="audio/wav", headers=None, **more):
    response = client.post("/api/uploads", json={"filename": filename, "size": size, "content_type": content_type, **more},
                           headers=headers or {})
    assert response.status_code == 201, response.text
    return response.json()


def post_form(client, ticket_doc, data: bytes, filename="song.wav", content_type="audio/wav", headers=None, **changes):
    """What the page does with a ticket: the fields (``changes`` forge some), then the file."""
    fields = {**ticket_doc["fields"], **changes}
    return client.post(ticket_doc["url"], data=fields, files={"file": (filename, data, content_type)}, headers=headers or {})


def upload(client, data: bytes, filename="song.wav", headers=None) -> str:
    doc = ticket(client, filename, len(data), headers=headers)
    response = post_form(client, doc, data, filename, headers=headers)
    assert response.status_code == 204, response.text
    return doc["key"]


def wait(client, job_id: str, headers=None, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/api/jobs/{job_id}", headers=headers or {}).json()
        if status["state"] in SETTLED or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def run_job(client, data: bytes, filename="song.wav", headers=None) -> dict:
    key = upload(client, data, filename, headers)
    started = client.post("/api/jobs", json={"upload_key": key}, headers=headers or {})
    assert started.status_code == 202, started.text
    return wait(client, started.json()["job_id"], headers)
