"""Minting and checking the provider's JWTs (ID tokens and JWT access tokens) with joserfc.

Claim shapes follow Auth0: ID tokens carry the profile for the granted scopes plus roles
(``roles`` and the namespaced ``https://oidc-login.dev/roles``); JWT access tokens are
``typ: at+jwt`` with ``aud = [audience, <userinfo URL>]`` and ``azp`` = the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from .config import User
from .grants import Grant, new_token
from .keys import SIGNING_ALG

ROLES_CLAIM = "https://oidc-login.dev/roles"


class TokenMinter:
    """Signs and verifies this provider's own tokens."""

    def __init__(
        self,
        key: RSAKey,
        issuer: str,
        userinfo_url: str,
        avatar_url: Callable[[User], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.issuer = issuer
        self.userinfo_url = userinfo_url
        self.avatar_url = avatar_url
        self.clock = clock

    def _sign(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        header = {"alg": SIGNING_ALG, "typ": typ, "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=[SIGNING_ALG])

    def user_claims(self, user: User, scope: tuple[str, ...]) -> dict[str, Any]:
        """Profile claims for the granted scopes, and roles (always, like an Auth0 Action)."""
        claims: dict[str, Any] = {"sub": user.sub}
        if "profile" in scope:
            claims.update(
                name=user.name,
                nickname=user.username,
                preferred_username=user.username,
                picture=user.picture or self.avatar_url(user),
            )
        if "email" in scope:
            claims.update(email=user.email, email_verified=user.email_verified)
        claims["roles"] = list(user.roles)
        claims[ROLES_CLAIM] = list(user.roles)
        return claims

    def id_token(
        self, user: User, grant: Grant, ttl: int, *, access_token: str | None, nonce: str | None
    ) -> str:
        now = int(self.clock())
        claims = self.user_claims(user, grant.scope)
        claims.update(
            iss=self.issuer,
            aud=grant.client_id,
            azp=grant.client_id,
            iat=now,
            exp=now + ttl,
            auth_time=grant.auth_time,
            sid=grant.sid,
        )
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            claims["at_hash"] = create_half_hash(access_token, SIGNING_ALG).decode("ascii")
        return self._sign(claims)

    def access_token_jwt(self, user: User, grant: Grant, ttl: int) -> str:
        now = int(self.clock())
        aud: list[str] = [grant.audience] if grant.audience else []
        if "openid" in grant.scope:
            aud.append(self.userinfo_url)
        claims = {
            "iss": self.issuer,
            "sub": user.sub,
            "aud": aud,
            "azp": grant.client_id,
            "client_id": grant.client_id,
            "scope": " ".join(grant.scope),
            "iat": now,
            "exp": now + ttl,
            "jti": new_token(16),
            "gid": grant.grant_id,
            "roles": list(user.roles),
            ROLES_CLAIM: list(user.roles),
        }
        return self._sign(claims, typ="at+jwt")

    def verify(self, token: str, *, typ: str | None = None, check_exp: bool = True) -> dict[str, Any] | None:
        """Claims of a token this provider signed (right key, issuer, lifetime), else None."""
        try:
            decoded = jwt.decode(token, self.key, algorithms=[SIGNING_ALG])
        except (JoseError, ValueError):
            return None
        if typ and decoded.header.get("typ") != typ:
            return None
        claims = decoded.claims
        if claims.get("iss") != self.issuer:
            return None
        if check_exp:
            registry = jwt.JWTClaimsRegistry(now=lambda: int(self.clock()), exp={"essential": True})
            try:
                registry.validate(claims)
            except JoseError:
                return None
        return claims
