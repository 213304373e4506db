"""The development provider's side of back-channel logout: a signed logout token POSTed to
the registered client when a user signs out here or an admin disables them.

Delivered at once and synchronously (a few seconds at most), so a newcomer watching the demo
sees the application's session end; the outcome is logged, never the token.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from .server import Provider

log = logging.getLogger(__name__)
EVENT = "http://schemas.openid.net/event/backchannel-logout"
TIMEOUT = 5.0


def logout_token(p: "Provider", *, sub: str, sid: str | None) -> str:
    """Back-Channel Logout 1.0 §2.4: iss, aud, iat, exp, jti, events, sub and/or sid; typ logout+jwt."""
    now = int(p.clock())
    claims = {
        "iss": p.issuer, "aud": p.client.client_id, "iat": now, "exp": now + 120,
        "jti": secrets.token_urlsafe(16), "sub": sub, "events": {EVENT: {}},
    }
    if sid:
        claims["sid"] = sid
    return p.minter._sign(claims, typ="logout+jwt")


def send_logout_token(p: "Provider", *, sub: str, sid: str | None = None) -> str:
    """POSTs a logout token to the client's back-channel URI; `sent`, `refused`, `failed` or
    `not registered`. Never raises: signing out here must work whatever the client does."""
    uri = p.client.backchannel_logout_uri
    if not uri:
        return "not registered"
    try:
        response = requests.post(uri, data={"logout_token": logout_token(p, sub=sub, sid=sid)},
                                 timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        log.warning("back-channel logout to %s failed: %s", uri, type(exc).__name__)
        return "failed"
    outcome = "sent" if response.status_code == 200 else "refused"
    log.info("back-channel logout to %s: HTTP %s", uri, response.status_code)
    return outcome
