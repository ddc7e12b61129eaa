"""Small helpers the storage tests share (a module, not conftest, so tests can import them)."""

from __future__ import annotations

import urllib.request

import boto3

MB = 1024 * 1024
# S3's smallest allowed part is 5 MB, so the multipart tests need files just above that.
SMALL_PARTS = {"multipart_threshold": 5 * MB, "multipart_chunksize": 5 * MB}


def make_bucket(name: str, region: str = "us-east-1") -> None:
    boto3.client("s3", region_name=region).create_bucket(Bucket=name)


def fetch(url: str, *, data: bytes | None = None, method: str = "GET", headers: dict | None = None) -> bytes:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()
