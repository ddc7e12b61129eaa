"""`drumscribe serve` as a real process: what it says when it starts, the Host names it answers
without a token, and access logs that never carry a download link's signature."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from service_helpers import free_port, serve_process

pytestmark = pytest.mark.e2e


def get(url: str, host: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serve_answers_loopback_names_only_and_redacts_signatures(tmp_path):
    log_path = tmp_path / "serve.log"
    with serve_process(log_path, free_port()) as base:
        assert get(f"{base}/api/info") == 200
        assert get(f"{base}/api/info", host=f"localhost:{base.rsplit(':', 1)[1]}") == 200
        # a page on evil.example rebound to 127.0.0.1 sends its own name as Host: refused
        assert get(f"{base}/api/info", host="evil.example") == 400
        assert get(f"{base}/api/files?key=processed/tester/x/output.mid&expires=1&sig=c0ffee1234") == 403
    text = log_path.read_text()
    assert "storage file://" in text and "user tester" in text and "no API token (this machine only)" in text
    assert "GET /api/files?key=processed/tester/x/output.mid&expires=1&sig=*** HTTP/1.1" in text
    assert "c0ffee1234" not in text
