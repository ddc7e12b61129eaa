"""Effective settings and where each one came from.

Priority, lowest to highest:

1. built-in defaults
2. the config file (``config.toml`` in the platformdirs user config dir, or ``$DRUMSCRIBE_CONFIG``)
3. ``.env`` in the working directory
4. environment variables
5. explicit overrides (CLI flags, keyword arguments)

Every layer uses the same names (``AWS_S3_BUCKET``, ``DRUMSCRIBE_USER``...). Credentials that are
not given here are left to boto3's own chain (profiles, SSO, instance roles), see ``drumscribe.aws``.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import platformdirs

from drumscribe.errors import ConfigError

APP_NAME = "drumscribe"
DEFAULT_MAX_UPLOAD_MB = 50.0
DEFAULT_REGION = "us-east-1"

# Settings field -> the one name used in the config file, .env and the environment.
ENV_NAMES: dict[str, str] = {
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "session_token": "AWS_SESSION_TOKEN",
    "bucket": "AWS_S3_BUCKET",
    "region": "AWS_REGION",
    "profile": "AWS_PROFILE",
    "endpoint_url": "AWS_ENDPOINT_URL",
    "home": "DRUMSCRIBE_HOME",
    "user": "DRUMSCRIBE_USER",
    "max_upload_mb": "DRUMSCRIBE_MAX_UPLOAD_MB",
}
SECRET_FIELDS = frozenset({"secret_access_key", "session_token"})


def default_home() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (some containers)
        return "local"


def mask(value: str | None) -> str:
    """Show that a secret is set without showing it."""
    if not value:
        return ""
    return "****" + value[-4:] if len(value) >= 16 else "****"


@dataclass(frozen=True)
class Settings:
    """Effective configuration. ``sources`` maps each field to where its value came from."""

    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    bucket: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    home: Path = field(default_factory=default_home)
    user: str = field(default_factory=_default_user)
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def region_name(self) -> str:
        return self.region or DEFAULT_REGION

    @property
    def local_root(self) -> Path:
        """The local mirror of the bucket: ``$DRUMSCRIBE_HOME/<bucket>`` (or ``/local``)."""
        return self.home / (self.bucket or "local")

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields overridden (recorded as source "override")."""
        return load_settings(overrides=changes, _base=self)

    def describe(self) -> list[tuple[str, str, str]]:
        """Rows of (NAME, value for display with secrets masked, source)."""
        rows = []
        for name, env_name in ENV_NAMES.items():
            value = self.region_name if name == "region" else getattr(self, name)
            shown = mask(value) if name in SECRET_FIELDS or name == "access_key_id" else value
            if name == "access_key_id" and value:
                shown = value[:4] + "…" + value[-4:] if len(value) > 8 else "****"
            rows.append((env_name, "" if shown is None else str(shown), self.sources.get(name, "default")))
        return rows


def _coerce(name: str, raw: Any, origin: str) -> Any:
    if raw is None:
        return None
    if name == "home":
        return Path(str(raw)).expanduser()
    if name == "max_upload_mb":
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"DRUMSCRIBE_MAX_UPLOAD_MB must be a number of megabytes, got {raw!r} (from {origin})")
        if not value > 0:
            raise ConfigError(f"DRUMSCRIBE_MAX_UPLOAD_MB must be positive, got {raw!r} (from {origin})")
        return value
    text = str(raw).strip()
    if name == "endpoint_url" and text:
        _check_endpoint_url(text, origin)
    return text or None


def _check_endpoint_url(url: str, origin: str) -> None:
    """An endpoint botocore would refuse later ("Invalid endpoint", as an internal error) is
    refused here, in one line that names where it came from."""
    from urllib.parse import urlsplit

    where = {"override": "--endpoint-url", "environment": "AWS_ENDPOINT_URL in the environment"}.get(origin, f"AWS_ENDPOINT_URL in {origin}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
        ok = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in url)
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"invalid endpoint URL {url!r} (from {where}): give http:// or https:// and a host, "
                          "e.g. http://localhost:9000 or https://s3.eu-west-1.amazonaws.com")


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}")
    # accept both a flat file and a [drumscribe] table
    if isinstance(data.get("drumscribe"), dict):
        data = data["drumscribe"]
    return data


def read_dotenv(path: Path) -> dict[str, str]:
    from drumscribe.envfile import read_env  # one .env parser for reading settings and for `setup iam`

    return read_env(path)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    config_path: Path | None = None,
    _base: Settings | None = None,
) -> Settings:
    """Build the effective settings from every layer.

    ``overrides`` uses field names (``bucket=``, ``region=``...); ``None`` values are ignored so
    CLI options that were not given do not hide lower layers.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    if _base is not None:
        for f in fields(Settings):
            if f.name != "sources":
                values[f.name] = getattr(_base, f.name)
        sources.update(_base.sources)
    else:
        if config_path is None:
            config_path = Path(env["DRUMSCRIBE_CONFIG"]) if env.get("DRUMSCRIBE_CONFIG") else default_config_path()
        cwd = Path.cwd() if cwd is None else cwd
        layers = [
            (f"config file {config_path}", read_config_file(config_path)),
            (f".env ({cwd / '.env'})", read_dotenv(cwd / ".env")),
            ("environment", env),
        ]
        for origin, layer in layers:
            for name, env_name in ENV_NAMES.items():
                raw = layer.get(env_name)
                if raw is None or (isinstance(raw, str) and not raw.strip()):
                    continue
                values[name] = _coerce(name, raw, origin)
                sources[name] = origin

    for name, raw in (overrides or {}).items():
        if name not in ENV_NAMES:
            raise TypeError(f"unknown setting {name!r}")
        if raw is None:
            continue
        values[name] = _coerce(name, raw, "override")
        sources[name] = "override"

    return Settings(**values, sources=sources)
