"""Profiles live under models/{user}/: the bucket documents drumscribe provisions keep them and let
the app key read and write them."""

from __future__ import annotations

import fnmatch

from drumscribe import keys
from drumscribe.provision import documents

PROFILE = keys.profile_key("alice")
MODEL = keys.profile_model_key("alice", "0123456789ab")


def test_the_lifecycle_rules_never_expire_profiles():
    for doc in (documents.lifecycle(), documents.lifecycle(infrequent_access=True)):
        for rule in doc["Rules"]:
            prefix = rule["Filter"].get("Prefix", "")
            if "Expiration" in rule or "Transitions" in rule:
                assert not PROFILE.startswith(prefix) and not MODEL.startswith(prefix), rule["ID"]
        expired = {r["Filter"]["Prefix"] for r in doc["Rules"] if "Expiration" in r}
        assert expired == {"temp/", "processed/"}


def test_the_app_keys_policy_covers_profiles():
    bucket = "drum-transcription-bucket"
    allowed = {}
    for actions, resource in documents.app_permissions(bucket):
        for action in actions:
            allowed.setdefault(action, []).append(resource)
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/{key}", r) for r in allowed[action] for key in (PROFILE, MODEL))
    assert f"arn:aws:s3:::{bucket}" in allowed["s3:ListBucket"]


def test_doctor_checks_the_key_may_write_under_models():
    from drumscribe.provision.simulation import required

    assert (["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::b/models/doctor-simulation") in required("b")
