"""Settings checked before any request: endpoint URLs and S3 bucket names, each refused in one
line that says which rule is broken and where the value came from."""

from __future__ import annotations

import pytest

from drumscribe.config import load_settings
from drumscribe.errors import EXIT_BAD_INPUT, ConfigError
from drumscribe.keys import validate_bucket_name


@pytest.mark.parametrize("url", ["http://localhost:9000", "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:5000/", "HTTPS://minio.example"])
def test_endpoint_urls_that_work(url):
    assert load_settings(overrides={"endpoint_url": url}).endpoint_url == url


@pytest.mark.parametrize("url", ["notaurl", "http://", "ftp://files.example", "localhost:9000", "http://host:99999", "http://a b"])
def test_endpoint_urls_refused_naming_the_flag(url):
    with pytest.raises(ConfigError, match=r"^invalid endpoint URL .* \(from --endpoint-url\): give http:// or https:// and a host") as caught:
        load_settings(overrides={"endpoint_url": url})
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_endpoint_url_refused_naming_the_variable():
    with pytest.raises(ConfigError, match=r"from AWS_ENDPOINT_URL in the environment"):
        load_settings(env={"AWS_ENDPOINT_URL": "notaurl"})


@pytest.mark.parametrize("name", ["my-drums", "abc", "a" * 63, "drums.example.com", "1drums2", "my-s3alias-drums"])
def test_valid_bucket_names(name):
    assert validate_bucket_name(name) == name


@pytest.mark.parametrize("name, rule", [
    ("My_Drums", "only lowercase letters, digits, hyphens and dots are allowed (found 'M', '_', 'D') (for example my-drums)"),
    ("s3://my-bucket", "give the bucket name without s3:// (for example --bucket my-bucket)"),
    ("arn:aws:s3:::my-bucket", "give the bucket name without arn:aws:s3:::"),
    ("ab", "bucket names are 3 to 63 characters long (this one has 2)"),
    ("a" * 64, "bucket names are 3 to 63 characters long (this one has 64)"),
    ("-drums", "it must start and end with a letter or a digit"),
    ("drums.", "it must start and end with a letter or a digit"),
    ("my..drums", "two dots may not be next to each other"),
    ("192.168.5.4", "it may not look like an IP address"),
    ("xn--drums", "names starting with 'xn--' are reserved by AWS"),
    ("sthree-drums", "names starting with 'sthree-' are reserved by AWS"),
    ("drums-s3alias", "names ending in '-s3alias' are reserved by AWS"),
    ("drums--ol-s3", "names ending in '--ol-s3' are reserved by AWS"),
    ("drums--x-s3", "names ending in '--x-s3' are reserved by AWS"),
    ("", "it is empty"),
])
def test_bucket_names_refused_naming_the_rule(name, rule):
    with pytest.raises(ConfigError) as caught:
        validate_bucket_name(name)
    assert str(caught.value).startswith(f"invalid bucket name {name!r}: {rule}")


def test_a_bad_bucket_name_is_refused_even_without_credentials(monkeypatch):
    # no AWS credentials: drumscribe would fall back to the bucket's local mirror, named after it
    from drumscribe.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["--bucket", "My_Drums", "ls"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: invalid bucket name 'My_Drums': only lowercase letters")
