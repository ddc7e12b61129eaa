"""`setup lifecycle --archive-uploads-after DAYS --archive-class CLASS`, reading archived originals,
`drumscribe restore`, and what `stats` says the archive class saves."""

from __future__ import annotations

import boto3
import pytest
from typer.testing import CliRunner

from drumscribe import storage_stats
from drumscribe.cli import app
from drumscribe.doctor import PASS, doctor
from drumscribe.errors import ArchivedObjectError, ConfigError
from drumscribe.provision import CHANGED, IN_PLACE, WOULD_CHANGE, documents, setup
from drumscribe.storage import get_storage
from drumscribe.storage.restore import restore

GUIDE_IDS = {r["ID"] for r in documents.lifecycle()["Rules"]}
ORIGINAL = "uploads/tester/20261124T120000Z_abcdef012345_song.wav"


@pytest.fixture
def s3(s3_mock, bucket_name, monkeypatch):
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    setup(bucket=bucket_name, steps=["bucket", "lifecycle"])
    return boto3.client("s3", region_name="us-east-1")


def rules(s3, bucket):
    return {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}


def test_archive_rule_joins_the_guides_expirations(s3, bucket_name):
    (result,) = setup(bucket=bucket_name, steps=["lifecycle"], archive_uploads_after=90, archive_class="GLACIER")
    assert result.status == CHANGED and "uploads/ to GLACIER after 90 days" in result.detail
    found = rules(s3, bucket_name)
    assert set(found) == GUIDE_IDS | {"ArchiveUploads"}
    assert found["ArchiveUploads"]["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER"}]
    assert found["ArchiveUploads"]["Filter"] == {"Prefix": "uploads/"}
    assert found["CleanupProcessedFiles"]["Expiration"] == {"Days": 30} and found["CleanupTempFiles"]["Expiration"] == {"Days": 1}


def test_applied_twice_or_with_no_archive_option_changes_nothing(s3, bucket_name):
    setup(bucket=bucket_name, steps=["lifecycle"], archive_uploads_after=60)  # GLACIER_IR by default
    again = setup(bucket=bucket_name, steps=["lifecycle"], archive_uploads_after=60, archive_class="GLACIER_IR")
    plain = setup(bucket=bucket_name, steps=["lifecycle"])  # e.g. a plain `drumscribe setup` later
    assert again[0].status == plain[0].status == IN_PLACE and again[0].calls == plain[0].calls == []
    assert "uploads/ to GLACIER_IR after 60 days" in plain[0].detail
    assert {c.name: c.status for c in doctor().checks}["lifecycle"] == PASS  # doctor accepts the archive rule


def test_archive_replaces_the_infrequent_access_rule_and_remove_takes_it_out(s3, bucket_name):
    setup(bucket=bucket_name, steps=["lifecycle"], infrequent_access=True)
    setup(bucket=bucket_name, steps=["lifecycle"], archive_uploads_after=180, archive_class="DEEP_ARCHIVE")
    assert set(rules(s3, bucket_name)) == GUIDE_IDS | {"ArchiveUploads"}  # one transition for uploads/
    (removed,) = setup(bucket=bucket_name, steps=["lifecycle"], remove_archive=True)
    assert removed.status == CHANGED and set(rules(s3, bucket_name)) == GUIDE_IDS


def test_dry_run_writes_nothing(s3, bucket_name):
    (result,) = setup(bucket=bucket_name, steps=["lifecycle"], archive_uploads_after=30, archive_class="STANDARD_IA", dry_run=True)
    assert result.status == WOULD_CHANGE and set(rules(s3, bucket_name)) == GUIDE_IDS


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(archive_uploads_after=10, archive_class="STANDARD_IA"), "at least 30 for STANDARD_IA"),
        (dict(archive_uploads_after=0), "at least 1"),
        (dict(archive_uploads_after=30, archive_class="TAPE"), "unknown archive class 'TAPE'"),
        (dict(archive_class="GLACIER"), "--archive-class needs --archive-uploads-after"),
        (dict(archive_uploads_after=30, infrequent_access=True), "both set a transition for uploads/"),
    ],
)
def test_bad_archive_options_are_one_line(s3, bucket_name, options, message):
    with pytest.raises(ConfigError, match=message):
        setup(bucket=bucket_name, steps=["lifecycle"], **options)


def test_reading_an_archived_original_says_how_to_restore(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key=ORIGINAL, Body=b"RIFF....", StorageClass="DEEP_ARCHIVE")
    storage = get_storage()
    with pytest.raises(ArchivedObjectError) as exc:
        storage.get(ORIGINAL)
    message = str(exc.value)
    assert f"s3://{bucket_name}/{ORIGINAL} is archived in DEEP_ARCHIVE" in message and "\n" not in message
    assert f"drumscribe restore {ORIGINAL}" in message and f"aws s3api restore-object --bucket {bucket_name} --key {ORIGINAL}" in message

    result = CliRunner().invoke(app, ["transcribe", f"s3://{bucket_name}/{ORIGINAL}"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "is archived in DEEP_ARCHIVE and cannot be read until it is restored" in result.stderr

    got = CliRunner().invoke(app, ["get", ORIGINAL, "song.wav"])
    assert got.exit_code != 0 and f"drumscribe restore {ORIGINAL}" in got.stderr


def test_restore_asks_once_then_reports_the_state(s3, bucket_name):
    s3.put_object(Bucket=bucket_name, Key=ORIGINAL, Body=b"RIFF....", StorageClass="GLACIER")
    result = CliRunner().invoke(app, ["restore", ORIGINAL, "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "restore from GLACIER requested" in result.stdout and "for 3 days" in result.stdout
    assert "restored and readable until" in restore(ORIGINAL)  # moto restores at once
    assert get_storage().get(ORIGINAL) == b"RIFF...."
    s3.put_object(Bucket=bucket_name, Key="uploads/tester/new.wav", Body=b"x")
    assert "reads back without a restore" in restore("uploads/tester/new.wav")


def test_stats_shows_what_the_archive_class_saves(s3, bucket_name):
    mib = b"x" * 1024 * 1024
    s3.put_object(Bucket=bucket_name, Key="uploads/tester/a.wav", Body=mib, StorageClass="GLACIER")
    s3.put_object(Bucket=bucket_name, Key="uploads/tester/b.wav", Body=mib)
    s = storage_stats()
    glacier = s.classes["GLACIER"]
    in_standard = 1 / 1024 * 0.023
    assert glacier.saving_usd_month == pytest.approx(in_standard - glacier.usd_month - 8 / 1024**2 * 0.023)
    assert s.classes["STANDARD"].saving_usd_month == 0 and s.saving_usd_month == pytest.approx(glacier.saving_usd_month)
    result = CliRunner().invoke(app, ["stats"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "save $0.000019/month against keeping it all in STANDARD" in result.stdout
