"""Presets for the hosted identity services configured by domain: Auth0, Okta, WorkOS."""

from __future__ import annotations

from .preset import Preset

SAAS_PRESETS: dict[str, Preset] = {
    "auth0": Preset(
        name="auth0",
        label="Continue with Auth0",
        trailing_slash="slash",
        keep_path=False,
        jwt_access_needs_audience=True,
        issuer_help="your Auth0 domain, e.g. acme.us.auth0.com (Dashboard → Applications → "
        "your app → Settings → Domain)",
        hints={
            "INVALID_ISSUER": "Auth0 issuers are https://{domain}/ with a trailing slash. Copy the "
            "Domain from Auth0 Dashboard → Applications → your app → Settings into "
            "OPENID_ISSUER (a custom domain must be used everywhere once enabled).",
            "INVALID_AUDIENCE": "ID tokens carry your Client ID; access tokens carry the API "
            "Identifier. Compare OPENID_CLIENT_ID with Auth0 Dashboard → Applications → your "
            "app, and OPENID_AUDIENCE with Applications → APIs → your API → Identifier.",
            "OPAQUE_ACCESS_TOKEN": "Auth0 issues JWT access tokens only when the login names an "
            "API: set OPENID_AUDIENCE to its Identifier (Auth0 Dashboard → Applications → "
            "APIs) and enable 'Allow Offline Access' there. Or set OPENID_REUSE_TOKENS=false.",
            "MISSING_REFRESH_TOKEN": "Add offline_access to OPENID_SCOPE, enable 'Allow Offline "
            "Access' in Auth0 Dashboard → Applications → APIs → your API → Settings, and "
            "the Refresh Token grant in Applications → your app → Advanced → Grant Types.",
            "TOKEN_EXCHANGE_FAILED": "Check the Client ID/Secret and that the callback URL is "
            "listed in Auth0 Dashboard → Applications → your app → Allowed Callback URLs.",
            "ROLE_REQUIRED": "Assign the role in Auth0 Dashboard → User Management → Roles and "
            "add it to the token with a post-login Action under a namespaced claim "
            "(OPENID_REQUIRED_ROLE_PARAMETER_PATH=https://your.app/roles).",
        },
    ),
    "okta": Preset(
        name="okta",
        label="Continue with Okta",
        trailing_slash="bare",
        issuer_help="your Okta domain, e.g. dev-123.okta.com, or a custom authorization server "
        "https://dev-123.okta.com/oauth2/default",
        hints={
            "INVALID_ISSUER": "Okta's org server issuer is https://{domain} (no trailing slash); "
            "a custom authorization server's is https://{domain}/oauth2/{id}. Copy it from Okta "
            "Admin → Security → API → Authorization Servers → Issuer URI.",
            "INVALID_AUDIENCE": "Compare OPENID_CLIENT_ID with Okta Admin → Applications → your "
            "app, and OPENID_AUDIENCE with Security → API → Authorization Servers → Audience.",
            "OPAQUE_ACCESS_TOKEN": "Okta's org authorization server issues access tokens you "
            "cannot verify: use a custom authorization server (OPENID_ISSUER=https://{domain}/"
            "oauth2/default) and set OPENID_AUDIENCE to its Audience.",
            "MISSING_REFRESH_TOKEN": "Add offline_access to OPENID_SCOPE and enable the Refresh "
            "Token grant in Okta Admin → Applications → your app → General → Grant type.",
            "TOKEN_EXCHANGE_FAILED": "Check the Client ID/Secret and that the callback URL is a "
            "Sign-in redirect URI in Okta Admin → Applications → your app.",
        },
    ),
    "workos": Preset(
        name="workos",
        label="Continue with WorkOS",
        trailing_slash="bare",
        issuer_template="https://api.workos.com/user_management/{client_id}",
        jwks_template="https://api.workos.com/sso/jwks/{client_id}",
        issuer_help="nothing: WorkOS issuers are derived from OPENID_CLIENT_ID",
        hints={
            "INVALID_ISSUER": "WorkOS issuers are https://api.workos.com/user_management/"
            "{client_id}: check OPENID_CLIENT_ID (WorkOS Dashboard → API Keys → Client ID) and "
            "leave OPENID_ISSUER unset.",
            "INVALID_AUDIENCE": "WorkOS access tokens have no 'aud' by default: add a custom "
            "'aud' claim equal to OPENID_AUDIENCE in WorkOS Dashboard → Authentication → "
            "Sessions → JWT Template, or leave OPENID_AUDIENCE unset.",
            "TOKEN_EXCHANGE_FAILED": "Check the Client ID and API key, and that the callback URL "
            "is a Redirect URI in WorkOS Dashboard → Redirects.",
        },
    ),
}
