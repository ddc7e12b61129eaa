"""Who is calling: API tokens, and when the service may listen beyond this machine.

* Bound to a loopback address with no token configured, the service is single-user: every call
  acts as the configured user (``DRUMSCRIBE_USER``), as the CLI does.
* With ``DRUMSCRIBE_API_TOKEN`` set, every API call must carry ``Authorization: Bearer <token>``;
  the token is compared in constant time and names the user (the configured user). Library
  callers can pass several tokens, one per user (``tokens={"secret": "alice", ...}``).
* Listening on any other address needs a token, or ``insecure=True`` (``--insecure``).

The user id never comes from the request itself: not from a field, a header or a path.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass, field
from typing import Mapping

from drumscribe import keys
from drumscribe.config import Settings
from drumscribe.errors import ConfigError

TOKEN_ENV = "DRUMSCRIBE_API_TOKEN"
MIN_TOKEN_CHARS = 16
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")


class Unauthorized(Exception):
    """No or wrong credentials (HTTP 401)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def env_token(settings: Settings | None = None) -> str | None:
    """``DRUMSCRIBE_API_TOKEN`` from the environment, else from ``.env`` in the working directory."""
    token = os.environ.get(TOKEN_ENV)
    if not token:
        from pathlib import Path

        from drumscribe.envfile import read_env

        token = read_env(Path.cwd() / ".env").get(TOKEN_ENV)
    return (token or "").strip() or None


@dataclass(frozen=True)
class Auth:
    default_user: str
    tokens: Mapping[str, str] = field(default_factory=dict)  # token -> user id

    def __post_init__(self) -> None:
        keys.sanitize_user_id(self.default_user)
        for token, user in self.tokens.items():
            keys.sanitize_user_id(user)
            if len(token) < MIN_TOKEN_CHARS:
                raise ConfigError(f"{TOKEN_ENV} must be at least {MIN_TOKEN_CHARS} characters",
                                  hint="make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")

    @property
    def required(self) -> bool:
        return bool(self.tokens)

    def user_for(self, authorization: str | None) -> str:
        """The user an ``Authorization`` header stands for; ``Unauthorized`` if it stands for none."""
        if not self.tokens:
            return self.default_user
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("this API needs an Authorization: Bearer <token> header")
        given_bytes = given.strip().encode("utf-8")
        user = None
        for token, owner in self.tokens.items():  # compare with every token: time does not tell which matched
            if hmac.compare_digest(token.encode("utf-8"), given_bytes):
                user = owner
        if user is None:
            raise Unauthorized("wrong API token")
        return user


def check_bind(host: str, auth: Auth, insecure: bool) -> None:
    """Refuse to listen beyond this machine without a token, unless told ``insecure``."""
    if is_loopback(host) or auth.required or insecure:
        return
    raise ConfigError(
        f"refusing to listen on {host} without an API token: anyone who can reach it could use your bucket",
        hint=f"set {TOKEN_ENV} (16+ characters), or pass --insecure if this network is trusted",
    )
