"""edited.json: saving corrections next to the model's transcription, on the local mirror and on S3 (moto)."""

from __future__ import annotations

import json
from dataclasses import replace

import mido
import pytest

from drumscribe.config import load_settings
from drumscribe.errors import EXIT_CONFLICT, InputError, NotFoundError, StaleRevision
from drumscribe.jobs.edits import (diff, edited_jobs, find_revision, import_edit, load_edited, load_revision, model_revision,
                                   save_edited)
from drumscribe.keys import edited_key, edited_midi_key, transcription_key
from drumscribe.storage import LocalStorage, S3Storage
from drumscribe.transcription.result import DrumEvent, SourceInfo, Transcription

JOB = "20260301T100000Z-abcdef01"
OTHER = "20260302T100000Z-abcdef02"


def model_transcription(job_id=JOB, user="tester"):
    """Two bars at 120 BPM: kick on 1 and 3, snare on 2 and 4, closed hats on eighths."""
    events = []
    for beat in range(8):
        t = 0.5 + beat * 0.5
        events.append(DrumEvent(t, "kick" if beat % 2 == 0 else "snare", 36 if beat % 2 == 0 else 38, 100, 0.9))
        events += [DrumEvent(t, "hihat_closed", 42, 70, 0.8), DrumEvent(t + 0.25, "hihat_closed", 42, 60, 0.7)]
    return Transcription(events=tuple(sorted(events, key=lambda e: (e.time, e.instrument))), tempo=120.0,
                         beats=tuple(0.5 + i * 0.5 for i in range(8)), downbeats=(0.5, 2.5), midi_offset=1.5,
                         source=SourceInfo(key="uploads/tester/20260301T100000Z_0123456789ab_take.flac", name="take.wav",
                                           duration=5.0),
                         job_id=job_id, user_id=user, created_at="2026-03-01T10:00:00Z")


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path, bucket_name):
    if request.param == "local":
        yield LocalStorage(tmp_path / "mirror")
        return
    request.getfixturevalue("s3_mock")
    import boto3

    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    yield S3Storage(load_settings({"bucket": bucket_name}))


@pytest.fixture
def job(storage):
    t = model_transcription()
    data = t.to_json().encode()
    storage.put(transcription_key("tester", JOB), data)
    return t, model_revision(data)


def with_changes(t: Transcription) -> list[DrumEvent]:
    """Add a floor tom, remove the first hat, move the second snare 20 ms, relabel the last kick as a crash."""
    events = list(t.events)
    events.remove(DrumEvent(0.5, "hihat_closed", 42, 70, 0.8))
    events.append(DrumEvent(1.75, "tom_low", 43, 96, 1.0))
    events[events.index(DrumEvent(2.0, "snare", 38, 100, 0.9))] = DrumEvent(2.02, "snare", 38, 100, 0.9)
    events[events.index(DrumEvent(3.5, "kick", 36, 100, 0.9))] = DrumEvent(3.5, "crash", 49, 110, 1.0)
    return events


def test_a_job_never_edited_shows_the_models_revision(storage, job):
    model, sha = job
    assert load_edited(JOB, storage=storage) is None
    assert load_revision(JOB, storage=storage) == (model, "model")
    found = find_revision(JOB, storage=storage)
    assert found.current == sha and found.note() is None
    with pytest.raises(NotFoundError, match="has no edited revision"):
        load_revision(JOB, "edited", storage=storage)


def test_a_save_is_stored_next_to_the_model_which_stays_as_it_was(storage, job):
    model, sha = job
    model_bytes = storage.get(transcription_key("tester", JOB))
    edited = save_edited(JOB, replace(model, events=tuple(with_changes(model))), parent_revision=sha, storage=storage)

    assert storage.get(transcription_key("tester", JOB)) == model_bytes  # never overwritten
    doc = json.loads(storage.get(edited_key("tester", JOB)))
    assert doc["schema"] == "drumscribe.transcription/1" and doc["source"]["key"] == model.source.key
    assert doc["edit"]["based_on"] == sha and doc["edit"]["parent"] == sha and doc["edit"]["via"] == "editor"
    assert doc["edit"]["revision"] == edited.revision != sha
    assert doc["edit"]["summary"] == {"added": 1, "removed": 1, "moved": 1, "relabelled": 1} == dict(edited.summary)
    assert doc["edit"]["at"].endswith("Z")

    t, which = load_revision(JOB, storage=storage)
    assert which == "edited" and t == edited.transcription
    assert DrumEvent(1.75, "tom_low", 43, 96, 1.0) in t.events and DrumEvent(0.5, "hihat_closed", 42, 70, 0.8) not in t.events
    assert load_revision(JOB, "model", storage=storage) == (model, "model")
    found = find_revision(JOB, storage=storage)
    assert found.current == edited.revision
    assert found.note() == "edited revision (1 added, 1 removed, 1 moved, 1 relabelled) - --revision model for the model's"


def test_a_save_from_a_stale_revision_is_refused_and_writes_nothing(storage, job):
    model, sha = job
    first = save_edited(JOB, with_changes(model), parent_revision=sha, storage=storage)
    stored = storage.get(edited_key("tester", JOB))
    with pytest.raises(StaleRevision, match=f"job {JOB} was saved since this edit started.*nothing was saved") as caught:
        save_edited(JOB, model.events[:3], parent_revision=sha, storage=storage)  # a second page, opened before the first save
    assert caught.value.exit_code == EXIT_CONFLICT == 3 and "\n" not in str(caught.value)
    assert storage.get(edited_key("tester", JOB)) == stored
    second = save_edited(JOB, model.events[:3], parent_revision=first.revision, storage=storage)
    assert second.parent == first.revision and second.based_on == sha and second.revision != first.revision
    assert second.summary["removed"] == len(model.events) - 3


@pytest.mark.parametrize("edited_before", [False, True])
def test_a_save_made_elsewhere_while_this_one_was_being_made_is_never_overwritten(storage, job, monkeypatch, edited_before):
    """Two machines save the same job in the same instant: after this save read the latest revision,
    another writer stores its own. This one is refused as stale and theirs stays (on S3 the PUT itself
    is conditional: If-None-Match for a first edit, If-Match the ETag that was read after that)."""
    model, sha = job
    key = edited_key("tester", JOB)
    parent = save_edited(JOB, with_changes(model), parent_revision=sha, storage=storage).revision if edited_before else sha
    elsewhere = LocalStorage(storage.root) if storage.name == "local" else S3Storage(load_settings({"bucket": storage.bucket}))
    theirs = b'{"saved": "from another machine"}'
    real_get = storage.get

    def read_then_someone_saves(k):
        try:
            return real_get(k)
        finally:
            if k == key:
                elsewhere.put(key, theirs, content_type="application/json")

    monkeypatch.setattr(storage, "get", read_then_someone_saves)
    with pytest.raises(StaleRevision, match=f"job {JOB} was saved from elsewhere while this save was being made; nothing was saved"):
        save_edited(JOB, model.events[:3], parent_revision=parent, storage=storage)
    assert real_get(key) == theirs


def test_a_save_whose_answer_was_lost_and_retried_is_not_called_stale(storage, job, monkeypatch):
    """Throttling or a dropped connection: S3 stored the PUT, botocore retried it, and the retry's
    condition failed on this save's own object. That is this save, done, not someone else's."""
    from drumscribe.errors import ChangedError

    model, sha = job
    real_put = type(storage).put_if_unchanged

    def stored_then_retried(self, key, data, **kwargs):
        real_put(self, key, data, **kwargs)  # the first attempt: stored, its answer lost
        raise ChangedError(f"{self.uri(key)} changed since it was read; nothing was written")  # the retry's 412

    monkeypatch.setattr(type(storage), "put_if_unchanged", stored_then_retried)
    saved = save_edited(JOB, with_changes(model), parent_revision=sha, storage=storage)
    assert load_edited(JOB, storage=storage).revision == saved.revision


def test_every_save_is_a_new_revision_even_with_the_same_events(storage, job):
    model, sha = job
    first = save_edited(JOB, model.events, parent_revision=sha, storage=storage)
    again = save_edited(JOB, model.events, parent_revision=first.revision, storage=storage)
    assert again.revision != first.revision and dict(again.summary) == {"added": 0, "removed": 0, "moved": 0, "relabelled": 0}
    assert again.describe() == "edited revision (no changes)"


def test_events_are_checked_and_normalised(storage, job):
    model, sha = job
    for bad, message in (([{"time": 1.0, "instrument": "cowbell", "velocity": 90}], "unknown instrument 'cowbell'"),
                         ([{"time": -1, "instrument": "kick", "velocity": 90}], "time must be a number"),
                         ([{"time": 99.0, "instrument": "kick", "velocity": 90}], "past the end of the recording"),
                         ([{"time": 1.0, "instrument": "kick", "velocity": 0}], "velocity must be 1-127"),
                         ([{"time": float("nan"), "instrument": "kick", "velocity": 9}], "time must be a number")):
        with pytest.raises(InputError, match=message):
            save_edited(JOB, bad, parent_revision=sha, storage=storage)
    assert not storage.exists(edited_key("tester", JOB))
    saved = save_edited(JOB, [{"time": 1.0000004, "instrument": "tom_low", "velocity": 80.4},
                              {"time": 1.0001, "instrument": "tom_low", "velocity": 100},  # a double click: one hit
                              {"time": 0.5, "instrument": "kick", "velocity": 90, "note": 99}],
                        parent_revision=sha, storage=storage)
    assert saved.transcription.events == (DrumEvent(0.5, "kick", 36, 90, 1.0), DrumEvent(1.0001, "tom_low", 43, 100, 1.0))


def test_an_edit_keeps_the_models_source_whatever_the_page_sent(storage, job):
    model, sha = job
    forged = replace(model, source=replace(model.source, key="uploads/mallory/x.flac"), job_id="x")
    saved = save_edited(JOB, forged, parent_revision=sha, storage=storage)
    assert saved.transcription.source.key == model.source.key and saved.transcription.job_id == JOB


def test_the_edited_midi_follows_the_revision(storage, job):
    model, sha = job
    edited = save_edited(JOB, with_changes(model), parent_revision=sha, storage=storage)
    head = storage.head(edited_midi_key("tester", JOB))
    assert head.metadata["revision"] == edited.revision
    assert storage.get(edited_midi_key("tester", JOB)) == edited.transcription.to_midi()


def test_edited_jobs_lists_corrections_with_the_models_transcription_and_the_original(storage, job):
    model, sha = job
    other = model_transcription(OTHER)
    storage.put(transcription_key("tester", OTHER), other.to_json().encode())  # never edited: not listed
    assert edited_jobs(storage=storage) == []
    edited = save_edited(JOB, with_changes(model), parent_revision=sha, storage=storage)
    storage.put(edited_key("tester", "20260303T100000Z-abcdef03"), b"{}")  # an edit without its job: skipped
    (found,) = edited_jobs(storage=storage)
    assert (found.job_id, found.user_id, found.model, found.edited, found.original_key) == (
        JOB, "tester", model, edited, model.source.key)
    assert edited_jobs(storage=storage, user="someone") == []


def test_an_unknown_job_or_revision_is_one_line(storage, job):
    with pytest.raises(NotFoundError, match="no job '20260309T100000Z-abcdef09' for user 'tester'"):
        load_revision("20260309T100000Z-abcdef09", storage=storage)
    with pytest.raises(InputError, match="--revision must be one of latest, model, edited"):
        load_revision(JOB, "newest", storage=storage)


def test_diff_matches_closest_first():
    a = [DrumEvent(1.0, "kick", 36, 90, 1), DrumEvent(1.05, "kick", 36, 90, 1), DrumEvent(2.0, "snare", 38, 90, 1)]
    b = [DrumEvent(1.06, "kick", 36, 90, 1), DrumEvent(2.0, "tom_mid", 45, 90, 1), DrumEvent(3.0, "crash", 49, 90, 1)]
    d = diff(a, b)
    assert d.moved == ((a[1], b[0]),) and d.relabelled == ((a[2], b[1]),)
    assert d.added == (b[2],) and d.removed == (a[0],)


# --- importing ------------------------------------------------------------------------------


def test_import_a_midi_fixed_in_a_daw(storage, job, tmp_path):
    model, sha = job
    fixed = replace(model, events=tuple(with_changes(model)))
    path = tmp_path / "fixed.mid"
    fixed.to_midi(path)
    result = import_edit(JOB, path, storage=storage)
    assert result.align == "audio" and result.edited.via == "import-midi" and result.replaced is None
    assert dict(result.edited.summary) == {"added": 1, "removed": 1, "moved": 1, "relabelled": 1}
    got = {(e.instrument, round(e.time, 3)) for e in result.edited.transcription.events}
    assert got == {(e.instrument, round(e.time, 3)) for e in fixed.events}
    # unchanged hits keep the model's exact time and confidence (MIDI ticks rounded them)
    assert DrumEvent(1.5, "kick", 36, 100, 0.9) in result.edited.transcription.events


@pytest.mark.parametrize("align", ["audio", "bar"])
@pytest.mark.parametrize("note_map", ["general-midi", "superior-drummer-3"])
def test_import_reads_either_alignment_and_any_note_map_show_writes(storage, job, tmp_path, align, note_map):
    model, sha = job
    fixed = replace(model, events=tuple(with_changes(model)))
    path = tmp_path / "fixed.mid"
    fixed.to_midi(path, align=align, note_map=note_map, tracks="per-instrument")
    result = import_edit(JOB, path, storage=storage, note_map=None if note_map == "general-midi" else note_map)
    assert result.align == align  # found by itself
    assert dict(result.edited.summary) == {"added": 1, "removed": 1, "moved": 1, "relabelled": 1}


def test_import_folds_other_gm_drum_notes_and_counts_the_rest(storage, job, tmp_path):
    model, sha = job
    mid = mido.MidiFile(type=0)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500000))
    for i, note in enumerate((35, 41, 57, 60, 60)):  # bass drum 1, low floor tom, crash 2, a bongo twice
        track.append(mido.Message("note_on", channel=9, note=note, velocity=90, time=0 if i == 0 else 240))
        track.append(mido.Message("note_off", channel=9, note=note, velocity=0, time=10))
    track.append(mido.Message("note_on", channel=0, note=38, velocity=90, time=10))  # a piano note: not drums
    path = tmp_path / "few.mid"
    mid.save(path)
    result = import_edit(JOB, path, storage=storage, midi_align="audio")
    assert [e.instrument for e in result.edited.transcription.events] == ["kick", "tom_low", "crash"]
    assert dict(result.ignored_notes) == {60: 2}


def test_import_a_json_and_refuse_a_stale_page_download(storage, job, tmp_path):
    model, sha = job
    first = save_edited(JOB, with_changes(model), parent_revision=sha, storage=storage)
    doc = json.loads(storage.get(edited_key("tester", JOB)))
    doc["events"] = doc["events"][:-1]
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    result = import_edit(JOB, path, storage=storage)  # a hand edit of the latest revision
    assert result.edited.via == "import-json" and result.edited.parent == first.revision and result.replaced == first
    # a page downloaded before that import: edited from `first`, which is no longer the latest
    doc["edit"] = {"based_on": sha, "parent": first.revision, "revision": None}
    path.write_text(json.dumps(doc))
    with pytest.raises(StaleRevision, match="nothing was imported"):
        import_edit(JOB, path, storage=storage)
    assert import_edit(JOB, path, storage=storage, force=True).edited.parent == result.edited.revision


def test_import_refuses_another_jobs_json_and_files_that_are_neither(storage, job, tmp_path):
    path = tmp_path / "other.json"
    path.write_text(model_transcription(OTHER).to_json())
    with pytest.raises(InputError, match=f"is the transcription of job {OTHER}, not {JOB}"):
        import_edit(JOB, path, storage=storage)
    junk = tmp_path / "notes.txt"
    junk.write_text("kick snare")
    with pytest.raises(InputError, match="neither a MIDI file nor a transcription JSON"):
        import_edit(JOB, junk, storage=storage)
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00")
    with pytest.raises(InputError, match="not a readable MIDI file"):
        import_edit(JOB, broken, storage=storage)
    with pytest.raises(InputError, match="file not found"):
        import_edit(JOB, tmp_path / "none.mid", storage=storage)
    assert not storage.exists(edited_key("tester", JOB))


def test_a_damaged_edit_is_one_line_and_the_models_revision_still_shows(storage, job):
    model, sha = job
    storage.put(edited_key("tester", JOB), b'{"schema": "drumscribe.transcription/1", "tempo": null}')  # no "edit"
    with pytest.raises(InputError, match=f"the edited version of job {JOB} cannot be read.*--revision model"):
        load_revision(JOB, storage=storage)
    assert load_revision(JOB, "model", storage=storage) == (model, "model")
