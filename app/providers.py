"""Provider presets as data: how each provider's issuer, JWKS and hints look.

Adding a provider (Entra ID, Google, Keycloak ...) is one more `Preset` row in `PRESETS`,
not a new code path. Everything here is plain data plus small pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    #: "slash": issuer always ends with "/" (Auth0); "bare": never ends with "/" (Okta's org
    #: and custom authorization servers, WorkOS); "as_given": exactly what the admin wrote
    #: (after cleanup).
    trailing_slash: str = "as_given"
    #: False when the issuer is always the bare domain (Auth0: a pasted path such as
    #: /api/v2/ or /authorize is dropped); True keeps the path (Okta's /oauth2/default).
    keep_path: bool = True
    #: When set, the issuer is built from the client id (WorkOS) unless OPENID_ISSUER is set.
    issuer_template: str | None = None
    #: When set, the JWKS URL is built from the client id instead of read from discovery.
    jwks_template: str | None = None
    #: Per error code, a hint naming the provider's own screens.
    hints: dict[str, str] = field(default_factory=dict)
    #: Where the admin finds the issuer, for the settings error message.
    issuer_help: str = "the provider's issuer URL"
    #: True when the provider issues verifiable (JWT) access tokens only for a named API, so
    #: OPENID_REUSE_TOKENS without OPENID_AUDIENCE cannot work (Auth0); `check` FAILs on it.
    jwt_access_needs_audience: bool = False


PRESETS: dict[str, Preset] = {
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
    "custom": Preset(name="custom", label="Continue with OpenID"),
}

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (plain http is allowed only there)."""
    if not host:
        return False
    host = host.lower().strip("[]")
    return host in _LOOPBACK_HOSTS or host.endswith(".localhost") or bool(
        re.fullmatch(r"127(\.\d{1,3}){3}", host)
    )


_DISCOVERY_SUFFIX = "/.well-known/openid-configuration"


def clean_url(raw: str) -> str:
    """Trim what admins paste: whitespace (anywhere: URLs have none), quotes, a scheme pasted
    twice, doubled slashes in the path; a bare domain gets https://. Host and scheme are
    lower-cased (they are case-insensitive); the path is kept as written."""
    value = re.sub(r"\s+", "", raw).strip("'\"")
    match = re.match(r"^(?:[a-z][a-z0-9+.-]*:/+)+", value, re.IGNORECASE)
    if match:
        schemes = re.findall(r"([a-z][a-z0-9+.-]*):/+", match.group(0), re.IGNORECASE)
        scheme, rest = schemes[-1].lower(), value[match.end():]
    else:
        scheme, rest = "https", value
    host, slash, path = rest.partition("/")
    path = re.sub(r"/{2,}", "/", slash + path)
    return f"{scheme}://{host.lower()}{path}"


def normalise_issuer(preset: Preset, raw: str | None, client_id: str) -> str:
    """The issuer to expect, after the preset's rules; it is then compared exactly with the
    discovery document's `issuer` and each token's `iss`."""
    if not (raw or "").strip() and preset.issuer_template:
        return preset.issuer_template.format(client_id=client_id.strip())
    issuer = clean_url(raw or "")
    if issuer.endswith(_DISCOVERY_SUFFIX):  # the discovery URL pasted instead of the issuer
        issuer = issuer[: -len(_DISCOVERY_SUFFIX)]
    if not preset.keep_path:
        parts = urlsplit(issuer)
        issuer = f"{parts.scheme}://{parts.netloc}"
    if preset.trailing_slash == "slash":
        return issuer.rstrip("/") + "/"
    if preset.trailing_slash == "bare":
        return issuer.rstrip("/")
    return issuer


def jwks_override(preset: Preset, client_id: str, explicit: str | None) -> str | None:
    """A JWKS URL that replaces discovery's jwks_uri (WorkOS, or OPENID_JWKS_URI)."""
    if explicit:
        return clean_url(explicit)
    if preset.jwks_template:
        return preset.jwks_template.format(client_id=client_id)
    return None


def hint_for(preset: Preset, code: str) -> str | None:
    """The provider's own hint for an error code, if it has one."""
    return preset.hints.get(code)
