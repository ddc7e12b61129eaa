"""`drumscribe tune`, `tune --status`, `tune --reset` on the local mirror and on a moto S3 server."""

from __future__ import annotations

import json

import pytest

from drumscribe import keys
from drumscribe.config import load_settings
from tune_helpers import correct


def _storage():
    from drumscribe.storage import get_storage

    return get_storage(load_settings(), announce=False)


def test_tune_needs_three_corrected_jobs_and_says_how_many_more(cli, as_shipped, deaf_model, takes):
    as_shipped(deaf_model)
    result = cli("tune", "--no-fine-tune")
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if not line.startswith("Using local storage")] == [
        "Error: tuning needs at least 3 corrected jobs; tester has 0: correct 3 more (`drumscribe edit JOB` in the page, "
        "or `drumscribe edit JOB --import FILE` from a DAW)"]
    assert cli("tune", "--status", "--reset").exit_code == 2


@pytest.mark.e2e
@pytest.mark.parametrize("where", ["local", "s3"])
def test_tune_then_transcribe_then_reset(where, request, cli, as_shipped, deaf_model, takes):
    if where == "s3":
        request.getfixturevalue("bucket")
    as_shipped(deaf_model)
    storage = _storage()
    assert storage.name == where
    correct(storage, load_settings(), "tester", takes[:3])

    tuned = cli("tune", "--no-fine-tune")
    assert tuned.exit_code == 0, tuned.output
    lines = tuned.stdout.splitlines()
    assert lines[0].startswith("tester: 3 corrected jobs (") and "leave-one-job-out" in lines[0]
    assert lines[2].split() == ["class", "hits", "P", "R", "F", "P", "R", "F"]
    assert [line.split()[0] for line in lines[3:8]] == ["kick", "snare", "hihat_closed", "tom_mid", "crash"]
    assert lines[-1].startswith("Adopted profile ") and "transcriptions of tester use it" in lines[-1]
    profile_id = lines[-1].split()[2]
    assert storage.exists(keys.profile_key("tester"))

    shown = cli("tune", "--status")
    assert shown.exit_code == 0 and f"tester: profile {profile_id}" in shown.stdout and "in use" in shown.stdout

    done = cli("transcribe", takes[3][0], "--jobs", "1", "--json")
    assert done.exit_code == 0, done.output
    model = json.loads(done.stdout)["model"]
    assert model["profile"] == profile_id and model["based_on"] == f"{model['name']} {model['version']}"

    as_json = json.loads(cli("tune", "--status", "--json").stdout)
    assert as_json["profile"]["id"] == profile_id and as_json["last"]["adopted"] is True

    reset = cli("tune", "--reset")
    assert reset.exit_code == 0 and "Removed the tuning profile of tester" in reset.stderr
    assert list(storage.list(keys.models_prefix("tester"))) == []
    assert "no tuning profile" in cli("tune", "--status").stdout
    again = json.loads(cli("transcribe", takes[3][0], "--jobs", "1", "--json").stdout)["model"]
    assert "profile" not in again
