"""Helpers that act like the page: get an upload ticket, POST the form, start a job, wait for it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_process(log_path: Path, port: int, *args: str, start_timeout: float = 30):
    """``drumscribe serve --port PORT ARGS`` as a process (environment as the test set it up);
    yields its origin once it answers (within ``start_timeout`` s), stops it afterwards."""
    origin = f"http://127.0.0.1:{port}"
    with Path(log_path).open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "drumscribe", "serve", "--port", str(port), *args],
                                  env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                try:
                    urllib.request.urlopen(f"{origin}/", timeout=2).close()
                    break
                except urllib.error.HTTPError:
                    break  # it answers
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError("serve did not start: " + Path(log_path).read_text()) from None
                    time.sleep(0.2)
            yield origin
        finally:
            server.terminate()
            server.wait(10)
