"""A bucket in in-process moto, the matching settings, and a count of every S3 request sync makes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import boto3
import pytest

import drumscribe.aws
from drumscribe.config import load_settings


class Env:
    def __init__(self, bucket: str):
        self.bucket = bucket
        self.settings = load_settings()
        self.root: Path = self.settings.local_root
        self.s3 = boto3.client("s3", region_name="us-east-1")  # the test's own client: not counted
        self.calls: Counter[str] = Counter()

    def write(self, key: str, data: bytes | str) -> Path:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def put_remote(self, key: str, data: bytes | str, **extra) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data.encode() if isinstance(data, str) else data, **extra)

    def remote(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def remote_keys(self) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return [o["Key"] for p in pages for o in p.get("Contents", ())]

    def reset_calls(self) -> Counter:
        self.calls.clear()
        return self.calls


@pytest.fixture
def env(s3_mock, bucket_name, monkeypatch) -> Env:
    monkeypatch.setenv("AWS_S3_BUCKET", bucket_name)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket_name)
    e = Env(bucket_name)
    real_client = drumscribe.aws.client

    def counting_client(settings, service, **kwargs):
        c = real_client(settings, service, **kwargs)
        # every request drumscribe's client is about to send, by operation name
        c.meta.events.register("before-call.s3.*", lambda model, **_: e.calls.update([model.name]))
        return c

    monkeypatch.setattr(drumscribe.aws, "client", counting_client)
    return e
