"""Logout everywhere: back-channel logout tokens, refresh-token revocation, end-session URLs.

No Flask here. The web layer hands over the posted `logout_token` and gets back the `sid`
and/or `sub` whose sessions must end (or a LogoutTokenError naming what is wrong); at
logout it asks for the end-session URL and revokes the refresh token through `Revoker`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from joserfc import jws
from joserfc.errors import JoseError

from ..errors import AuthError
from ..store import LockTimeout, Store, StoreUnavailable
from .client import TokenClient
from .discovery import Discovery
from .jose import BACKCHANNEL_EVENT
from .tokens import TokenVerifier

log = logging.getLogger(__name__)

#: Header `typ` values a logout token may carry (Back-Channel Logout 1.0 §2.4), compared
#: case-insensitively; no `typ` at all is accepted too.
LOGOUT_TYPES = {"logout+jwt", "jwt"}
#: How old (by `iat`) a logout token may be, beyond the clock tolerance. Providers send them
#: at once; an old one is a replay whose `jti` may already have left the replay cache.
MAX_AGE = 300
JTI_PREFIX = "bcl-jti:"
#: Where providers deliver logout tokens (DOMAIN_SERVER + this is what admins register).
BACKCHANNEL_PATH = "/oauth/openid/backchannel-logout"
#: A logout token is a few hundred bytes; anything this long is not one (and is not parsed).
MAX_TOKEN_LENGTH = 16_384


class LogoutTokenError(Exception):
    """The logout token is not acceptable; `description` says why (it holds no token)."""

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


@dataclass(frozen=True)
class LogoutRequest:
    """Whose sessions a valid logout token ends: those of `sid`, else every one of `sub`."""

    sid: str | None
    sub: str | None


class LogoutTokenValidator:
    """Back-Channel Logout 1.0 §2.6, steps 1-10, plus a replay cache of `jti` in the store."""

    def __init__(self, verifier: TokenVerifier, store: Store, *, leeway: int, max_age: int = MAX_AGE) -> None:
        self.verifier = verifier
        self.store = store
        self.leeway = leeway
        self.max_age = max_age

    def validate(self, token: str, now: float | None = None) -> LogoutRequest:
        """The sid/sub to log out, or LogoutTokenError. The jti is remembered only when
        every other check passed, so a rejected token cannot burn a good token's jti."""
        if not isinstance(token, str) or not token:
            raise LogoutTokenError("The logout_token parameter is missing.")
        if len(token) > MAX_TOKEN_LENGTH:
            raise LogoutTokenError("The logout_token is too long.")
        try:
            header, claims = self.verifier.decode_signed(token, "logout")
        except AuthError as error:
            raise LogoutTokenError(f"{error.code}: {error.detail or error.message}") from None
        now = time.time() if now is None else now
        self._check_typ(header)
        self._check_claims(claims, now)
        self._remember_jti(claims, now)
        sid, sub = claims.get("sid"), claims.get("sub")
        return LogoutRequest(sid=sid, sub=sub)

    @staticmethod
    def _check_typ(header: dict[str, Any]) -> None:
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in LOGOUT_TYPES):
            raise LogoutTokenError(f"The header typ {str(typ)[:40]!r} is not logout+jwt.")

    def _check_claims(self, claims: dict[str, Any], now: float) -> None:
        verifier = self.verifier
        if claims.get("iss") != verifier.issuer:
            raise LogoutTokenError("The iss claim is not this provider's issuer.")
        aud = claims.get("aud")
        if not (aud == verifier.client_id or (isinstance(aud, list) and verifier.client_id in aud)):
            raise LogoutTokenError("The aud claim does not contain this client's id.")
        iat = claims.get("iat")
        if not _is_number(iat):
            raise LogoutTokenError("The iat claim is missing or not a number.")
        if iat > now + self.leeway:
            raise LogoutTokenError("The iat claim is in the future.")
        if iat < now - self.max_age - self.leeway:
            raise LogoutTokenError("The logout token is too old (iat).")
        exp = claims.get("exp")
        if exp is not None and (not _is_number(exp) or exp < now - self.leeway):
            raise LogoutTokenError("The logout token has expired (exp).")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise LogoutTokenError("The jti claim is missing.")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
            raise LogoutTokenError(f"The events claim does not hold {BACKCHANNEL_EVENT}.")
        sid, sub = claims.get("sid"), claims.get("sub")
        if sid is None and sub is None:
            raise LogoutTokenError("The logout token has neither sid nor sub.")
        for name, value in (("sid", sid), ("sub", sub)):
            if value is not None and (not isinstance(value, str) or not value):
                raise LogoutTokenError(f"The {name} claim is not a non-empty string.")
        if "nonce" in claims:
            raise LogoutTokenError("A logout token must not contain a nonce.")

    def _remember_jti(self, claims: dict[str, Any], now: float) -> None:
        """Refuses a jti seen before; keeps it as long as the token could still be accepted."""
        digest = hashlib.sha256(f"{claims['iss']}\0{claims['jti']}".encode()).hexdigest()
        key = JTI_PREFIX + digest
        until = max(float(claims["iat"]) + self.max_age, float(claims.get("exp") or 0)) + 2 * self.leeway
        try:
            with self.store.lock(key + ":lock", wait=5.0, lease=10.0):
                if self.store.get(key) is not None:
                    raise LogoutTokenError("This logout token was already used (jti).")
                self.store.set(key, {"seen": int(now)}, max(until - now, 1.0))
        except (LockTimeout, StoreUnavailable):
            raise LogoutTokenError("The replay cache is unavailable; send the token again.") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- end-session URL (RP-initiated logout) -------------------------------------------------


def end_session_url(
    endpoint: str | None,
    *,
    client_id: str,
    post_logout_redirect_uri: str,
    id_token: str | None,
    logout_hint: str | None,
    max_length: int,
) -> str | None:
    """The provider's end-session URL with `id_token_hint`; when that makes it longer than
    `max_length` (Entra ID refuses long URLs), `logout_hint` + `client_id` instead."""
    if not endpoint:
        return None
    joiner = "&" if "?" in endpoint else "?"
    params = {"client_id": client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token:
        url = endpoint + joiner + urlencode(params | {"id_token_hint": id_token})
        if len(url) <= max_length:
            return url
    if logout_hint:
        params["logout_hint"] = logout_hint
    return endpoint + joiner + urlencode(params)


def session_sid(id_token: str | None) -> str | None:
    """The `sid` claim of an ID token this server verified at login (kept server-side), for
    `logout_hint`; read with joserfc, not re-verified (it may have expired since)."""
    if not id_token:
        return None
    try:
        payload = jws.extract_compact(id_token.encode("ascii")).payload
        sid = json.loads(payload).get("sid")
    except (JoseError, ValueError, UnicodeError, AttributeError):
        return None
    return sid if isinstance(sid, str) and sid else None


# -- refresh-token revocation (RFC 7009) -----------------------------------------------------


class Revoker:
    """Revokes a refresh token at logout, within `budget` seconds whatever the provider does;
    never raises, and logs the outcome without the token."""

    def __init__(self, discovery: Discovery, client: TokenClient, *, enabled: bool, budget: float = 3.0) -> None:
        self.discovery = discovery
        self.client = client
        self.enabled = enabled
        self.budget = budget

    def endpoint(self) -> str | None:
        try:
            endpoint = self.discovery.metadata().get("revocation_endpoint")
        except AuthError:
            return None
        return endpoint if isinstance(endpoint, str) and endpoint else None

    def revoke(self, refresh_token: str | None) -> str:
        """`revoked`, `skipped`, `failed` or `timeout`; waits at most `budget` seconds."""
        if not self.enabled or not refresh_token:
            return "skipped"
        endpoint = self.endpoint()
        if endpoint is None:
            log.info("refresh token not revoked: the provider advertises no revocation_endpoint")
            return "skipped"
        outcome: list[str] = []

        def run() -> None:
            try:
                outcome.append(self.client.revoke(endpoint, refresh_token, timeout=self.budget))
            except Exception:  # noqa: BLE001 - whatever happens there, logout goes on
                outcome.append("failed")

        worker = threading.Thread(target=run, name="revoke", daemon=True)
        worker.start()
        worker.join(self.budget)
        result = outcome[0] if outcome else "timeout"
        log.info("refresh token revocation: %s", result)
        return result
