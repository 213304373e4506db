"""Callback logic: from the provider's authorization response to a verified login.

The web layer hands in the query parameters, the state data it stored when the login
started, and a function that redeems the code; this module decides, in the contract's
order, whether the login stands, and with which error code when it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import AuthError
from .identity import ClaimNames, profile
from .tokens import TokenVerifier, classify
from .tokenset import TokenSet


@dataclass
class LoginResult:
    claims: dict[str, Any]
    tokens: TokenSet
    return_to: str


@dataclass(frozen=True)
class LoginRules:
    issuer: str
    reuse_tokens: bool
    role_token_kind: str  # "id", "access" or "userinfo"
    hints: Mapping[str, str]
    #: Roles (required or admin) are read from the access token: it must be a verified JWT.
    needs_access_claims: bool = False
    #: LibreChat's claim names for username, name and email.
    claim_names: ClaimNames = ClaimNames()


def check_response(
    params: Mapping[str, str],
    state_data: Mapping[str, Any] | None,
    metadata: Mapping[str, Any],
    rules: LoginRules,
) -> str:
    """State first (before anything is redeemed, and before any provider text is shown),
    then RFC 9207 `iss`, then a provider `error=`; returns the authorization code."""
    if state_data is None:
        raise AuthError("INVALID_STATE")
    iss = params.get("iss")
    if iss is not None and iss != rules.issuer:
        raise AuthError(
            "INVALID_ISSUER",
            f"The authorization response comes from {iss!r}, not {rules.issuer!r}.",
            hint=rules.hints.get("INVALID_ISSUER"),
            status=400,
        )
    if params.get("error"):
        description = params.get("error_description") or ""
        raise AuthError("PROVIDER_ERROR", f"{params['error']}: {description}".strip(": "))
    if iss is None and metadata.get("authorization_response_iss_parameter_supported") is True:
        raise AuthError(
            "INVALID_ISSUER",
            "The provider advertises the RFC 9207 iss parameter but the response has none.",
            hint=rules.hints.get("INVALID_ISSUER"),
            status=400,
        )
    code = params.get("code")
    if not code:
        raise AuthError("INVALID_REQUEST", "The authorization response has no code.")
    return code


def finish_login(
    token_response: Mapping[str, Any],
    *,
    nonce: str | None,
    verifier: TokenVerifier,
    rules: LoginRules,
    assess: Callable[[TokenSet, dict[str, Any], dict[str, Any] | None, str | None], None],
    return_to: str,
) -> LoginResult:
    """Validate the ID token, then (with reuse) the access and refresh tokens, then roles and
    admin (`assess`: Entitlements.at_login). The result's claims carry the profile under the
    configured claim names (email, name, username)."""
    id_token = token_response.get("id_token")
    if not id_token:
        raise AuthError(
            "TOKEN_EXCHANGE_FAILED",
            "The provider returned no ID token.",
            hint="Keep 'openid' in OPENID_SCOPE and make sure the application is an OpenID "
            "Connect (not plain OAuth2) client at the provider.",
        )
    access_token = token_response.get("access_token")
    claims = verifier.verify_id_token(id_token, nonce=nonce, access_token=access_token)
    fmt = classify(access_token)
    access_claims = None
    if rules.reuse_tokens or rules.role_token_kind == "access" or rules.needs_access_claims:
        if fmt != "jwt":
            raise AuthError(
                "OPAQUE_ACCESS_TOKEN",
                f"(This provider sent {'an ' + fmt if fmt else 'no'} access token.)",
                hint=rules.hints.get("OPAQUE_ACCESS_TOKEN"),
                status=400,
            )
        access_claims = verifier.verify_access_token(access_token or "")
    if rules.reuse_tokens and not token_response.get("refresh_token"):
        raise AuthError("MISSING_REFRESH_TOKEN", hint=rules.hints.get("MISSING_REFRESH_TOKEN"), status=400)
    tokens = TokenSet.from_response(dict(token_response), sub=claims["sub"], access_claims=access_claims)
    assess(tokens, claims, access_claims, access_token)
    mapped = profile(claims, rules.claim_names)
    claims = {**claims, **{key: mapped.get(key) for key in ("email", "name", "username")}}
    return LoginResult(claims=claims, tokens=tokens, return_to=return_to)
