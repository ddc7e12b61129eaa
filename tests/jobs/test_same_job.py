"""One rule for every job (issue 22, point 3): the same content, model and options is transcribed once.

The earlier, complete job answers (the output names it, ``-o`` still writes its files) unless
``--force``; another model version, a tuned profile or other options make another job. The same
rule holds for the CLI (here, on the local mirror and on S3), the library and ``drumscribe upload``;
the cluster path is in test_batch.py, the service's in tests/service/test_api.py.
"""

from __future__ import annotations

import json

from drumscribe import keys
from drumscribe.config import load_settings
from drumscribe.storage.local import LocalStorage
from job_helpers import bucket_keys


def job_folders(root) -> list[str]:
    return sorted(p.parent.name for p in (root / "processed" / "tester").rglob("transcription.json"))


def job_line(stdout: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith("  job ")]
    return line


def test_the_same_song_twice_is_answered_by_the_first_job(cli, take, standin_model, tmp_path):
    first = cli("transcribe", take, "--jobs", "1")
    assert first.exit_code == 0, first.stderr
    first_id = job_line(first.stdout).split()[1].rstrip(":")
    copy = tmp_path / "copy of the take.wav"
    copy.write_bytes(take.read_bytes())

    again = cli("transcribe", copy, "--jobs", "1", "-o", tmp_path / "out")

    assert again.exit_code == 0, again.stderr
    assert job_line(again.stdout).startswith(f"  job {first_id}: ")
    assert "already done: same content, model and options; --force transcribes it again" in again.stdout
    root = load_settings().local_root
    assert job_folders(root) == [first_id]  # nothing transcribed, nothing stored
    written = json.loads((tmp_path / "out" / "copy_of_the_take.json").read_text())
    assert written["job_id"] == first_id and (tmp_path / "out" / "copy_of_the_take.mid").read_bytes().startswith(b"MThd")

    forced = cli("transcribe", copy, "--jobs", "1", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert len(job_folders(root)) == 2 and first_id not in job_line(forced.stdout)


def test_json_output_of_an_answered_input_is_the_earlier_document(cli, take, standin_model):
    first = json.loads(cli("transcribe", take, "--jobs", "1", "--json").stdout)
    again = cli("transcribe", take, "--jobs", "1", "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == first


def test_another_model_version_a_tuned_profile_or_other_options_make_another_job(cli, take, standin_model):
    def job_of(*args) -> str:
        result = cli("transcribe", take, "--jobs", "1", *args)
        assert result.exit_code == 0, result.stderr
        return job_line(result.stdout).split()[1].rstrip(":")

    made = [job_of()]
    assert job_of() == made[0]
    made.append(job_of("--no-beats"))
    made.append(job_of("--midi-tracks", "per-instrument"))
    made.append(job_of("--note-map", "superior-drummer-3"))
    made.append(job_of("--midi-tempo", "fixed"))
    assert job_of("--note-map", "general-midi", "--midi-tracks", "single", "--midi-align", "audio",
                  "--midi-tempo", "follow") == made[0]  # defaults spelled out
    standin_model.version = "1"
    made.append(job_of())
    standin_model.profile = "tester-1"  # a user's tuned profile on the same model version
    made.append(job_of())
    assert len(set(made)) == len(made) == 7
    assert len(job_folders(load_settings().local_root)) == 7


def test_on_s3_an_answered_input_stores_nothing(cli, take, standin_model, bucket, s3):
    first = cli("transcribe", take, "--jobs", "1")
    assert first.exit_code == 0, first.stderr
    before = bucket_keys(s3, bucket)

    again = cli("transcribe", take, "--jobs", "1")

    assert again.exit_code == 0, again.stderr
    assert bucket_keys(s3, bucket) == before and "already done" in again.stdout


def test_the_library_twin_follows_the_same_rule(take, standin_model):
    from drumscribe import transcribe_and_store

    storage = LocalStorage(load_settings().local_root)
    result, job = transcribe_and_store(take, storage=storage)
    again, answered = transcribe_and_store(str(take), storage=storage)

    assert not job.existing and answered.existing and answered.job_id == job.job_id
    assert again.to_json() == result.to_json() and answered.upload_key == job.upload_key and not answered.uploaded
    _, forced = transcribe_and_store(take, storage=storage, force=True)
    assert not forced.existing and forced.job_id != job.job_id
    doc = json.loads(storage.get(keys.transcription_key("tester", job.job_id)))
    assert doc["options"] == {"beats": True}  # what the identity of a stored job is read from


def test_identity_is_content_model_version_profile_and_options():
    from drumscribe.jobs.identity import job_identity, job_options, model_identity

    class Model:
        name, version = "drumscribe-tcn", "2.2.0"

    class Tuned(Model):
        profile = "alice-3"

    sha = "ab" * 32
    assert model_identity(Tuned()) == {"name": "drumscribe-tcn", "version": "2.2.0", "profile": "alice-3"}
    base = job_identity(sha, Model(), job_options())
    assert base == job_identity(sha, Model(), job_options(True, {"align": "audio", "tracks": "single", "note_map": "general-midi"}))
    assert len({base, job_identity(sha, Tuned(), job_options()), job_identity("cd" * 32, Model(), job_options()),
                job_identity(sha, Model(), job_options(False)), job_identity(sha, Model(), job_options(True, {"align": "bar"}))}) == 5


def test_a_stored_job_is_found_by_the_profile_its_document_names():
    """A document whose ModelInfo names a profile (the field a tuned model writes) has that identity."""
    from dataclasses import dataclass, replace

    from drumscribe.jobs.identity import identity_of, job_identity, job_options
    from drumscribe.transcription.result import ModelInfo, SourceInfo, Transcription

    @dataclass(frozen=True)
    class TunedInfo(ModelInfo):
        profile: str | None = None

    class Tuned:
        name, version, profile = "drumscribe-tcn", "2.2.0", "alice-3"

    doc = Transcription(events=(), tempo=120.0, beats=(0.5,), source=SourceInfo(sha256="ab" * 32), options={"beats": True},
                        model=TunedInfo(name="drumscribe-tcn", version="2.2.0", profile="alice-3"))
    assert identity_of(doc) == job_identity("ab" * 32, Tuned(), job_options())
    assert identity_of(replace(doc, model=ModelInfo(name="drumscribe-tcn", version="2.2.0"))) != identity_of(doc)


def test_upload_of_content_already_stored_says_which_key_has_it(cli, take, bucket, s3, tmp_path):
    first = cli("upload", take)
    assert first.exit_code == 0, first.stderr
    key = first.stdout.strip()
    copy = tmp_path / "the same take.wav"  # same content, another name
    copy.write_bytes(take.read_bytes())

    again = cli("upload", copy)

    assert again.exit_code == 0, again.stderr
    assert again.stdout.strip() == key  # the key that has it, as a pipe expects
    assert f"already stored as {key}, not stored again" in again.stderr
    assert bucket_keys(s3, bucket, "uploads/") == [key]
    forced = cli("upload", copy, "--force")
    assert forced.exit_code == 0 and "already stored" not in forced.stderr
    assert bucket_keys(s3, bucket, "uploads/") == sorted([key, forced.stdout.strip()])


def test_a_job_written_before_options_were_recorded_answers_nothing():
    """Its MIDI options (alignment, note map, tracks) are unknown: answering with its output.mid could
    hand back a file laid out for other options, so the song is transcribed once more instead."""
    from drumscribe.jobs.identity import identity_of
    from drumscribe.transcription.result import ModelInfo, SourceInfo, Transcription

    old = Transcription(events=(), tempo=120.0, beats=(0.5,), source=SourceInfo(sha256="ab" * 32),
                        model=ModelInfo(name="drumscribe-tcn", version="3.0.0"))
    assert identity_of(old) is None
    assert identity_of(Transcription(events=(), tempo=120.0, beats=(0.5,), source=SourceInfo(sha256="ab" * 32),
                                     model=old.model, options={"beats": True})) is not None
