"""Control state of the test provider: the knobs tests turn, and what it recorded.

``ProviderConfig`` is read afresh by every request, so a test may change any field at any
time. ``ProviderState`` holds counters, recorded requests, authorization codes and
refresh-token families behind one lock (reuse detection must be exact under races).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DEFAULT_USER: dict[str, Any] = {
    "sub": "user-123",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "picture": "https://example.com/ada.png",
    "roles": ["admin", "user"],
}

#: Endpoint names used by ``calls``, ``fail`` and ``delay``.
ENDPOINTS = ("discovery", "jwks", "authorize", "token", "userinfo", "end_session", "revocation")


@dataclass
class ProviderConfig:
    """Behaviour switches; every field is read per request (documented in tests/provider/__init__.py)."""

    issuer_suffix: str = ""
    discovery_overrides: dict[str, Any] = field(default_factory=dict)
    id_token_alg: str = "RS256"
    #: Alg of JWT access tokens; None => same as ``id_token_alg``.
    access_token_alg: str | None = None
    access_token_format: str = "jwt"  # "jwt" | "opaque" | "jwe"
    access_token_ttl: int = 300
    id_token_ttl: int = 300
    code_ttl: int = 60
    default_audience: str | None = None
    #: "offline_access" | "always" | "never" | "access_type_offline" (Google: only when the
    #: authorization request said access_type=offline)
    refresh_tokens: str = "offline_access"
    rotate_refresh_tokens: bool = True
    refresh_returns_id_token: bool = True
    refresh_sub_override: str | None = None
    id_token_claims: dict[str, Any] = field(default_factory=dict)
    access_token_claims: dict[str, Any] = field(default_factory=dict)
    id_token_header: dict[str, Any] = field(default_factory=dict)
    access_token_header: dict[str, Any] = field(default_factory=dict)
    sign_with: str = "good"  # ID tokens: "good" | "wrong" | "hmac_public"
    access_token_sign_with: str = "good"  # JWT access tokens, same choices
    nonce_override: str | None = None
    include_at_hash: bool = True
    iss_param: bool = True
    iss_param_value: str | None = None
    advertise_iss_param: bool = True
    authorize_error: tuple[str, str] | None = None
    fail: dict[str, int] = field(default_factory=dict)
    token_error: str | None = None
    refresh_error: str | None = None
    delay: dict[str, float] = field(default_factory=dict)
    down: bool = False
    pkce_required: bool = True
    require_client_auth: bool = True
    #: Allowed redirect URIs; None => any absolute http(s) URL.
    redirect_uris: list[str] | None = None
    scopes_supported: list[str] = field(
        default_factory=lambda: ["openid", "profile", "email", "offline_access"]
    )
    code_challenge_methods_supported: list[str] = field(default_factory=lambda: ["S256"])
    #: Seconds the provider's clock is ahead of ours (iat, nbf and exp of what it mints).
    clock_skew: int = 0
    #: Called after a refresh grant succeeded, before the answer is sent (fault injection).
    on_refresh: Any = None
    #: Scopes /authorize answers with error=invalid_scope (Google and Cognito: offline_access).
    rejected_scopes: list[str] = field(default_factory=list)
    #: Claims /userinfo adds to (or, with None, removes from) the user's claims.
    userinfo_claims: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuthCode:
    """What /authorize remembered for one code."""

    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    audience: str | None
    user: dict[str, Any]
    expires_at: float
    access_type: str | None = None


@dataclass
class RefreshFamily:
    """One chain of rotated refresh tokens, born at one code exchange."""

    client_id: str
    scope: str
    audience: str | None
    current: str
    revoked: bool = False
    members: list[str] = field(default_factory=list)


class ProviderState:
    """Counters, recorded requests, codes and refresh families (all under ``lock``)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded or issued."""
        with self.lock:
            self.calls: Counter[str] = Counter()
            self.grants: Counter[str] = Counter()
            self.authorize_requests: list[dict[str, Any]] = []
            self.token_requests: list[dict[str, Any]] = []
            self.end_session_requests: list[dict[str, Any]] = []
            self.userinfo_requests: list[dict[str, Any]] = []
            self.revocation_requests: list[dict[str, Any]] = []
            self.revoked_families = 0
            self.codes: dict[str, AuthCode] = {}
            self.families: dict[str, RefreshFamily] = {}  # refresh token -> its family
            self.access_tokens: dict[str, dict[str, Any]] = {}  # token -> {user, exp, scope}

    # -- counters ---------------------------------------------------------------

    def hit(self, endpoint: str) -> None:
        with self.lock:
            self.calls[endpoint] += 1

    def record(self, bucket: list[dict[str, Any]], params: dict[str, Any]) -> None:
        with self.lock:
            bucket.append(params)

    def count_grant(self, grant_type: str) -> None:
        with self.lock:
            self.grants[grant_type] += 1

    # -- authorization codes ----------------------------------------------------

    def new_code(self, data: AuthCode) -> str:
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = data
        return code

    def take_code(self, code: str) -> AuthCode | None:
        """Single use: the code is gone after this, whatever happens next."""
        with self.lock:
            data = self.codes.pop(code, None)
        if data is None or data.expires_at < time.time():
            return None
        return data

    # -- refresh-token families ---------------------------------------------------

    def new_family(self, client_id: str, scope: str, audience: str | None) -> str:
        token = secrets.token_urlsafe(32)
        family = RefreshFamily(client_id, scope, audience, current=token, members=[token])
        with self.lock:
            self.families[token] = family
        return token

    def use_refresh_token(
        self, token: str, client_id: str, rotate: bool
    ) -> tuple[RefreshFamily | None, str | None, str]:
        """Redeem ``token`` atomically.

        Returns (family, new_token_or_None, error_description); family is None on failure.
        Presenting an already-rotated token revokes the whole family (reuse detection).
        """
        with self.lock:
            family = self.families.get(token)
            if family is None:
                return None, None, "unknown refresh token"
            if family.client_id != client_id:
                return None, None, "refresh token was issued to another client"
            if family.revoked:
                return None, None, "refresh token family revoked"
            if token != family.current:
                if rotate:
                    family.revoked = True
                    self.revoked_families += 1
                    return None, None, "refresh token reuse detected; family revoked"
                return None, None, "refresh token superseded"
            if not rotate:
                return family, None, ""
            new = secrets.token_urlsafe(32)
            family.current = new
            family.members.append(new)
            self.families[new] = family
            return family, new, ""

    def revoke_family(self, token: str) -> bool:
        """RFC 7009: the refresh token's whole family stops working (unknown tokens: no-op)."""
        with self.lock:
            family = self.families.get(token)
            if family is None:
                return False
            family.revoked = True
            return True

    # -- access tokens (for /userinfo) ---------------------------------------------

    def remember_access_token(self, token: str, user: dict[str, Any], exp: float, scope: str) -> None:
        with self.lock:
            self.access_tokens[token] = {"user": dict(user), "exp": exp, "scope": scope}

    def lookup_access_token(self, token: str) -> dict[str, Any] | None:
        with self.lock:
            info = self.access_tokens.get(token)
        if info is None or info["exp"] < time.time():
            return None
        return info
