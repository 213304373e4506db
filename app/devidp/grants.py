"""The provider's memory: login sessions, authorization codes, opaque access tokens and
refresh-token families, behind one lock.

State is in memory only: restarting the provider signs everybody out of it and voids its
tokens, which a relying party must survive anyway. Tokens are stored by their SHA-256, so
nothing here is a usable credential. Every token carries the ``grant_id`` of the
authorization that produced it; revoking a grant (a replayed code, a reused refresh token)
voids every token of that grant at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from authlib.oauth2.rfc7636 import create_s256_code_challenge


class GrantError(Exception):
    """An OAuth error for the token endpoint (``invalid_grant`` and friends)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Grant:
    """What one user allowed one client, fixed at the authorization request."""

    grant_id: str
    sub: str
    client_id: str
    scope: tuple[str, ...]
    audience: str | None
    auth_time: int
    sid: str
    nonce: str | None = None

    @property
    def offline(self) -> bool:
        return "offline_access" in self.scope


@dataclass
class _Code:
    grant: Grant
    redirect_uri: str
    code_challenge: str
    expires_at: float
    used: bool = False


@dataclass
class _Refresh:
    grant: Grant
    expires_at: float
    used: bool = False


@dataclass
class _Access:
    grant: Grant
    expires_at: float


@dataclass
class LoginSession:
    """The provider's own sign-in (its cookie holds only ``sid``)."""

    sid: str
    sub: str
    auth_time: int
    expires_at: float


def _h(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass
class GrantStore:
    """Thread-safe token tables. ``clock`` is injectable so tests can move time."""

    clock: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _access: dict[str, _Access] = field(default_factory=dict)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)
    _sessions: dict[str, LoginSession] = field(default_factory=dict)
    _revoked: set[str] = field(default_factory=set)
    _last_sweep: float = 0.0

    # -- login sessions -------------------------------------------------------------
    def start_session(self, sub: str, ttl: int) -> LoginSession:
        now = self.clock()
        s = LoginSession(sid=new_token(16), sub=sub, auth_time=int(now), expires_at=now + ttl)
        with self._lock:
            self._sweep(now)
            self._sessions[s.sid] = s
        return s

    def get_session(self, sid: str | None) -> LoginSession | None:
        if not sid:
            return None
        with self._lock:
            s = self._sessions.get(sid)
            if s and s.expires_at <= self.clock():
                del self._sessions[sid]
                return None
            return s

    def end_session(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)

    def end_sessions_of(self, sub: str) -> list[str]:
        """Ends every sign-in of `sub` (an admin disabled the user); returns their sids."""
        with self._lock:
            sids = [sid for sid, s in self._sessions.items() if s.sub == sub]
            for sid in sids:
                del self._sessions[sid]
        return sids

    # -- authorization codes ----------------------------------------------------------
    def issue_code(self, grant: Grant, redirect_uri: str, code_challenge: str, ttl: int) -> str:
        code = new_token()
        with self._lock:
            self._sweep(self.clock())
            self._codes[_h(code)] = _Code(grant, redirect_uri, code_challenge, self.clock() + ttl)
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str | None, verifier: str | None) -> Grant:
        """Single use: a second redemption fails and revokes what the first one got."""
        with self._lock:
            entry = self._codes.get(_h(code or ""))
            if entry is None or entry.grant.client_id != client_id:
                raise GrantError("invalid_grant", "unknown authorization code")
            if entry.used:
                self._revoked.add(entry.grant.grant_id)
                raise GrantError(
                    "invalid_grant",
                    "authorization code already used; tokens issued for it are revoked",
                )
            entry.used = True
            if entry.expires_at <= self.clock():
                raise GrantError("invalid_grant", "authorization code expired")
            if redirect_uri != entry.redirect_uri:
                raise GrantError("invalid_grant", "redirect_uri does not match the authorization request")
            if not verifier:
                raise GrantError("invalid_grant", "code_verifier is required (PKCE)")
            if not hmac.compare_digest(create_s256_code_challenge(verifier), entry.code_challenge):
                raise GrantError("invalid_grant", "code_verifier does not match code_challenge")
            return entry.grant

    # -- access tokens ------------------------------------------------------------------
    def issue_opaque_access(self, grant: Grant, ttl: int) -> str:
        token = new_token()
        with self._lock:
            self._access[_h(token)] = _Access(grant, self.clock() + ttl)
        return token

    def lookup_access(self, token: str) -> Grant | None:
        with self._lock:
            entry = self._access.get(_h(token))
            if entry is None or entry.expires_at <= self.clock() or entry.grant.grant_id in self._revoked:
                return None
            return entry.grant

    def is_revoked(self, grant_id: str) -> bool:
        with self._lock:
            return grant_id in self._revoked

    # -- refresh tokens -------------------------------------------------------------------
    def issue_refresh(self, grant: Grant, ttl: int) -> str:
        token = new_token()
        with self._lock:
            self._refresh[_h(token)] = _Refresh(grant, self.clock() + ttl)
        return token

    def rotate_refresh(
        self, token: str, client_id: str, ttl: int, scope: list[str] | None = None
    ) -> tuple[Grant, str]:
        """Spend ``token`` and return its successor. Reusing a spent token revokes the family.

        ``scope`` may narrow (never widen) the granted scope for the tokens of this response.
        """
        with self._lock:
            entry = self._refresh.get(_h(token or ""))
            if entry is None or entry.grant.client_id != client_id:
                raise GrantError("invalid_grant", "unknown refresh token")
            gid = entry.grant.grant_id
            if gid in self._revoked:
                raise GrantError("invalid_grant", "refresh token revoked")
            if entry.used:
                self._revoked.add(gid)
                raise GrantError(
                    "invalid_grant",
                    "refresh token reuse detected: it was already rotated, so every token of "
                    "this login is revoked",
                )
            if entry.expires_at <= self.clock():
                raise GrantError("invalid_grant", "refresh token expired")
            if scope and set(scope) - set(entry.grant.scope):
                raise GrantError("invalid_scope", "a refresh cannot widen the granted scope")
            entry.used = True
            new = new_token()
            self._refresh[_h(new)] = _Refresh(entry.grant, self.clock() + ttl)
            if scope:
                return replace(entry.grant, scope=tuple(s for s in entry.grant.scope if s in scope)), new
            return entry.grant, new

    def revoke(self, token: str, client_id: str) -> None:
        """RFC 7009: a refresh token revokes its whole family, an access token itself."""
        with self._lock:
            h = _h(token or "")
            if (r := self._refresh.get(h)) and r.grant.client_id == client_id:
                self._revoked.add(r.grant.grant_id)
            if (a := self._access.get(h)) and a.grant.client_id == client_id:
                del self._access[h]

    # -- housekeeping -------------------------------------------------------------------
    def _sweep(self, now: float) -> None:
        """Drop expired entries now and then (caller holds the lock)."""
        if now - self._last_sweep < 60:
            return
        self._last_sweep = now
        for table in (self._codes, self._access, self._refresh, self._sessions):
            for key in [k for k, v in table.items() if v.expires_at <= now]:
                del table[key]
