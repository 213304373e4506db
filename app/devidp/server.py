"""The development provider's app factory and its loopback-only server."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..resources import templates_dir
from .config import DEFAULT_USERS, ConfigError, User, require_loopback
from .grants import GrantStore
from .keys import load_session_secret, load_signing_key
from .tokens import TokenMinter

#: Server-rendered pages live in the top-level ``templates/devidp`` (shipped in the wheel).
TEMPLATE_DIR = Path(templates_dir()) / "devidp"

#: Never ``session``/``_session`` (panva's oidc-provider) nor ``oidc_login`` (our app):
#: cookies ignore ports, and every server here shares 127.0.0.1/localhost.
COOKIE_NAME = "devidp_session"

SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access")


@dataclass
class Client:
    """The one registered relying party."""

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    #: Where logout tokens go (OpenID Connect Back-Channel Logout); None: not registered.
    backchannel_logout_uri: str | None = None

    @property
    def public(self) -> bool:
        return not self.client_secret


@dataclass
class Provider:
    """Everything the views need, hung on ``app.extensions["devidp"]``."""

    issuer: str
    base_url: str  # issuer without a trailing slash; endpoints hang below it
    client: Client
    users: dict[str, User]
    store: GrantStore
    minter: TokenMinter
    access_token_ttl: int
    id_token_ttl: int
    refresh_token_ttl: int
    code_ttl: int
    session_ttl: int
    clock: Callable[[], float] = field(default=time.time)
    disabled: set[str] = field(default_factory=set)  # subs an admin disabled

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def user_by_sub(self, sub: str) -> User | None:
        return next((u for u in self.users.values() if u.sub == sub), None)

    @property
    def default_user(self) -> User:
        return next(iter(self.users.values()))


def _check_issuer(issuer: str) -> tuple[str, str]:
    """Return (base URL, path prefix) of an http(s) issuer without query or fragment."""
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"issuer must be an http(s) URL without query or fragment, got {issuer!r}")
    base = issuer.rstrip("/")
    return base, urlsplit(base).path


def create_devidp(
    issuer: str,
    instance_dir: str,
    *,
    client_id: str,
    client_secret: str | None,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str],
    users: list[dict] | None = None,
    access_token_ttl: int = 300,
    id_token_ttl: int = 300,
    refresh_token_ttl: int = 86400,
    code_ttl: int = 60,
    session_ttl: int = 8 * 3600,
    clock: Callable[[], float] = time.time,
    backchannel_logout_uri: str | None = None,
) -> Flask:
    """Build the development provider for one client.

    ``client_secret=None`` registers a public client (token endpoint auth ``none``, PKCE
    only). ``clock`` lets tests move time for codes, tokens and sessions.
    """
    from . import admin, routes  # noqa: F401 - the views import this module's types; admin adds its own

    base_url, prefix = _check_issuer(issuer)
    if not client_id:
        raise ConfigError("client_id is required")
    if not redirect_uris:
        raise ConfigError("at least one redirect URI must be registered")
    parsed_users = [User.from_dict(u) for u in (users or DEFAULT_USERS)]
    user_map = {u.username: u for u in parsed_users}
    if len(user_map) != len(parsed_users):
        raise ConfigError("demo usernames must be unique")

    key = load_signing_key(instance_dir)
    provider = Provider(
        issuer=issuer,
        base_url=base_url,
        client=Client(client_id, client_secret or None, tuple(redirect_uris), tuple(post_logout_redirect_uris),
                      backchannel_logout_uri),
        users=user_map,
        store=GrantStore(clock=clock),
        minter=TokenMinter(
            key,
            issuer,
            userinfo_url=f"{base_url}/userinfo",
            avatar_url=lambda u: f"{base_url}/avatar/{u.username}.svg",
            clock=clock,
        ),
        access_token_ttl=access_token_ttl,
        id_token_ttl=id_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        code_ttl=code_ttl,
        session_ttl=session_ttl,
        clock=clock,
    )

    app = Flask(__name__, template_folder=str(TEMPLATE_DIR), static_folder=None)
    app.config.update(
        SECRET_KEY=load_session_secret(instance_dir),
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=base_url.startswith("https://"),
        SESSION_COOKIE_PATH=prefix or "/",
        PERMANENT_SESSION_LIFETIME=session_ttl,
    )
    app.extensions["devidp"] = provider
    app.register_blueprint(routes.bp, url_prefix=prefix or None)
    return app


_SECRET_PARAMS = re.compile(
    r"(?<=[?&])((?:id_token_hint|code|code_verifier|access_token|refresh_token|token|client_secret|id_token)=)[^&\s\"]*"
)


class RedactingRequestHandler(WSGIRequestHandler):
    """werkzeug's access log, with tokens and codes in query strings blanked out."""

    def log(self, type: str, message: str, *args: object) -> None:  # noqa: A002 - werkzeug's name
        args = tuple(_SECRET_PARAMS.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in args)
        super().log(type, message, *args)


def make_devidp_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """Bind a threaded werkzeug server; refuses non-loopback hosts (``NonLoopbackError``)."""
    require_loopback(host)
    return make_server(host, port, app, threaded=True, request_handler=RedactingRequestHandler)


def run(app: Flask, host: str, port: int) -> None:
    """Serve until interrupted (the standalone ``python -m app.devidp``)."""
    server = make_devidp_server(app, host, port)
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    try:
        server.serve_forever()
    finally:
        server.server_close()
