"""Settings of the development provider: demo users, the one registered client, lifetimes.

Read from ``DEVIDP_*`` environment variables when the provider runs standalone (see the
package docstring for the list); ``create_devidp`` takes the same values as arguments.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

DEFAULT_USERS: list[dict] = [
    {
        "username": "demo",
        "password": "demo",
        "name": "Demo User",
        "email": "demo@example.com",
        "roles": ["user", "admin"],
    }
]

DEFAULT_CLIENT_ID = "oidc-login-dev"
DEFAULT_CLIENT_SECRET = "oidc-login-dev-secret"


class ConfigError(ValueError):
    """A ``DEVIDP_*`` setting or a ``create_devidp`` argument is unusable."""


class NonLoopbackError(ConfigError):
    """The provider was asked to listen on a non-loopback address."""


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (with or without brackets)."""
    host = host.strip().lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(host: str) -> None:
    """Refuse anything but loopback: this provider accepts any password it is configured with."""
    if not is_loopback_host(host):
        raise NonLoopbackError(
            f"refusing to listen on {host!r}: the development identity provider is for local "
            "development only and binds loopback addresses only (127.0.0.1, ::1 or localhost)"
        )


@dataclass(frozen=True)
class User:
    """A demo account. ``sub`` defaults to ``devidp|<username>``, Auth0-style."""

    username: str
    password: str
    name: str
    email: str
    roles: tuple[str, ...] = ()
    sub: str = ""
    email_verified: bool = True
    picture: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "User":
        try:
            username = str(data["username"])
            password = str(data["password"])
        except KeyError as exc:
            raise ConfigError(f"demo user needs {exc.args[0]!r}: {data!r}") from None
        if not username or not password:
            raise ConfigError(f"demo user needs a username and a password: {data!r}")
        roles = data.get("roles") or ()
        if isinstance(roles, str):
            roles = [r for r in roles.replace(",", "|").split("|") if r]
        return cls(
            username=username,
            password=password,
            name=str(data.get("name") or username),
            email=str(data.get("email") or f"{username}@example.com"),
            roles=tuple(str(r) for r in roles),
            sub=str(data.get("sub") or f"devidp|{username}"),
            email_verified=bool(data.get("email_verified", True)),
            picture=data.get("picture"),
        )


def parse_users(spec: str) -> list[dict]:
    """Parse ``user:password:Name:email:role1|role2`` entries separated by commas.

    Name, email and roles may be left out (``alice:secret``); roles are separated by ``|``.
    """
    users: list[dict] = []
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) < 2 or len(parts) > 5:
            raise ConfigError(
                f"DEVIDP_USERS entry {entry!r} is not user:password[:Name[:email[:role1|role2]]]"
            )
        parts += [""] * (5 - len(parts))
        username, password, name, email, roles = parts
        users.append(
            {
                "username": username,
                "password": password,
                "name": name or username,
                "email": email or f"{username}@example.com",
                "roles": [r for r in roles.split("|") if r],
            }
        )
    if not users:
        raise ConfigError("DEVIDP_USERS is set but names no user")
    return users


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


@dataclass
class EnvSettings:
    """Everything ``python -m app.devidp`` reads from the environment."""

    host: str = "127.0.0.1"
    port: int = 3081
    issuer: str | None = None
    instance_dir: str = "instance"
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str | None = DEFAULT_CLIENT_SECRET
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    users: list[dict] = field(default_factory=lambda: [dict(u) for u in DEFAULT_USERS])
    access_token_ttl: int = 300
    id_token_ttl: int = 300
    refresh_token_ttl: int = 86400
    code_ttl: int = 60
    backchannel_logout_uri: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "EnvSettings":
        env = dict(os.environ if env is None else env)
        s = cls()
        s.host = env.get("DEVIDP_HOST", "").strip() or s.host
        s.port = _int(env, "DEVIDP_PORT", s.port)
        s.issuer = env.get("DEVIDP_ISSUER", "").strip() or None
        s.instance_dir = env.get("DEVIDP_INSTANCE_DIR", "").strip() or s.instance_dir
        s.client_id = env.get("DEVIDP_CLIENT_ID", "").strip() or s.client_id
        if "DEVIDP_CLIENT_SECRET" in env:
            # Set but empty: a public client (no secret, PKCE only).
            s.client_secret = env["DEVIDP_CLIENT_SECRET"].strip() or None
        app_base = ["http://localhost:3080", "http://127.0.0.1:3080"]
        s.redirect_uris = _csv(env.get("DEVIDP_REDIRECT_URIS", "")) or [
            f"{b}/oauth/openid/callback" for b in app_base
        ]
        s.post_logout_redirect_uris = _csv(env.get("DEVIDP_POST_LOGOUT_REDIRECT_URIS", "")) or [
            f"{b}/login" for b in app_base
        ]
        if env.get("DEVIDP_USERS", "").strip():
            s.users = parse_users(env["DEVIDP_USERS"])
        s.access_token_ttl = _int(env, "DEVIDP_ACCESS_TOKEN_TTL", s.access_token_ttl)
        s.id_token_ttl = _int(env, "DEVIDP_ID_TOKEN_TTL", s.id_token_ttl)
        s.refresh_token_ttl = _int(env, "DEVIDP_REFRESH_TOKEN_TTL", s.refresh_token_ttl)
        s.code_ttl = _int(env, "DEVIDP_CODE_TTL", s.code_ttl)
        s.backchannel_logout_uri = env.get("DEVIDP_BACKCHANNEL_LOGOUT_URI", "").strip() or None
        return s
