"""The upload policy, evaluated the way S3 evaluates a presigned POST; origins as browsers send them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from drumscribe.errors import ConfigError, InputError, InvalidKeyError
from drumscribe.provision.documents import cors, normalize_origin
from drumscribe.service import policy

KEY = "uploads/alice/20261201T000000Z_0123456789ab_song.wav"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def doc(seconds=600):
    return {"expiration": policy.expiration(seconds, NOW), "conditions": policy.conditions("alice", KEY, 1000, "audio/wav")}


FORM = {"key": KEY, "Content-Type": "audio/wav", "policy": "...", "x-drumscribe-signature": "..."}


def test_the_pages_own_form_meets_its_policy():
    policy.check_post(doc(), FORM, 1000, now=NOW)
    policy.check_post(doc(), {k.lower(): v for k, v in FORM.items()}, 1, now=NOW)  # S3 field names ignore case


@pytest.mark.parametrize("form,size,reason", [
    (FORM, 1001, "outside 1..1000"),
    (FORM, 0, "outside 1..1000"),
    ({**FORM, "key": "uploads/alice/other.wav"}, 10, "key must be"),
    ({**FORM, "Content-Type": "text/plain"}, 10, "Content-Type"),
    ({k: v for k, v in FORM.items() if k != "Content-Type"}, 10, "Content-Type"),
    ({**FORM, "success_action_redirect": "https://evil.example"}, 10, "does not allow the form field(s) success_action_redirect"),
])
def test_what_the_policy_refuses(form, size, reason):
    with pytest.raises(policy.PolicyError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        policy.check_post(doc(), form, size, now=NOW)


def test_an_expired_policy_is_refused():
    with pytest.raises(policy.PolicyError, match="expired"):
        policy.check_post(doc(60), FORM, 10, now=NOW + timedelta(seconds=61))


def test_signatures_bind_the_policy_to_this_server():
    encoded = policy.encode(doc())
    policy.verify(b"k" * 32, encoded, policy.sign(b"k" * 32, encoded))
    with pytest.raises(policy.PolicyError, match="signature"):
        policy.verify(b"other-secret" * 3, encoded, policy.sign(b"k" * 32, encoded))
    assert policy.decode(encoded) == doc()


def test_content_types_are_audio_or_refused():
    assert policy.audio_content_type("audio/x-wav", "a.wav") == "audio/x-wav"
    assert policy.audio_content_type("", "a.flac") == "audio/flac"  # browsers leave some types empty
    assert policy.audio_content_type("application/octet-stream", "a.mp3") == "audio/mpeg"
    with pytest.raises(InputError, match="not audio"):
        policy.audio_content_type("text/plain", "a.txt")


def test_the_policy_names_the_users_prefix_and_refuses_bad_users():
    assert ["starts-with", "$key", "uploads/alice/"] in policy.conditions("alice", KEY, 10, "audio/wav")
    with pytest.raises(InvalidKeyError):
        policy.conditions("../alice", KEY, 10, "audio/wav")


def test_origins_are_normalized_as_browsers_send_them():
    assert normalize_origin("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert normalize_origin(" https://drums.example ") == "https://drums.example"
    assert normalize_origin("*") == "*"
    for bad in ("127.0.0.1:8000", "http://host/app", "ftp://host", "http://host/?q=1"):
        with pytest.raises(ConfigError, match="not an origin"):
            normalize_origin(bad)
    assert cors(["http://127.0.0.1:8000/"])["CORSRules"][0]["AllowedOrigins"] == ["http://127.0.0.1:8000"]
