"""Who the user is and what they may do, from the verified claims: the profile under
LibreChat's claim settings (OPENID_USERNAME_CLAIM, _NAME_CLAIM, _EMAIL_CLAIM) and the
entitlements (required roles and the admin role), each read from the ID token, the access
token or the userinfo endpoint. One place decides both, at login and at every refresh."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import AuthError
from .roles import check_required, claim_at_path, extract_roles
from .tokenset import TokenSet
from .userinfo import UserinfoRefused, UserinfoUnavailable

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
#: Claims that hold a sign-in name which often is an address (Entra's upn, Keycloak's login).
EMAIL_FALLBACKS = ("preferred_username", "upn")


@dataclass(frozen=True)
class ClaimNames:
    username: str = "preferred_username"
    name: str = "name"
    email: str = "email"


def _text(claims: Mapping[str, Any], path: str) -> str | None:
    value = claim_at_path(claims, path)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _address(value: str | None) -> str | None:
    return value if value is not None and _ADDRESS.fullmatch(value) else None


def profile(claims: Mapping[str, Any], names: ClaimNames) -> dict[str, str]:
    """sub, iss, email, name, username and picture under the configured claim names; without
    a usable (address-shaped) email claim, an address-shaped preferred_username or upn."""
    email = _address(_text(claims, names.email))
    for fallback in EMAIL_FALLBACKS:
        email = email or _address(_text(claims, fallback))
    values = {
        "sub": _text(claims, "sub"),
        "iss": _text(claims, "iss"),
        "email": email,
        "name": _text(claims, names.name),
        "username": _text(claims, names.username),
        "picture": _text(claims, "picture"),
    }
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class RoleRule:
    kind: str  # "id", "access" or "userinfo": where the roles are read
    path: str  # dotted claim path


@dataclass
class Entitlements:
    required: tuple[str, ...]
    required_rule: RoleRule
    admin_roles: tuple[str, ...]
    admin_rule: RoleRule
    userinfo: Callable[[str, str], dict[str, Any]]
    role_hint: str | None = None
    overage_claims: tuple[str, ...] = ()
    overage_hint: str | None = None

    @property
    def uses_userinfo(self) -> bool:
        return self.required_rule.kind == "userinfo" or (
            bool(self.admin_roles) and self.admin_rule.kind == "userinfo"
        )

    @property
    def needs_access_claims(self) -> bool:
        return self.required_rule.kind == "access" or (bool(self.admin_roles) and self.admin_rule.kind == "access")

    def at_login(self, tokens: TokenSet, id_claims: dict[str, Any], access_claims: dict[str, Any] | None,
                 access_token: str | None) -> None:
        """Roles and admin for a new session; a userinfo failure fails the login."""
        sources: dict[str, dict[str, Any] | None] = {"id": id_claims, "access": access_claims}
        if self.uses_userinfo:
            try:
                sources["userinfo"] = self.userinfo(access_token or "", tokens.sub)
            except UserinfoUnavailable as exc:
                raise AuthError("TOKEN_EXCHANGE_FAILED", f"The userinfo endpoint could not be reached ({exc}).",
                                status=502) from None
            except UserinfoRefused as exc:
                raise AuthError("PROVIDER_ERROR", f"Roles come from userinfo, but {exc}.") from None
        self._apply(tokens, sources)

    def at_refresh(self, tokens: TokenSet, id_claims: dict[str, Any] | None, access_claims: dict[str, Any] | None,
                   access_token: str | None) -> None:
        """Roles and admin again after a refresh grant: a lost required role ends the session
        (AuthError), a lost admin role only clears admin. A source that is not at hand (no ID
        token in the answer, userinfo down for a moment) keeps the previous values."""
        sources: dict[str, dict[str, Any] | None] = {"id": id_claims, "access": access_claims}
        if self.uses_userinfo:
            try:
                sources["userinfo"] = self.userinfo(access_token or "", tokens.sub)
            except UserinfoUnavailable as exc:
                log.warning("userinfo unavailable at refresh (%s): roles kept until the next one", exc)
            except UserinfoRefused as exc:
                raise AuthError("REFRESH_FAILED", f"Roles come from userinfo, but {exc}.") from None
        self._apply(tokens, sources)

    def for_session(self, roles: list[str]) -> None:
        """The current required roles on a session's kept roles, at every request: a setting
        made stricter after the login holds for existing sessions too (a set intersection)."""
        check_required(roles, self.required, self.role_hint)

    def for_bearer(self, claims: dict[str, Any]) -> tuple[list[str], bool]:
        """A bearer token's roles and admin, from its own claims only (no userinfo call)."""
        roles = extract_roles(claims, self.required_rule.path)
        self._check(roles, claims)
        admin = bool(self.admin_roles) and bool(set(extract_roles(claims, self.admin_rule.path)) & set(self.admin_roles))
        return roles, admin

    def _apply(self, tokens: TokenSet, sources: Mapping[str, dict[str, Any] | None]) -> None:
        claims = sources.get(self.required_rule.kind)
        if claims is not None:
            tokens.roles = extract_roles(claims, self.required_rule.path)
        admin_claims = sources.get(self.admin_rule.kind)
        if not self.admin_roles:
            tokens.admin = False
        elif admin_claims is not None:
            tokens.admin = bool(set(extract_roles(admin_claims, self.admin_rule.path)) & set(self.admin_roles))
        self._check(tokens.roles, claims)

    def _check(self, roles: list[str], claims: Mapping[str, Any] | None) -> None:
        hint = self.role_hint
        if claims is not None and self._overage(claims):
            hint = self.overage_hint or hint
        check_required(roles, self.required, hint)

    def _overage(self, claims: Mapping[str, Any]) -> bool:
        """Entra leaves `groups` out for users in too many groups and says so instead."""
        if self.required_rule.path != "groups" or not self.overage_claims:
            return False
        names = claims.get("_claim_names")
        return (isinstance(names, Mapping) and "groups" in names) or claims.get("hasgroups") in (True, "true")
