"""Session state: what the server-side session holds, and starting and ending it.

The Flask session (flask-session, server-side) holds who the user is and a pointer (`tsid`)
to the token record in the shared store. Tokens live only in that record, which is written
under the refresh lock: a request that writes the session back late can never resurrect an
old refresh token, and deleting the record kills every copy of the session at once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, session

from ..oidc.tokenset import TokenSet

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


def begin(claims: dict[str, Any], tokens: TokenSet) -> None:
    """A fresh session with a new id (no fixation), pointing at a new token record."""
    services = current_app.extensions["oidc_login"]
    tsid = secrets.token_urlsafe(32)
    services.refresher.save(tsid, tokens)
    now = int(time.time())
    session.clear()
    session.update(
        {
            "user": {k: claims.get(k) for k in PROFILE_CLAIMS if isinstance(claims.get(k), str)},
            "tsid": tsid,
            "created": now,
            "seen": now,
            "csrf": secrets.token_urlsafe(24),
        }
    )
    current_app.session_interface.regenerate(session)  # type: ignore[attr-defined]


def end() -> None:
    """Deletes the token record and the stored session; the cookie is cleared."""
    tsid = session.get("tsid")
    if tsid:
        current_app.extensions["oidc_login"].refresher.discard(tsid)
    session.clear()


def expired(now: float, idle_timeout: int, max_lifetime: int) -> bool:
    return now - session.get("created", 0) > max_lifetime or now - session.get("seen", 0) > idle_timeout


def touch(now: float) -> None:
    """Moves the idle clock, writing the session at most once a minute."""
    if now - session.get("seen", 0) >= TOUCH_EVERY:
        session["seen"] = int(now)
