"""One typed Settings object, read from the environment and `.env` (current directory only).

Everything is validated at start and every problem is reported at once, each with what to
do, so an admin fixes a broken configuration in one round instead of one error per restart.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dotenv import dotenv_values

from .providers import (
    PRESETS,
    Preset,
    is_loopback_host,
    issuer_problem,
    jwks_override,
    multi_tenant_issuer,
    normalise_issuer,
)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}
_DEFAULT_COOKIE = "oidc_login"
#: The value `.env.example` ships: a copied example must never run a public server.
PLACEHOLDER_SECRET = "change-me-to-64-hex-characters-from-openssl-rand-hex-32"
_ROLE_SOURCES = ("id", "access", "userinfo")
_TENANT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class SettingsError(Exception):
    """All the bad or missing settings, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    session_secret: str = field(repr=False)
    #: OPENID_SESSION_SECRET_PREVIOUS: still open sessions made before a rotation.
    previous_secrets: tuple[str, ...] = field(default=(), repr=False)
    provider: Preset = PRESETS["custom"]
    client_secret: str | None = field(default=None, repr=False)
    callback_path: str = "/oauth/openid/callback"
    scope: str = "openid profile email"
    audience: str | None = None
    reuse_tokens: bool = False
    use_pkce: bool = True
    button_label: str = "Continue with OpenID"
    image_url: str | None = None
    auto_redirect: bool = False
    use_end_session_endpoint: bool = False
    post_logout_redirect_uri: str = "http://localhost:3080/login"
    required_roles: tuple[str, ...] = ()
    role_token_kind: str = "id"
    role_path: str = "roles"
    role_policy_path: str | None = None
    clock_tolerance: int = 60
    refresh_margin: int = 60
    domain_client: str = "http://localhost:3080"
    domain_server: str = "http://localhost:3080"
    trust_proxy: int = 0
    redis_uri: str | None = field(default=None, repr=False)
    debug_requests: bool = False
    host: str = "127.0.0.1"
    port: int = 3080
    workers: int = 2
    threads: int = 8
    cookie_name: str = _DEFAULT_COOKIE
    idle_timeout: int = 24 * 3600
    max_lifetime: int = 7 * 24 * 3600
    jwks_ttl: int = 3600
    discovery_ttl: int = 3600
    jwks_uri_override: str | None = None
    http_timeout: float = 5.0
    log_salt: str = field(default="", repr=False)
    instance_path: str = ""
    # Logout everywhere (issue 10)
    revoke_on_logout: bool = True
    max_logout_url_length: int = 2000
    # Forward auth (issue 9): /api/auth/verify also answers the access token (reuse on only).
    pass_access_token: bool = False
    # -- provider presets and LibreChat's claim settings (issue 13) --
    username_claim: str = "preferred_username"
    name_claim: str = "name"
    email_claim: str = "email"
    admin_roles: tuple[str, ...] = ()
    admin_token_kind: str = "id"
    admin_role_path: str = "roles"
    allowed_tenants: tuple[str, ...] = ()
    #: Extra authorization-request parameters from the preset (Google's access_type=offline).
    auth_params: tuple[tuple[str, str], ...] = ()

    @property
    def token_issuer_template(self) -> str | None:
        """Multi-tenant Entra: the issuer with `{tenantid}`, filled from each token's tid."""
        return multi_tenant_issuer(self.provider, self.issuer)
    # -- operations (issue 12) --
    redis_key_prefix: str = "oidc-login:"
    ca_bundle: str | None = None
    proxies: dict[str, str] = field(default_factory=dict)
    no_proxy: str | None = None
    log_format: str = "text"
    metrics_address: tuple[str, int] | None = None

    @property
    def redirect_uri(self) -> str:
        """Always DOMAIN_SERVER + OPENID_CALLBACK_URL: never derived from request headers."""
        return self.domain_server + self.callback_path

    @property
    def secure_cookies(self) -> bool:
        return self.domain_server.startswith("https://")

    @property
    def public_client(self) -> bool:
        return not self.client_secret

    @property
    def token_audience(self) -> str:
        """The `aud` reused and bearer access tokens must carry."""
        return self.audience or self.client_id

    @property
    def wants_offline_access(self) -> bool:
        """Refresh tokens are asked for (by scope, or by the preset's own parameters), or the
        provider issues them anyway (Cognito)."""
        return (
            "offline_access" in self.scope.split()
            or bool(self.auth_params)
            or self.provider.refresh_by == "always"
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class _Reader:
    """Reads raw strings and collects problems instead of stopping at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def required(self, name: str, what: str) -> str:
        value = self.text(name)
        if value is None:
            self.problems.append(f"{name} is required: set it to {what}.")
            return ""
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.env.get(name)
        if value is None:
            return default
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False if low else default
        self.problems.append(f"{name}={value!r} is not a boolean: use true/false (or 1/0, yes/no).")
        return default

    def number(self, name: str, default: int, minimum: int = 0) -> int:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.problems.append(f"{name}={value!r} is not a whole number.")
            return default
        if number < minimum:
            self.problems.append(f"{name} must be at least {minimum} (got {number}).")
            return default
        return number

    def url(self, name: str, default: str) -> str:
        value = (self.text(name) or default).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problems.append(
                f"{name}={value!r} must be an absolute http(s) URL such as https://chat.example.com."
            )
        return value


def read_environment(environ: Mapping[str, str] | None = None, use_dotenv: bool = True) -> dict[str, str]:
    """The process environment over `.env` from the current directory (the environment wins)."""
    merged: dict[str, str] = {}
    if use_dotenv:
        path = os.path.join(os.getcwd(), ".env")
        if os.path.isfile(path):
            merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def load_settings(environ: Mapping[str, str] | None = None, use_dotenv: bool = True) -> Settings:
    """Build Settings or raise SettingsError naming every bad or missing variable."""
    r = _Reader(read_environment(environ, use_dotenv))

    provider_name = (r.text("OPENID_PROVIDER", "custom") or "custom").lower()
    preset = PRESETS.get(provider_name)
    if preset is None:
        r.problems.append(
            f"OPENID_PROVIDER={provider_name!r} is unknown: use one of {', '.join(PRESETS)}."
        )
        preset = PRESETS["custom"]

    client_id = r.required("OPENID_CLIENT_ID", "the application's Client ID at the provider")
    raw_issuer = r.text("OPENID_ISSUER")
    issuer = ""
    if raw_issuer is None and not preset.issuer_template:
        r.problems.append(f"OPENID_ISSUER is required: set it to {preset.issuer_help}.")
    elif client_id or raw_issuer:
        issuer = normalise_issuer(preset, raw_issuer, client_id)
        parts = urlsplit(issuer)
        if not parts.hostname:
            r.problems.append(f"OPENID_ISSUER={raw_issuer!r} is not a URL or domain.")
        elif parts.scheme == "http" and not is_loopback_host(parts.hostname):
            r.problems.append(
                f"OPENID_ISSUER={raw_issuer!r}: http:// is allowed only for loopback hosts; "
                "the provider must use https."
            )
        elif parts.query or parts.fragment:
            r.problems.append(f"OPENID_ISSUER={raw_issuer!r} must not have a query or fragment.")

    secret = r.required("OPENID_SESSION_SECRET", "a random string of at least 32 characters "
                        "(e.g. `openssl rand -hex 32`)")
    if secret and len(secret) < 32:
        r.problems.append(
            f"OPENID_SESSION_SECRET must be at least 32 characters (got {len(secret)}): "
            "generate one with `openssl rand -hex 32`."
        )
    previous = tuple(x.strip() for x in (r.text("OPENID_SESSION_SECRET_PREVIOUS") or "").split(",") if x.strip())
    for number, old in enumerate(previous, 1):
        if len(old) < 32:
            r.problems.append(
                f"OPENID_SESSION_SECRET_PREVIOUS: secret #{number} is shorter than 32 characters; "
                "list only secrets that were once OPENID_SESSION_SECRET."
            )

    domain_server = r.url("DOMAIN_SERVER", "http://localhost:3080")
    domain_client = r.url("DOMAIN_CLIENT", "http://localhost:3080")

    callback = r.text("OPENID_CALLBACK_URL", "/oauth/openid/callback") or ""
    if callback.startswith(("http://", "https://")):
        if _origin(callback) == _origin(domain_server):
            callback = urlsplit(callback).path
        else:
            r.problems.append(
                f"OPENID_CALLBACK_URL={callback!r} must be a path on DOMAIN_SERVER "
                f"({domain_server}), e.g. /oauth/openid/callback."
            )
    if not callback.startswith("/") or callback.startswith("//"):
        r.problems.append(f"OPENID_CALLBACK_URL={callback!r} must be a path starting with '/'.")

    scope = " ".join((r.text("OPENID_SCOPE", "openid profile email") or "").replace(",", " ").split())
    if "openid" not in scope.split():
        r.problems.append(f"OPENID_SCOPE={scope!r} must contain 'openid'.")

    reuse = r.flag("OPENID_REUSE_TOKENS", False)
    use_pkce = r.flag("OPENID_USE_PKCE", True)
    client_secret = r.text("OPENID_CLIENT_SECRET")
    if not use_pkce and not client_secret:
        r.problems.append(
            "OPENID_USE_PKCE=false needs OPENID_CLIENT_SECRET: a public client must use PKCE."
        )

    kind = (r.text("OPENID_REQUIRED_ROLE_TOKEN_KIND", "id") or "id").lower()
    if kind not in _ROLE_SOURCES:
        r.problems.append(f"OPENID_REQUIRED_ROLE_TOKEN_KIND={kind!r} must be 'id', 'access' or 'userinfo'.")
    roles = tuple(x.strip() for x in (r.text("OPENID_REQUIRED_ROLE") or "").split(",") if x.strip())

    policy = r.text("OPENID_ROLE_POLICY")
    if policy and not os.path.isfile(policy):
        r.problems.append(f"OPENID_ROLE_POLICY={policy!r}: no such file.")

    idle = r.number("SESSION_IDLE_TIMEOUT", 24 * 3600, minimum=60)
    max_life = r.number("SESSION_MAX_LIFETIME", 7 * 24 * 3600, minimum=60)
    if max_life < idle:
        r.problems.append("SESSION_MAX_LIFETIME must not be shorter than SESSION_IDLE_TIMEOUT.")

    if secret == PLACEHOLDER_SECRET and not is_loopback_host(urlsplit(domain_server).hostname):
        r.problems.append(
            "OPENID_SESSION_SECRET is still the placeholder from .env.example, which anyone can "
            f"read; it is refused on a public DOMAIN_SERVER ({domain_server}). Generate one "
            "with `openssl rand -hex 32`."
        )

    explicit_cookie = r.text("SESSION_COOKIE_NAME")
    cookie_name = explicit_cookie or _DEFAULT_COOKIE
    if explicit_cookie is None and domain_server.startswith("https://"):
        # __Host-: the browser then refuses the cookie from http, from a subdomain or for
        # another path, so a sibling host cannot plant a session (cookie tossing).
        cookie_name = "__Host-" + _DEFAULT_COOKIE
    if cookie_name == "_session" or cookie_name.startswith("_interaction"):
        r.problems.append(
            f"SESSION_COOKIE_NAME={cookie_name!r} collides with identity providers' cookies "
            "on the same host (cookies ignore ports): choose another name."
        )

    # -- provider presets and LibreChat's claim settings (issue 13) --
    problem = issuer_problem(preset, raw_issuer)
    if problem:
        r.problems.append(problem)
    if reuse and preset.reuse_refused:
        r.problems.append(f"OPENID_REUSE_TOKENS=true cannot work with OPENID_PROVIDER={preset.name}: "
                          + preset.reuse_refused)
    auth_params: tuple[tuple[str, str], ...] = ()
    if preset.refresh_by != "scope" and "offline_access" in scope.split():
        scope = " ".join(s for s in scope.split() if s != "offline_access")  # the provider rejects it
        auth_params = preset.offline_params
    admin_kind = (r.text("OPENID_ADMIN_ROLE_TOKEN_KIND", "id") or "id").lower()
    if admin_kind not in _ROLE_SOURCES:
        r.problems.append(f"OPENID_ADMIN_ROLE_TOKEN_KIND={admin_kind!r} must be 'id', 'access' or 'userinfo'.")
    tenants = tuple(x.strip() for x in (r.text("OPENID_ALLOWED_TENANTS") or "").split(",") if x.strip())
    odd = [t for t in tenants if not _TENANT_ID.fullmatch(t)]
    if odd:
        r.problems.append(f"OPENID_ALLOWED_TENANTS: {', '.join(odd)} not a tenant id: use the Directory "
                          "(tenant) IDs (GUIDs) from Microsoft Entra ID → Overview, not domain names.")
    if tenants and not multi_tenant_issuer(preset, issuer):
        r.problems.append("OPENID_ALLOWED_TENANTS applies only to a multi-tenant Entra ID issuer "
                          "(OPENID_PROVIDER=entra, tenant common or organizations): unset it, or fix "
                          "OPENID_ISSUER.")
    identity = {
        "username_claim": r.text("OPENID_USERNAME_CLAIM", "preferred_username") or "preferred_username",
        "name_claim": r.text("OPENID_NAME_CLAIM", "name") or "name",
        "email_claim": r.text("OPENID_EMAIL_CLAIM", "email") or "email",
        "admin_roles": tuple(x.strip() for x in (r.text("OPENID_ADMIN_ROLE") or "").split(",") if x.strip()),
        "admin_token_kind": admin_kind,
        "admin_role_path": r.text("OPENID_ADMIN_ROLE_PARAMETER_PATH", preset.role_path) or preset.role_path,
        "allowed_tenants": tenants,
        "auth_params": auth_params,
    }

    instance = os.path.abspath(r.text("INSTANCE_PATH", os.path.join(os.getcwd(), "instance")) or "instance")

    ops = _operations(r)

    settings = Settings(
        issuer=issuer,
        client_id=client_id,
        session_secret=secret,
        previous_secrets=previous,
        provider=preset,
        client_secret=client_secret,
        callback_path=callback,
        scope=scope,
        audience=r.text("OPENID_AUDIENCE"),
        reuse_tokens=reuse,
        use_pkce=use_pkce,
        button_label=r.text("OPENID_BUTTON_LABEL", preset.label) or preset.label,
        image_url=r.text("OPENID_IMAGE_URL"),
        auto_redirect=r.flag("OPENID_AUTO_REDIRECT", False),
        use_end_session_endpoint=r.flag("OPENID_USE_END_SESSION_ENDPOINT", False),
        post_logout_redirect_uri=r.text("OPENID_POST_LOGOUT_REDIRECT_URI", domain_client + "/login")
        or domain_client + "/login",
        required_roles=roles,
        role_token_kind=kind,
        role_path=r.text("OPENID_REQUIRED_ROLE_PARAMETER_PATH", preset.role_path) or preset.role_path,
        role_policy_path=policy,
        clock_tolerance=r.number("OPENID_CLOCK_TOLERANCE", 60),
        refresh_margin=r.number("OPENID_REFRESH_MARGIN", 60),
        domain_client=domain_client,
        domain_server=domain_server,
        trust_proxy=r.number("TRUST_PROXY", 0),
        redis_uri=r.text("REDIS_URI"),
        debug_requests=r.flag("DEBUG_OPENID_REQUESTS", False),
        host=r.text("HOST", "127.0.0.1") or "127.0.0.1",
        port=r.number("PORT", 3080, minimum=1),
        workers=r.number("WEB_WORKERS", 2, minimum=1),
        threads=r.number("WEB_THREADS", 8, minimum=1),
        cookie_name=cookie_name,
        idle_timeout=idle,
        max_lifetime=max_life,
        jwks_ttl=r.number("OPENID_JWKS_CACHE_TTL", 3600, minimum=1),
        discovery_ttl=r.number("OPENID_DISCOVERY_CACHE_TTL", 3600, minimum=1),
        jwks_uri_override=jwks_override(preset, client_id, r.text("OPENID_JWKS_URI")),
        log_salt=r.text("LOG_SALT")
        or hashlib.sha256(("log-salt:" + secret).encode()).hexdigest(),
        instance_path=instance,
        # Logout everywhere (issue 10)
        revoke_on_logout=r.flag("OPENID_REVOKE_ON_LOGOUT", True),
        max_logout_url_length=r.number("OPENID_MAX_LOGOUT_URL_LENGTH", 2000, minimum=200),
        pass_access_token=r.flag("OPENID_PASS_ACCESS_TOKEN", False),
        **identity,
        **ops,
    )
    if r.problems:
        raise SettingsError(r.problems)
    return settings


def _operations(r: _Reader) -> dict[str, Any]:
    """Redis key prefix, outbound proxy and CA, log format, metrics listener (issue 12)."""
    ca_bundle = r.text("OPENID_CA_BUNDLE")
    if ca_bundle and not os.access(ca_bundle, os.R_OK):
        r.problems.append(f"OPENID_CA_BUNDLE={ca_bundle!r}: no readable PEM file there.")
    # LibreChat's PROXY is the fallback for both schemes; the standard names win.
    fallback = r.text("PROXY")
    proxies = {}
    for scheme in ("http", "https"):
        value = r.text(f"{scheme.upper()}_PROXY") or r.text(f"{scheme}_proxy") or fallback
        if value:
            if "://" not in value:
                value = "http://" + value
            proxies[scheme] = value
    log_format = (r.text("LOG_FORMAT", "text") or "text").lower()
    if log_format not in ("text", "json"):
        r.problems.append(f"LOG_FORMAT={log_format!r} must be 'text' or 'json'.")
        log_format = "text"
    metrics = r.text("METRICS_ADDRESS")
    address: tuple[str, int] | None = None
    if metrics:
        host, _, port = metrics.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            r.problems.append(f"METRICS_ADDRESS={metrics!r} must be host:port, e.g. 127.0.0.1:9464.")
        else:
            address = (host.strip("[]"), int(port))
    return {
        "redis_key_prefix": r.text("REDIS_KEY_PREFIX", "oidc-login:") or "oidc-login:",
        "ca_bundle": ca_bundle,
        "proxies": proxies,
        "no_proxy": r.text("NO_PROXY") or r.text("no_proxy"),
        "log_format": log_format,
        "metrics_address": address,
    }


def startup_warnings(settings: Settings) -> list[str]:
    """Things that work but that a security engineer would want to hear about at start."""
    notes = []
    if not settings.secure_cookies and not is_loopback_host(urlsplit(settings.domain_server).hostname):
        notes.append(
            f"DOMAIN_SERVER={settings.domain_server} is not https: the session cookie is sent "
            "without Secure. Use https (an ngrok URL is https) outside localhost."
        )
    notes.extend(file_store_warnings(settings))
    return notes


def file_store_warnings(settings: Settings) -> list[str]:
    """The file store is for one host; signs that there are several (shared by `check`)."""
    if settings.redis_uri:
        return []
    reasons = []
    if settings.trust_proxy:
        reasons.append(f"TRUST_PROXY={settings.trust_proxy} (a proxy or load balancer in front)")
    if settings.host in ("0.0.0.0", "::", ""):
        reasons.append(f"HOST={settings.host} (listening for other machines)")
    if not reasons:
        return []
    return [
        "Sessions live in the local file store but " + " and ".join(reasons) + " suggests "
        "several hosts may serve this site: a second host would not see the first one's "
        "sessions or refresh locks. Set REDIS_URI when more than one host runs oidc-login."
    ]
