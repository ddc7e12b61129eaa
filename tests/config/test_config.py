"""Settings come from five layers; the higher layer wins and `config show` says which one."""

import json

import pytest
from typer.testing import CliRunner

from drumscribe.cli import app
from drumscribe.config import load_settings
from drumscribe.errors import ConfigError


def test_defaults_when_nothing_is_configured(tmp_path):
    s = load_settings()
    assert s.bucket is None
    assert s.max_upload_mb == 50
    assert s.user == "tester"  # from the test environment
    assert s.local_root == s.home / "local"


def test_layers_in_priority_order(tmp_path, monkeypatch, isolated_env):
    config = tmp_path / "config.toml"
    config.write_text('AWS_S3_BUCKET = "from-config"\nAWS_REGION = "eu-west-1"\nDRUMSCRIBE_MAX_UPLOAD_MB = 10\n')
    monkeypatch.setenv("DRUMSCRIBE_CONFIG", str(config))
    (isolated_env / ".env").write_text("AWS_S3_BUCKET=from-dotenv\nAWS_REGION=eu-west-2\n")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    s = load_settings(overrides={"bucket": None})  # a flag that was not given hides nothing
    assert (s.bucket, s.region, s.max_upload_mb) == ("from-dotenv", "eu-central-1", 10)
    assert s.sources["bucket"].startswith(".env")
    assert s.sources["region"] == "environment"
    assert s.sources["max_upload_mb"].startswith("config file")
    s = load_settings(overrides={"bucket": "from-flag"})
    assert s.bucket == "from-flag" and s.sources["bucket"] == "override"
    assert s.local_root.name == "from-flag"


def test_bad_upload_limit_is_a_config_error(monkeypatch):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ConfigError, match="DRUMSCRIBE_MAX_UPLOAD_MB"):
        load_settings()


def test_config_show_masks_secrets(monkeypatch):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    result = CliRunner().invoke(app, ["--bucket", "b1", "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    assert "AKIAIOSFODNN7EXAMPLE" not in result.output
    data = json.loads(result.output)
    assert data["AWS_S3_BUCKET"] == {"value": "b1", "source": "override"}
    assert data["AWS_SECRET_ACCESS_KEY"]["value"].startswith("****")


def test_errors_are_one_line_without_traceback(monkeypatch):
    monkeypatch.setenv("DRUMSCRIBE_MAX_UPLOAD_MB", "-3")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines() == ["Error: DRUMSCRIBE_MAX_UPLOAD_MB must be positive, got '-3' (from environment)"]
