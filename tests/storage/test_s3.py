"""S3-only behaviour: encryption, stored hashes, multipart, pagination, batching, presigned URLs
fetched over real HTTP, and every AWS failure reported as one line."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import boto3
import pytest
from botocore.stub import Stubber

from drumscribe.config import load_settings
from drumscribe.errors import (
    AccessDeniedError,
    ConfigError,
    CredentialsError,
    EndpointError,
    InputError,
    NotFoundError,
    StorageError,
)
from drumscribe.storage import DeleteError, S3Storage
from drumscribe.storage.base import SHA256_META

from storage_helpers import MB, fetch, make_bucket


def raw(storage: S3Storage):
    """A plain boto3 client, to look at what really landed in the bucket."""
    return boto3.client("s3", region_name="us-east-1", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))


def count_calls(storage: S3Storage, operation: str) -> list:
    calls: list = []
    storage.client.meta.events.register(f"provide-client-params.s3.{operation}", lambda params, **kw: calls.append(dict(params)))
    return calls


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text and "Traceback" not in text
    return text


# --- what lands in the bucket -------------------------------------------------------------------


def test_every_object_is_encrypted_and_carries_its_sha256(s3_storage, tmp_path):
    path = tmp_path / "take1.flac"
    path.write_bytes(b"fLaC" * 1000)
    s3_storage.put("small", b"bytes")
    s3_storage.put("from-file.flac", path)
    s3_storage.put("from-stream", io.BytesIO(b"stream"))

    for key, data in (("small", b"bytes"), ("from-file.flac", path.read_bytes()), ("from-stream", b"stream")):
        head = raw(s3_storage).head_object(Bucket=s3_storage.bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["Metadata"][SHA256_META] == hashlib.sha256(data).hexdigest()
    assert raw(s3_storage).head_object(Bucket=s3_storage.bucket, Key="from-file.flac")["ContentType"] == "audio/flac"


def test_kms_encryption_with_a_key_id(s3_mock, bucket_name):
    make_bucket(bucket_name)
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    storage = S3Storage(load_settings({"bucket": bucket_name}), sse="aws:kms", kms_key_id=key_id)
    storage.put("secret.json", b"{}")
    head = raw(storage).head_object(Bucket=bucket_name, Key="secret.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]


def test_bad_encryption_options_are_config_errors(s3_mock, bucket_name):
    settings = load_settings({"bucket": bucket_name})
    with pytest.raises(ConfigError):
        S3Storage(settings, sse="rot13")
    with pytest.raises(ConfigError):
        S3Storage(settings, kms_key_id="abc")  # a KMS key with SSE-S3 makes no sense
    with pytest.raises(ConfigError, match="no S3 bucket"):
        S3Storage(load_settings())


def test_large_files_and_streams_go_up_in_parts(s3_storage, tmp_path):
    data = os.urandom(5 * MB + 4096)  # just over the 5 MB test threshold: two parts
    path = tmp_path / "long-take.wav"
    path.write_bytes(data)
    puts = count_calls(s3_storage, "PutObject")
    parts = count_calls(s3_storage, "UploadPart")

    info = s3_storage.put("uploads/tester/long-take.wav", path)
    s3_storage.put("uploads/tester/long-take-stream.wav", io.BytesIO(data))
    s3_storage.put("uploads/tester/long-take-bytes.wav", data)

    assert puts == [] and len(parts) == 6
    assert info.etag.endswith("-2")  # S3's multipart ETag: md5-of-md5s, dash, part count
    for key in ("uploads/tester/long-take.wav", "uploads/tester/long-take-stream.wav", "uploads/tester/long-take-bytes.wav"):
        head = raw(s3_storage).head_object(Bucket=s3_storage.bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"
        assert head["Metadata"][SHA256_META] == hashlib.sha256(data).hexdigest()
        assert s3_storage.get(key) == data


def test_a_multipart_upload_that_fails_half_way_leaves_nothing(s3_storage):
    class BreaksOnSecondPass(io.BytesIO):
        """Hashing reads it once; the upload's second read dies after the first part."""

        passes = 0

        def seek(self, *args):
            self.passes += 1
            return super().seek(*args)

        def read(self, size=-1):
            if self.passes >= 2 and self.tell() >= 5 * MB:
                raise OSError(5, "Input/output error")
            return super().read(size)

    started = count_calls(s3_storage, "CreateMultipartUpload")
    aborted = count_calls(s3_storage, "AbortMultipartUpload")
    with pytest.raises(InputError) as caught:
        s3_storage.put("uploads/tester/broken.wav", BreaksOnSecondPass(os.urandom(11 * MB)))
    one_line(caught.value)
    assert len(started) == 1 and len(aborted) == 1  # s3transfer aborted what it started
    assert not s3_storage.exists("uploads/tester/broken.wav")
    assert raw(s3_storage).list_multipart_uploads(Bucket=s3_storage.bucket).get("Uploads", []) == []


def test_list_follows_pages(s3_mock, bucket_name):
    make_bucket(bucket_name)
    storage = S3Storage(load_settings({"bucket": bucket_name}), page_size=10)
    keys = [f"processed/tester/job-{i:06d}/output.mid" for i in range(25)]
    for key in keys:
        storage.put(key, b"MThd")
    requests = count_calls(storage, "ListObjectsV2")

    assert [o.key for o in storage.list("processed/")] == keys
    assert len(requests) == 3


def test_list_is_lazy_one_page_at_a_time(s3_mock, bucket_name):
    make_bucket(bucket_name)
    storage = S3Storage(load_settings({"bucket": bucket_name}), page_size=2)
    for i in range(6):
        storage.put(f"k{i}", b"x")
    requests = count_calls(storage, "ListObjectsV2")
    listing = storage.list()
    assert requests == []  # nothing happens until someone iterates
    next(listing)
    assert len(requests) == 1


def test_delete_many_batches_by_one_thousand(s3_storage):
    real = [f"uploads/tester/{i}.wav" for i in range(5)]
    for key in real:
        s3_storage.put(key, b"x")
    keys = real + [f"gone/{i}" for i in range(2495)]  # deleting absent keys succeeds on S3
    batches = count_calls(s3_storage, "DeleteObjects")

    assert s3_storage.delete_many(keys) == keys
    assert [len(b["Delete"]["Objects"]) for b in batches] == [1000, 1000, 500]
    assert list(s3_storage.list()) == []


def test_delete_many_reports_the_keys_that_failed(s3_storage, monkeypatch):
    for key in ("a", "b", "c"):
        s3_storage.put(key, b"x")
    real_delete = s3_storage.client.delete_objects

    def refuse_b(**kwargs):
        kwargs["Delete"]["Objects"] = [o for o in kwargs["Delete"]["Objects"] if o["Key"] != "b"]
        response = real_delete(**kwargs)
        response["Errors"] = [{"Key": "b", "Code": "AccessDenied", "Message": "Access Denied"}]
        return response

    monkeypatch.setattr(s3_storage.client, "delete_objects", refuse_b)
    with pytest.raises(DeleteError) as caught:
        s3_storage.delete_many(["a", "b", "c"])
    assert caught.value.deleted == ["a", "c"]
    assert caught.value.errors == {"b": "AccessDenied"}
    assert one_line(caught.value) == "could not delete 1 of 3 objects: b (AccessDenied)"
    assert [o.key for o in s3_storage.list()] == ["b"]


# --- presigned URLs over real HTTP --------------------------------------------------------------


@pytest.fixture
def served_storage(moto_server, bucket_name):
    make_bucket(bucket_name)
    return S3Storage(load_settings({"bucket": bucket_name}))


def test_presigned_get_downloads_the_object(served_storage):
    data = os.urandom(3000)
    served_storage.put("processed/tester/job-000001/output.mid", data)
    url = served_storage.presign("processed/tester/job-000001/output.mid", expires=600)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Expires=600" in url
    assert fetch(url) == data


def test_presigned_put_uploads_an_object(served_storage):
    url = served_storage.presign("uploads/tester/from-browser.wav", method="PUT", content_type="audio/wav")
    fetch(url, data=b"RIFF....", method="PUT", headers={"Content-Type": "audio/wav"})
    assert served_storage.get("uploads/tester/from-browser.wav") == b"RIFF...."


# --- failures, each one line ---------------------------------------------------------------------


def test_missing_bucket_is_named(s3_mock):
    storage = S3Storage(load_settings({"bucket": "no-such-bucket-here"}))
    for operation in (
        lambda: storage.put("k", b"x"),
        lambda: storage.put("k", io.BytesIO(b"x" * (17 * MB))),
        lambda: storage.get("k"),
        lambda: storage.head("k"),  # HEAD has no error body: the backend asks about the bucket
        lambda: list(storage.list()),
        lambda: storage.delete("k"),
    ):
        with pytest.raises(NotFoundError) as caught:
            operation()
        assert one_line(caught.value).startswith("bucket 'no-such-bucket-here' does not exist")


def test_access_denied(s3_mock, bucket_name, enforce_moto_auth, monkeypatch):
    make_bucket(bucket_name)
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="reader")
    keys = iam.create_access_key(UserName="reader")["AccessKey"]  # a user with no policy at all
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["SecretAccessKey"])
    enforce_moto_auth()

    storage = S3Storage(load_settings({"bucket": bucket_name}))
    with pytest.raises(AccessDeniedError) as caught:
        storage.put("uploads/tester/a.wav", b"RIFF")
    assert one_line(caught.value).startswith(f"access denied to upload to s3://{bucket_name}/uploads/tester/a.wav")


def test_unknown_access_key(s3_mock, bucket_name, enforce_moto_auth):
    make_bucket(bucket_name)
    enforce_moto_auth()  # the fixture's made-up key is not a real one any more
    with pytest.raises(CredentialsError) as caught:
        list(S3Storage(load_settings({"bucket": bucket_name})).list())
    assert "wrong access key or secret" in one_line(caught.value)


def test_no_credentials_at_all(bucket_name):
    # conftest removed every AWS variable and points the shared files at nothing
    with pytest.raises(CredentialsError) as caught:
        S3Storage(load_settings({"bucket": bucket_name})).get("k")
    assert one_line(caught.value).startswith("no AWS credentials found")


def test_unreachable_endpoint(aws_credentials, bucket_name):
    settings = load_settings({"bucket": bucket_name, "endpoint_url": "http://127.0.0.1:9"})  # nothing listens on 9
    storage = S3Storage(settings, client_config={"connect_timeout": 1, "retries": {"max_attempts": 1}})
    for operation in (lambda: storage.put("k", b"x"), lambda: list(storage.list()), lambda: storage.head("k")):
        with pytest.raises(EndpointError) as caught:
            operation()
        assert one_line(caught.value).startswith("cannot reach the S3 endpoint")


@pytest.mark.parametrize(
    ("code", "status", "error", "text"),
    [
        ("ExpiredToken", 400, CredentialsError, "the AWS credentials have expired"),
        ("PermanentRedirect", 301, ConfigError, "is in another region"),
        ("SlowDown", 503, StorageError, "throttling"),
        ("InternalError", 500, StorageError, "S3 error InternalError"),
    ],
)
def test_other_aws_errors_are_one_line(s3_mock, bucket_name, code, status, error, text):
    storage = S3Storage(load_settings({"bucket": bucket_name}))
    with Stubber(storage.client) as stub:
        stub.add_client_error("get_object", service_error_code=code, service_message="boom", http_status_code=status)
        with pytest.raises(error) as caught:
            storage.get("k")
    assert text in one_line(caught.value)


def test_exists_does_not_say_no_when_the_bucket_is_gone(s3_mock):
    storage = S3Storage(load_settings({"bucket": "no-such-bucket-here"}))
    with pytest.raises(NotFoundError, match="bucket 'no-such-bucket-here' does not exist"):
        storage.exists("k")


def test_s3_checks_small_uploads_against_our_sha256(s3_storage):
    sent = count_calls(s3_storage, "PutObject")
    s3_storage.put("checked.json", b"{}")
    expected = base64.b64encode(hashlib.sha256(b"{}").digest()).decode()
    assert sent[0]["ChecksumSHA256"] == expected


CTRL_C_SCRIPT = r"""
import io, os, signal, threading, time
import boto3
from moto import mock_aws
from drumscribe.config import load_settings
from drumscribe.storage import S3Storage

MB = 1024 * 1024

class SlowStream(io.BytesIO):  # after the hashing pass, each 5 MB part takes half a second to read
    passes = 0
    pressed = False
    def seek(self, *args):
        self.passes += 1
        return super().seek(*args)
    def read(self, size=-1):
        if self.passes >= 2 and self.tell() >= 5 * MB:
            if not self.pressed:  # the user presses Ctrl-C once the upload is under way (not at a fixed
                self.pressed = True  # time: on a loaded machine a timer could fire before it starts)
                threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
            time.sleep(0.5)
        return super().read(size)

# a terminal delivers Ctrl-C as KeyboardInterrupt; a background job of a non-interactive shell (a CI
# step, `pytest &`) starts with SIGINT ignored and Python keeps it so: restore what a user has
signal.signal(signal.SIGINT, signal.default_int_handler)

with mock_aws():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="ctrl-c-bucket")
    storage = S3Storage(load_settings({"bucket": "ctrl-c-bucket"}), multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    try:
        storage.put("uploads/tester/long.wav", SlowStream(os.urandom(20 * MB)))
        print("finished")
    except KeyboardInterrupt:
        print("interrupted")
    time.sleep(1)
    print("objects", s3.list_objects_v2(Bucket="ctrl-c-bucket").get("KeyCount"))
    print("pending uploads", len(s3.list_multipart_uploads(Bucket="ctrl-c-bucket").get("Uploads", [])))
"""


@pytest.mark.slow
def test_ctrl_c_during_a_multipart_upload_leaves_nothing(aws_credentials):
    # run in a child process: the real SIGINT must not reach pytest itself
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", CTRL_C_SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.stdout.split("\n")[:3] == ["interrupted", "objects 0", "pending uploads 0"], result.stderr
