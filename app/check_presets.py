"""`oidc-login check` lines for the provider presets' usual mistakes (issue 13): Entra's
multi-tenant issuer without OPENID_ALLOWED_TENANTS and its Graph access tokens, Keycloak's
roles and audience mappers, Google's missing roles, Cognito's hosted-UI logout, and the
userinfo role source. Same shape as the checks in check.py: `(Context) -> Result | None`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .providers import hosted_logout_url

if TYPE_CHECKING:
    from .check import Context, Result

OK, WARN, FAIL = "OK", "WARN", "FAIL"
_STANDARD_SCOPES = {"openid", "profile", "email", "offline_access", "address", "phone"}


def _result(*args: object) -> "Result":
    from .check import Result

    return Result(*args)  # type: ignore[arg-type]


def check_tenants(ctx: "Context") -> "Result | None":
    s = ctx.settings
    if not s.token_issuer_template:
        return None
    if not s.allowed_tenants:
        return _result(
            "tenants", WARN,
            f"multi-tenant issuer {s.issuer}: users of any Entra ID tenant can sign in",
            "Set OPENID_ALLOWED_TENANTS to the Directory (tenant) IDs whose users may sign in, "
            "or use your own tenant id in OPENID_ISSUER for a single-tenant app.",
        )
    return _result("tenants", OK, f"only tenants {', '.join(s.allowed_tenants)} may sign in")


def check_entra_access_tokens(ctx: "Context") -> "Result | None":
    s = ctx.settings
    if not (s.provider.foreign_audiences and s.reuse_tokens):
        return None
    own = [scope for scope in s.scope.split() if scope not in _STANDARD_SCOPES]
    if not own:
        return _result(
            "access_token_api", FAIL,
            f"OPENID_REUSE_TOKENS=true but OPENID_SCOPE ({s.scope!r}) names no API of yours: "
            "Entra ID then issues access tokens for Microsoft Graph, which only Graph can verify",
            s.provider.foreign_hint,
        )
    return _result("access_token_api", OK, f"access tokens are requested for {', '.join(own)}")


def check_role_claims(ctx: "Context") -> "Result | None":
    """Where the preset puts roles, against where the settings read them."""
    s = ctx.settings
    name = s.provider.name
    wanted = bool(s.required_roles) or bool(s.admin_roles)
    if not wanted:
        return None
    if name == "google" and "userinfo" not in (s.role_token_kind, s.admin_token_kind):
        return _result("roles", FAIL, "Google puts no roles in its tokens: OPENID_REQUIRED_ROLE / "
                       "OPENID_ADMIN_ROLE can never match", s.provider.hints.get("ROLE_REQUIRED"))
    if name == "keycloak" and s.role_token_kind == "id" and s.role_path.startswith(("realm_access", "resource_access")):
        return _result("roles", WARN, f"roles are read from {s.role_path} in the ID token; Keycloak's "
                       "roles mappers add them to access tokens only by default",
                       s.provider.hints.get("ROLE_REQUIRED"))
    if s.provider.overage_claims and s.role_path == "groups":
        return _result("roles", WARN, "roles are read from the groups claim, which Entra ID leaves "
                       "out for users in many groups (group overage)", s.provider.overage_hint)
    return _result("roles", OK, f"roles read from {s.role_path} in the {s.role_token_kind} token"
                   if s.role_token_kind != "userinfo" else f"roles read from {s.role_path} in userinfo")


def check_keycloak_audience(ctx: "Context") -> "Result | None":
    s = ctx.settings
    if s.provider.name != "keycloak" or not (s.reuse_tokens or "access" in (s.role_token_kind, s.admin_token_kind)):
        return None
    return _result(
        "keycloak_audience", WARN,
        f"access tokens must carry aud {s.token_audience!r}; Keycloak's say 'account' unless an "
        "audience mapper adds it", s.provider.hints.get("INVALID_AUDIENCE"),
    )


def check_cognito_audience(ctx: "Context") -> "Result | None":
    s = ctx.settings
    if not (s.provider.access_client_claim and s.audience):
        return None
    return _result("audience", WARN, f"OPENID_AUDIENCE={s.audience!r} is not used: {s.provider.name} access "
                   f"tokens have no aud, they name the app client in {s.provider.access_client_claim}",
                   "Leave OPENID_AUDIENCE unset; access tokens are checked against OPENID_CLIENT_ID.")


def check_userinfo(ctx: "Context") -> "Result | None":
    s = ctx.settings
    if "userinfo" not in (s.role_token_kind, s.admin_token_kind if s.admin_roles else "") or ctx.doc is None:
        return None
    endpoint = ctx.doc.get("userinfo_endpoint")
    if not endpoint:
        return _result("userinfo", FAIL, "roles come from userinfo, but discovery has no userinfo_endpoint",
                       "Set OPENID_REQUIRED_ROLE_TOKEN_KIND / OPENID_ADMIN_ROLE_TOKEN_KIND to id or access.")
    return _result("userinfo", OK, f"{endpoint} (called at login and at each refresh)")


def check_hosted_logout(ctx: "Context") -> "Result | None":
    s = ctx.settings
    if not (s.use_end_session_endpoint and s.provider.logout_path and ctx.doc is not None):
        return None
    url = hosted_logout_url(s.provider, ctx.doc, {
        "client_id": s.client_id, "post_logout_redirect_uri": s.post_logout_redirect_uri})
    if url is None:
        return _result("logout", FAIL, "discovery has no authorization_endpoint to derive the logout URL from",
                       "Check OPENID_ISSUER.")
    return _result("logout", OK, f"{url.split('?')[0]} with logout_uri={s.post_logout_redirect_uri} (it must be "
                   "in the app client's Allowed sign-out URLs)")


PRESET_CHECKS = [
    check_tenants,
    check_entra_access_tokens,
    check_role_claims,
    check_keycloak_audience,
    check_cognito_audience,
    check_userinfo,
    check_hosted_logout,
]
