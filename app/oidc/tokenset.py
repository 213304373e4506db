"""The provider's tokens as kept server-side for one session, and when they need a refresh."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .tokens import classify


@dataclass
class TokenSet:
    sub: str
    access_token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    access_token_format: str | None = None
    issued_at: int = 0
    expires_at: int | None = None
    roles: list[str] = field(default_factory=list)
    admin: bool = False  # holds OPENID_ADMIN_ROLE; re-evaluated at every refresh
    #: The access token's own `sub`: Okta puts the login name there, not the ID token's
    #: user id, so refreshed access tokens are compared with this, not with `sub`.
    access_sub: str | None = None
    refreshed: int = 0  # how many refresh grants this session has seen
    failures: int = 0  # consecutive temporary refresh failures
    retry_after: float = 0.0  # no new refresh attempt before this (backoff)

    @classmethod
    def from_response(
        cls,
        response: dict[str, Any],
        *,
        sub: str,
        access_claims: dict[str, Any] | None,
        previous: "TokenSet | None" = None,
        now: float | None = None,
    ) -> "TokenSet":
        """Build from a token-endpoint answer. A refresh answer without a new refresh token
        (no rotation) keeps the old one; one without an ID token keeps the old ID token."""
        now = time.time() if now is None else now
        access = response.get("access_token")
        expires_at: int | None = None
        issued_at = int(now)
        if access_claims and isinstance(access_claims.get("exp"), (int, float)):
            expires_at = int(access_claims["exp"])
            if isinstance(access_claims.get("iat"), (int, float)):
                issued_at = int(access_claims["iat"])
        elif isinstance(response.get("expires_in"), (int, float)) or str(
            response.get("expires_in", "")
        ).isdigit():
            expires_at = int(now + int(response["expires_in"]))
        return cls(
            sub=sub,
            access_token=access,
            refresh_token=response.get("refresh_token") or (previous.refresh_token if previous else None),
            id_token=response.get("id_token") or (previous.id_token if previous else None),
            access_token_format=classify(access),
            issued_at=issued_at,
            expires_at=expires_at,
            roles=list(previous.roles) if previous else [],
            admin=previous.admin if previous else False,
            access_sub=access_claims.get("sub") if access_claims else None,
            refreshed=(previous.refreshed + 1) if previous else 0,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TokenSet":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def from_stored(cls, data: Any) -> "TokenSet | None":
        """A record read back from the store, or None when it is missing or not a record."""
        if not isinstance(data, dict) or not isinstance(data.get("sub"), str):
            return None
        try:
            return cls.from_dict(data)
        except TypeError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def refresh_due(self, margin: int, now: float | None = None) -> bool:
        """Less than min(margin, half the token's lifetime) seconds are left (or none)."""
        if self.expires_at is None:
            return False
        now = time.time() if now is None else now
        left = self.expires_at - now
        lifetime = max(self.expires_at - self.issued_at, 0)
        return left <= 0 or left < min(margin, lifetime / 2)

    def expired(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.expires_at is not None and self.expires_at <= now
