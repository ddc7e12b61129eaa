"""`tune()` on the local mirror and on S3 (moto): a user's corrections make a profile, and their
next transcriptions use it, record it, and lose it again with `reset`."""

from __future__ import annotations

import json
import logging

import pytest

from drumscribe import keys
from drumscribe.errors import InputError
from drumscribe.jobs import profiles
from drumscribe.jobs.run import transcribe_and_store
from drumscribe.learning.tune import NotEnoughCorrections, reset, status, tune
from tune_helpers import correct


def test_a_profile_learnt_from_corrections_is_used_recorded_and_reset(storage, settings, as_shipped, deaf_model, takes):
    as_shipped(deaf_model)
    correct(storage, settings, "alice", takes)

    report = tune(settings=settings, storage=storage, user="alice", fine_tune=False)

    # the shipped thresholds (0.95) miss most hits; on every held-out take the profile finds them
    assert report.adopted and report.chosen in ("thresholds", "last_layer")
    assert report.mean_after(report.chosen) > report.mean_before + 0.3
    for cls in ("kick", "snare", "hihat_closed"):
        assert report.after[report.chosen][cls]["R"] > report.before[cls]["R"]
        assert report.after[report.chosen][cls]["F"] >= 0.9
    assert report.hits == {"kick": 24, "snare": 24, "hihat_closed": 96, "tom_mid": 0, "crash": 0}
    profile = profiles.load(storage, "alice")
    assert profile.id == report.profile_id and profile.based_on == profiles.identity(profiles.shipped_model())
    assert all(profile.thresholds[c] < 0.95 for c in ("kick", "snare", "hihat_closed"))
    assert storage.exists(keys.tuning_report_key("alice"))

    # alice's next transcription uses it and says so; another user's does not
    path, hits = takes[0]
    mine, _ = transcribe_and_store(path, storage=storage, settings=settings, user_id="alice")
    theirs, _ = transcribe_and_store(path, storage=storage, settings=settings, user_id="bob")
    assert mine.model.profile == profile.id and mine.model.based_on == profile.based_on
    assert mine.model.thresholds == dict(profile.thresholds)
    assert theirs.model.profile is None and "profile" not in theirs.to_dict()["model"]
    assert len(mine.events) >= len(hits) - 2 > len(theirs.events)

    shown = "\n".join(status(settings=settings, storage=storage, user="alice").lines())
    assert f"profile {profile.id}" in shown and "in use" in shown and "hihat_closed" in shown

    assert reset(settings=settings, storage=storage, user="alice") is True
    assert list(storage.list(keys.models_prefix("alice"))) == []
    again, _ = transcribe_and_store(path, storage=storage, settings=settings, user_id="alice")
    assert again.model.profile is None and len(again.events) == len(theirs.events)
    assert reset(settings=settings, storage=storage, user="alice") is False


def test_the_last_layer_is_refitted_where_no_threshold_can_help(storage, settings, as_shipped, quiet_snare_model, takes,
                                                                 caplog):
    as_shipped(quiet_snare_model)
    correct(storage, settings, "alice", takes)

    report = tune(settings=settings, storage=storage, user="alice", fine_tune=False)

    assert report.before["snare"]["R"] < 0.3  # the turned-down snare output misses most snares
    assert report.chosen == "last_layer" and report.adopted
    assert report.after["last_layer"]["snare"]["F"] > report.after["thresholds"]["snare"]["F"]
    assert report.after["last_layer"]["snare"]["F"] >= 0.9
    profile = profiles.load(storage, "alice")
    assert profile.model_file == keys.profile_model_key("alice", profile.id) and storage.exists(profile.model_file)

    path, hits = takes[1]
    result, _ = transcribe_and_store(path, storage=storage, settings=settings, user_id="alice")
    assert result.model.profile == profile.id
    assert sum(e.instrument == "snare" for e in result.events) == sum(name == "snare" for _, name, _ in hits)

    # its model file gone (another tool deleted it): transcriptions fall back to the shipped model
    storage.delete(profile.model_file)
    profiles._cache.clear()
    with caplog.at_level(logging.WARNING, logger="drumscribe.tune"):
        fallback, _ = transcribe_and_store(path, storage=storage, settings=settings, user_id="alice")
    assert fallback.model.profile is None and "cannot be used" in caplog.text


def test_fewer_than_three_corrected_jobs_says_how_many_more(storage, settings, as_shipped, deaf_model, takes):
    as_shipped(deaf_model)
    correct(storage, settings, "alice", takes[:1])
    with pytest.raises(NotEnoughCorrections, match=r"at least 3 corrected jobs; alice has 1: correct 2 more"):
        tune(settings=settings, storage=storage, user="alice", fine_tune=False)
    assert list(storage.list(keys.models_prefix("alice"))) == []


def test_corrections_that_change_nothing_keep_the_shipped_model_and_remove_an_old_profile(storage, settings, as_shipped,
                                                                                          deaf_model, takes):
    as_shipped(deaf_model)
    correct(storage, settings, "alice", takes[:3], unchanged=True)
    old = profiles.Profile(id="0123456789ab", user="alice", kind="thresholds", based_on=profiles.identity(profiles.shipped_model()),
                           base_sha256=profiles.shipped_sha256(), thresholds={"kick": 0.5}, offset=0.0)
    profiles.save(storage, old)

    report = tune(settings=settings, storage=storage, user="alice", fine_tune=False)

    assert not report.adopted and report.chosen == "defaults" and report.replaced == "0123456789ab"
    assert "does not rise" in report.reasons["thresholds"]
    assert "keep the shipped model" in report.verdict() and "0123456789ab was removed" in report.verdict()
    assert profiles.load(storage, "alice") is None
    last = status(settings=settings, storage=storage, user="alice")
    assert last.profile is None and last.last is not None and not last.last.adopted


def test_a_profile_made_for_another_model_is_not_used(storage, settings, as_shipped, deaf_model, takes, caplog):
    as_shipped(deaf_model)
    stale = profiles.Profile(id="abcdefabcdef", user="alice", kind="thresholds", based_on="drumscribe-tcn 1.4.0",
                             base_sha256="0" * 64, thresholds={"kick": 0.1, "snare": 0.1}, offset=0.0)
    profiles.save(storage, stale)
    with caplog.at_level(logging.WARNING, logger="drumscribe.tune"):
        result, _ = transcribe_and_store(takes[0][0], storage=storage, settings=settings, user_id="alice")
    assert result.model.profile is None and result.model.thresholds["kick"] == 0.95
    assert "made for drumscribe-tcn 1.4.0" in caplog.text and "drumscribe tune" in caplog.text
    assert "made for drumscribe-tcn 1.4.0" in status(settings=settings, storage=storage, user="alice").stale


def test_a_damaged_profile_never_fails_a_transcription(storage, settings, as_shipped, deaf_model, takes, caplog):
    as_shipped(deaf_model)
    storage.put(keys.profile_key("alice"), b'{"schema": "drumscribe.profile/1", "thresholds": ')
    with caplog.at_level(logging.WARNING, logger="drumscribe.tune"):
        result, _ = transcribe_and_store(takes[0][0], storage=storage, settings=settings, user_id="alice")
    assert result.model.profile is None and "cannot be used" in caplog.text
    found = status(settings=settings, storage=storage, user="alice")
    assert found.profile is None and "damaged" in found.damaged
    assert reset(settings=settings, storage=storage, user="alice") is True


@pytest.mark.parametrize("change", [
    {"model_file": "../etc/passwd"},                            # not a key drumscribe writes
    {"model_file": "models/bob/model-0123456789ab.npz"},        # another user's file
    {"user": "bob/x"},                                          # not a user id
    {"user": "bob"},                                            # another user's profile put in alice's folder
    {"thresholds": {"kick": float("nan")}},                     # json reads NaN: the job would fail storing its document
    {"thresholds": {"kick": 7.0}},
    {"offset": float("inf")},
])
def test_an_edited_or_damaged_profile_never_fails_a_transcription(storage, settings, as_shipped, deaf_model, takes, caplog, change):
    as_shipped(deaf_model)
    doc = {"schema": "drumscribe.profile/1", "id": "0123456789ab", "user": "alice", "kind": "thresholds",
           "based_on": profiles.identity(profiles.shipped_model()), "base_sha256": profiles.shipped_sha256(),
           "thresholds": {"kick": 0.5}, "offset": 0.0, **change}
    storage.put(keys.profile_key("alice"), json.dumps(doc).encode())  # json.dumps writes NaN and Infinity as json.loads reads them
    with caplog.at_level(logging.WARNING, logger="drumscribe.tune"):
        result, _ = transcribe_and_store(takes[0][0], storage=storage, settings=settings, user_id="alice")
    assert result.model.profile is None and "cannot be used" in caplog.text
    found = status(settings=settings, storage=storage, user="alice")
    assert found.profile is None and "damaged" in found.damaged and found.lines()


def test_a_tuning_saved_meanwhile_elsewhere_keeps_its_model_file(storage, as_shipped, deaf_model):
    """Two tunings at once (this machine and another): whichever profile is current keeps its model file."""
    as_shipped(deaf_model)

    def profile(pid):
        return profiles.Profile(id=pid, user="alice", kind="last_layer", based_on=profiles.identity(profiles.shipped_model()),
                                base_sha256=profiles.shipped_sha256(), thresholds={"kick": 0.5}, offset=0.0,
                                model_file=keys.profile_model_key("alice", pid), model_sha256="0" * 64)

    first, mine, theirs = profile("aaaaaaaaaaaa"), profile("bbbbbbbbbbbb"), profile("cccccccccccc")
    profiles.save(storage, first, b"first")
    real_put = storage.put

    def put_then_theirs_lands(key, data, **kwargs):  # the other tuning stores its profile right after this one's
        info = real_put(key, data, **kwargs)
        if key == keys.profile_key("alice") and b"bbbbbbbbbbbb" in data:
            real_put(theirs.model_file, b"theirs")
            real_put(key, theirs.to_json())
        return info

    storage.put = put_then_theirs_lands
    profiles.save(storage, mine, b"mine")
    storage.put = real_put
    assert profiles.load(storage, "alice").id == "cccccccccccc" and storage.get(theirs.model_file) == b"theirs"
    assert not storage.exists(first.model_file)  # the replaced profile's file is removed


def test_a_profile_from_a_newer_drumscribe_is_refused_in_one_line():
    doc = {"schema": "drumscribe.profile/2", "thresholds": {}, "offset": 0}
    with pytest.raises(InputError, match="newer drumscribe"):
        profiles.Profile.from_json(json.dumps(doc).encode())


def test_profile_json_round_trips_and_its_id_follows_what_it_detects():
    p = profiles.Profile(id=profiles.profile_id("m 1", "a" * 64, {"kick": 0.3}, 0.01, None), user="alice", kind="thresholds",
                         based_on="m 1", base_sha256="a" * 64, thresholds={"kick": 0.3}, offset=0.01, jobs=("j1", "j2"))
    assert profiles.Profile.from_json(p.to_json()) == p
    same = profiles.profile_id("m 1", "a" * 64, {"kick": 0.3}, 0.01, None)
    assert same == p.id
    assert profiles.profile_id("m 1", "a" * 64, {"kick": 0.31}, 0.01, None) != p.id
    assert profiles.profile_id("m 2", "a" * 64, {"kick": 0.3}, 0.01, None) != p.id
    assert profiles.profile_id("m 1", "a" * 64, {"kick": 0.3}, 0.01, "f" * 64) != p.id


def test_a_job_whose_original_is_gone_is_skipped_and_counted(storage, settings, as_shipped, deaf_model, takes):
    from drumscribe.jobs.store import load_job

    as_shipped(deaf_model)
    jobs = correct(storage, settings, "alice", takes[:3])
    storage.delete(load_job(jobs[0], settings=settings, storage=storage, user="alice").source.key)
    with pytest.raises(NotEnoughCorrections, match=r"alice has 2 \(1 of 3 have no readable original audio\): correct 1 more"):
        tune(settings=settings, storage=storage, user="alice", fine_tune=False)


def test_the_active_profile_id_is_what_the_next_transcription_records(storage, settings, as_shipped, deaf_model):
    as_shipped(deaf_model)
    assert profiles.active_id(storage, "alice") is None
    profile = profiles.Profile(id="0123456789ab", user="alice", kind="thresholds", based_on=profiles.identity(profiles.shipped_model()),
                               base_sha256=profiles.shipped_sha256(), thresholds={"kick": 0.5}, offset=0.0)
    profiles.save(storage, profile)
    assert profiles.active_id(storage, "alice") == "0123456789ab" and profiles.active_id(storage, "bob") is None
    profiles.save(storage, profiles.Profile(**{**profile.__dict__, "id": "abcdefabcdef", "based_on": "drumscribe-tcn 1.0.0"}))
    assert profiles.active_id(storage, "alice") is None  # stale: the shipped model is used


def test_a_tuned_profile_makes_another_job_and_the_same_one_again_is_answered(storage, settings, as_shipped, deaf_model, takes):
    """The same-job rule (jobs.identity) counts the user's profile as part of the model."""
    as_shipped(deaf_model)
    path, _ = takes[0]
    _, before = transcribe_and_store(path, storage=storage, settings=settings, user_id="alice")
    profile = profiles.Profile(id="0123456789ab", user="alice", kind="thresholds", based_on=profiles.identity(profiles.shipped_model()),
                               base_sha256=profiles.shipped_sha256(), thresholds={"kick": 0.5}, offset=0.0)
    profiles.save(storage, profile)

    tuned, first = transcribe_and_store(path, storage=storage, settings=settings, user_id="alice")
    assert first.job_id != before.job_id and tuned.model.profile == "0123456789ab"  # a profile is another model
    _, again = transcribe_and_store(path, storage=storage, settings=settings, user_id="alice")
    assert again.job_id == first.job_id  # the same content, model, profile and options: answered

    reset(settings=settings, storage=storage, user="alice")
    _, shipped = transcribe_and_store(path, storage=storage, settings=settings, user_id="alice")
    assert shipped.job_id == before.job_id  # back on the shipped model: its earlier job answers
