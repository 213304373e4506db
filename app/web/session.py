"""Session state: what a signed-in session holds, and starting, touching and ending it.

The session (sealed in the store under its ticket, see `ticket.py`) holds who the user is
and the clocks; the provider's tokens live in a separate record of the same vault, written
only under the refresh lock, so a request that writes the session late can never bring back
an old refresh token, and deleting the record ends the session everywhere at once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, session
from flask.sessions import SessionMixin

from ..oidc.tokenset import TokenSet
from ..store.sealed import Vault
from . import backchannel

PROFILE_CLAIMS = ("sub", "iss", "email", "name", "username", "picture")
TOUCH_EVERY = 60  # seconds between writes of the idle-timeout clock


@dataclass
class Principal:
    """The signed-in user of this request, from the session or a bearer token."""

    sub: str
    iss: str | None
    email: str | None = None
    name: str | None = None
    picture: str | None = None
    username: str | None = None
    roles: list[str] = field(default_factory=list)
    admin: bool = False
    tokens: TokenSet | None = None
    via: str = "session"

    @classmethod
    def from_claims(cls, claims: dict[str, Any], roles: list[str], **kwargs: Any) -> "Principal":
        def text(name: str) -> str | None:
            value = claims.get(name)
            return value if isinstance(value, str) else None

        tokens = kwargs.get("tokens")
        kwargs.setdefault("admin", bool(tokens is not None and tokens.admin))
        return cls(
            sub=claims["sub"], iss=text("iss"), email=text("email"), name=text("name"),
            picture=text("picture"), username=text("username"), roles=roles, **kwargs,
        )


def signed_in(sess: SessionMixin | None = None) -> bool:
    """Is this request's session (or `sess`, the same object when the caller holds it) a
    signed-in one? Callers on every request's path pass the object and skip a proxy lookup."""
    return "sub" in (session if sess is None else sess)


def unavailable(sess: SessionMixin | None = None) -> bool:
    """The store could not be read for this request's session cookie."""
    return bool(getattr(session if sess is None else sess, "unavailable", False))


def vault(sess: SessionMixin | None = None) -> Vault:
    """This session's vault (its ticket's hashed keys and sealing key)."""
    interface = current_app.session_interface
    return interface.vault_of(session if sess is None else sess)  # type: ignore[attr-defined,no-any-return]


def begin(claims: dict[str, Any], tokens: TokenSet) -> None:
    """A fresh session under a new ticket (no fixation). A login in a browser that was
    signed in ends the previous session and its token record first."""
    services = current_app.extensions["oidc_login"]
    settings = services.settings
    if signed_in():
        services.refresher.discard(vault())
    interface = current_app.session_interface
    interface.regenerate(session)  # type: ignore[attr-defined]
    now = int(time.time())
    session.clear()
    session.update(
        {
            "sub": claims["sub"],
            "user": {k: claims.get(k) for k in PROFILE_CLAIMS if isinstance(claims.get(k), str)},
            "created": now,
            "seen": now,
            "until": _until(now, now, settings.idle_timeout, settings.max_lifetime),
            "csrf": secrets.token_urlsafe(24),
        }
    )
    services.refresher.save(vault(), tokens)
    interface.persist(session)  # type: ignore[attr-defined]
    backchannel.index_session(claims, session_keys())


def session_keys() -> list[str]:
    """The store keys of this session (its value, its token record): what a back-channel
    logout deletes. Hashed keys: the index names no cookie."""
    return list(vault().keys("session", "tokens"))


def end(sess: SessionMixin | None = None) -> None:
    """Deletes the token record; the stored session goes at the end of the request (and the
    cookie with it, except for forward auth, whose answers never carry one)."""
    sess = session if sess is None else sess
    if signed_in(sess):
        current_app.extensions["oidc_login"].refresher.discard(vault(sess))
    sess.clear()


def expired(sess: SessionMixin, now: float, idle_timeout: int, max_lifetime: int) -> bool:
    return now - sess.get("created", 0) > max_lifetime or now - sess.get("seen", 0) > idle_timeout


def touch(sess: SessionMixin, now: float) -> None:
    """Moves the idle clock, writing the session at most once a minute (never the cookie)."""
    if now - sess.get("seen", 0) < TOUCH_EVERY:
        return
    settings = current_app.extensions["oidc_login"].settings
    sess["seen"] = int(now)
    sess["until"] = _until(sess.get("created", now), now, settings.idle_timeout, settings.max_lifetime)
    current_app.session_interface.persist(sess)  # type: ignore[attr-defined]


def _until(created: float, seen: float, idle_timeout: int, max_lifetime: int) -> int:
    """When the stored session may be forgotten: idle or absolute end, whichever is first
    (plus one touch interval, so the idle check, not the store, decides at the edge)."""
    return int(min(created + max_lifetime, seen + idle_timeout + TOUCH_EVERY))
