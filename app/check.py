"""`oidc-login check`: "Test connection" between this server's settings and the provider.

Each check is one small function `(Context) -> Result | None` in `CHECKS`, run in order;
None means "does not apply here" (Redis without REDIS_URI, PKCE without a discovery
document ...) and prints nothing. Adding a check is one function and one line in `CHECKS`.

Settings are read exactly as `serve` reads them (the environment plus `.env` in the current
directory). No Flask: only the protocol core's HTTP client and JWKS cache, plus the store's
`ping`. Nothing secret is printed: not the session secret, not the client secret, not a
Redis password.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from .errors import SPECS, AuthError
from .oidc.http import ProviderHttp
from .oidc.keys import ASYMMETRIC_ALGS, KeyCache
from .oidc.logout import BACKCHANNEL_PATH
from .check_presets import PRESET_CHECKS
from .providers import is_loopback_host
from .settings import PLACEHOLDER_SECRET, Settings, SettingsError, load_settings

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass
class Result:
    name: str
    status: str
    detail: str
    hint: str | None = None


@dataclass
class Context:
    """What the checks share: the settings, and what earlier checks learned."""

    settings: Settings
    http: ProviderHttp
    #: The discovery document as served (None until fetched, or when unreachable).
    doc: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def preset_hints(self) -> dict[str, str]:
        return self.settings.provider.hints

    def hint(self, code: str, fallback: str | None = None) -> str:
        """The provider preset's hint for a contract error code, else `fallback`, else the
        contract's generic one."""
        return self.preset_hints.get(code) or fallback or SPECS[code].hint


# -- the checks, in order ------------------------------------------------------------------


def check_discovery(ctx: Context) -> Result:
    url = ctx.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
    name = "discovery"
    hint = (
        f"Check OPENID_ISSUER (now {ctx.settings.issuer}) and OPENID_PROVIDER "
        f"({ctx.settings.provider.name}); {url} must serve the provider's OpenID configuration "
        "and be reachable from this host (proxy, firewall, DNS)."
    )
    try:
        response = ctx.http.get(url)
    except requests.RequestException as exc:
        return Result(name, FAIL, f"{url} unreachable ({type(exc).__name__})", hint)
    if response.status_code != 200:
        return Result(name, FAIL, f"{url} answered HTTP {response.status_code}", hint)
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return Result(name, FAIL, f"{url} did not return a JSON object", hint)
    ctx.doc = doc
    return Result(name, OK, f"{url} answered")


def check_issuer(ctx: Context) -> Result | None:
    if ctx.doc is None:
        return None
    expected, actual = ctx.settings.token_issuer_template or ctx.settings.issuer, ctx.doc.get("issuer")
    detail = f"expected {expected!r} (OPENID_ISSUER with the {ctx.settings.provider.name} rules), discovery says {actual!r}"
    if actual == expected:
        return Result("issuer", OK, f"{expected!r} matches discovery")
    hint = f"Issuers are compared character for character. Set OPENID_ISSUER to exactly {actual!r}"
    if isinstance(actual, str) and actual.rstrip("/") == expected.rstrip("/"):
        hint += " (only the trailing slash differs: is OPENID_PROVIDER the right preset?)"
    hint += ". " + ctx.hint("INVALID_ISSUER", "")
    return Result("issuer", FAIL, detail, hint.strip())


def _advertised_algs(doc: dict[str, Any] | None) -> list[str]:
    algs = (doc or {}).get("id_token_signing_alg_values_supported") or ["RS256"]
    return [a for a in algs if isinstance(a, str)]


def _fits(key: dict[str, Any], alg: str) -> bool:
    kty, _curve = ASYMMETRIC_ALGS[alg]
    return key.get("kty") == kty and key.get("alg") in (None, alg)


def check_jwks(ctx: Context) -> Result | None:
    uri = ctx.settings.jwks_uri_override or (ctx.doc or {}).get("jwks_uri")
    if not uri:
        if ctx.doc is None:
            return None
        return Result("jwks", FAIL, "the discovery document has no jwks_uri",
                      "Point OPENID_ISSUER at an OpenID Connect provider, or set OPENID_JWKS_URI.")
    allowed = [a for a in _advertised_algs(ctx.doc) if a in ASYMMETRIC_ALGS]
    if not allowed:
        return Result(
            "jwks", FAIL,
            f"the provider signs ID tokens only with {', '.join(_advertised_algs(ctx.doc))}, none allowed",
            SPECS["UNSUPPORTED_ALGORITHM"].hint,
        )
    try:
        keys = KeyCache(lambda: uri, ctx.http).describe()
    except AuthError as error:
        return Result("jwks", FAIL, f"{uri}: {error.detail or error.message}",
                      f"The provider must serve its signing keys at {uri}. "
                      + (error.hint if error.hint != SPECS["JWKS_FETCH_FAILED"].hint else
                         "Check that the provider is up and OPENID_JWKS_URI (if set) is right."))
    usable = [k for k in keys if any(_fits(k, alg) for alg in allowed)]
    listed = ", ".join(
        f"{'/'.join(a for a in allowed if _fits(k, a))} ({k.get('kty')}) kid={k.get('kid')}" for k in usable
    )
    if not usable:
        found = ", ".join(f"{k.get('alg') or k.get('kty')} kid={k.get('kid')}" for k in keys)
        return Result("jwks", FAIL,
                      f"{uri}: no key for the advertised algorithms {', '.join(allowed)} (found {found})",
                      "The provider must publish a signing key for the algorithm it signs with.")
    return Result("jwks", OK, f"{uri}: {len(usable)} usable signing key(s): {listed}")


def check_endpoints(ctx: Context) -> Result | None:
    if ctx.doc is None:
        return None
    names = ("authorization_endpoint", "token_endpoint")
    missing = [n for n in names if not ctx.doc.get(n)]
    if missing:
        return Result("endpoints", FAIL, f"discovery lacks {', '.join(missing)}",
                      "Point OPENID_ISSUER at an OpenID Connect provider (not a plain OAuth2 "
                      "or SAML endpoint).")
    return Result("endpoints", OK,
                  f"authorization {ctx.doc[names[0]]}, token {ctx.doc[names[1]]}")


def check_pkce(ctx: Context) -> Result | None:
    if ctx.doc is None:
        return None
    methods = ctx.doc.get("code_challenge_methods_supported")
    if methods is None:
        return Result("pkce", WARN, "the provider does not advertise code_challenge_methods_supported",
                      "PKCE S256 is sent anyway; most providers support it without saying so. "
                      "If logins fail at the token exchange, check the provider's PKCE setting.")
    if "S256" not in methods:
        status = FAIL if ctx.settings.use_pkce else WARN
        return Result("pkce", status, f"S256 not among code_challenge_methods_supported {methods}",
                      "Enable PKCE with S256 for this application at the provider.")
    return Result("pkce", OK, "S256 supported" + ("" if ctx.settings.use_pkce else " (but OPENID_USE_PKCE=false)"))


def check_offline_access(ctx: Context) -> Result | None:
    s = ctx.settings
    if not (s.wants_offline_access or s.reuse_tokens):
        return None
    name = "offline_access"
    if s.provider.refresh_by != "scope":  # Cognito, Google: refresh tokens without that scope
        how = "always" if s.provider.refresh_by == "always" else "with " + "&".join("=".join(p) for p in s.auth_params)
        return Result(name, OK, f"not sent ({s.provider.name} rejects it); refresh tokens come {how}")
    if s.reuse_tokens and not s.wants_offline_access:
        return Result(name, FAIL,
                      f"OPENID_REUSE_TOKENS=true needs a refresh token, but OPENID_SCOPE ({s.scope!r}) lacks offline_access",
                      ctx.hint("MISSING_REFRESH_TOKEN"))
    if ctx.doc is None:
        return None
    supported = ctx.doc.get("scopes_supported")
    if supported is None:
        return Result(name, WARN, "requested, but the provider does not list scopes_supported",
                      ctx.hint("MISSING_REFRESH_TOKEN"))
    if "offline_access" not in supported:
        return Result(name, FAIL, "requested in OPENID_SCOPE, but not in the provider's scopes_supported",
                      "Remove offline_access from OPENID_SCOPE (and turn OPENID_REUSE_TOKENS off), "
                      "or enable refresh tokens at the provider. " + ctx.hint("MISSING_REFRESH_TOKEN"))
    return Result(name, OK, "requested and in scopes_supported")


def check_access_token_audience(ctx: Context) -> Result | None:
    s = ctx.settings
    if not s.reuse_tokens:
        return None
    name = "access_token_audience"
    if s.audience:
        return Result(name, OK, f"reused access tokens are requested for OPENID_AUDIENCE={s.audience!r}")
    if s.provider.jwt_access_needs_audience:
        return Result(
            name, FAIL,
            f"OPENID_REUSE_TOKENS=true without OPENID_AUDIENCE: {s.provider.name} then issues opaque "
            "access tokens, which cannot be verified, so every login fails with OPAQUE_ACCESS_TOKEN",
            ctx.hint("OPAQUE_ACCESS_TOKEN"),
        )
    return Result(name, WARN,
                  f"OPENID_REUSE_TOKENS=true without OPENID_AUDIENCE: access tokens must then be JWTs "
                  f"whose aud is the client id {s.client_id!r}; many providers issue opaque ones",
                  ctx.hint("OPAQUE_ACCESS_TOKEN", "Set OPENID_AUDIENCE to the API identifier "
                           "configured at the provider, so it issues JWT access tokens for it."))


def check_backchannel_logout(ctx: Context) -> Result | None:
    """Logout everywhere needs the provider to call us; say which URL to register."""
    if ctx.doc is None:
        return None
    url = ctx.settings.domain_server + BACKCHANNEL_PATH
    name = "backchannel_logout"
    if ctx.doc.get("backchannel_logout_supported") is not True:
        return Result(name, WARN, "the provider does not advertise backchannel_logout_supported",
                      "Sessions here then end only at logout, idle timeout or SESSION_MAX_LIFETIME, "
                      "not when the user signs out or is disabled at the provider. If it supports "
                      f"back-channel logout anyway, register {url} as the back-channel logout URI.")
    with_sid = ctx.doc.get("backchannel_logout_session_supported") is True
    return Result(name, OK, f"supported{' (with sid)' if with_sid else ' (sub only)'}; register {url} "
                  "as this application's back-channel logout URI at the provider")


def check_revocation(ctx: Context) -> Result | None:
    """RFC 7009 revocation of the refresh token at logout (OPENID_REVOKE_ON_LOGOUT)."""
    if ctx.doc is None:
        return None
    endpoint = ctx.doc.get("revocation_endpoint")
    keeps_refresh = ctx.settings.wants_offline_access or ctx.settings.reuse_tokens
    if not endpoint:
        status = WARN if keeps_refresh and ctx.settings.revoke_on_logout else OK
        return Result("revocation_endpoint", status, "not advertised: refresh tokens are not revoked at logout",
                      "Refresh tokens then stay valid at the provider until they expire; revoke them "
                      "there when a user leaves." if status == WARN else None)
    state = "revoked at logout" if ctx.settings.revoke_on_logout else "not revoked (OPENID_REVOKE_ON_LOGOUT=false)"
    return Result("revocation_endpoint", OK, f"{endpoint}: refresh tokens are {state}")


def check_callback_url(ctx: Context) -> Result:
    uri = ctx.settings.redirect_uri
    parts = urlsplit(uri)
    if parts.scheme == "https":
        return Result("callback_url", OK, f"{uri} (must be registered at the provider)")
    if is_loopback_host(parts.hostname):
        return Result("callback_url", OK, f"{uri} (http on loopback; must be registered at the provider)")
    return Result("callback_url", FAIL, f"{uri} is http on a non-loopback host",
                  "Set DOMAIN_SERVER to the public https URL (an ngrok URL is https); providers "
                  "refuse http callbacks outside localhost and the session cookie would travel "
                  "in clear. Then list the new callback URL as an allowed redirect URI at the "
                  "provider.")


_PLACEHOLDERS = ("changeme", "change-me", "change_me", "replace", "example", "password", "default")


def secret_strength(secret: str) -> tuple[str, str]:
    """(status, detail) for a session secret: length, distinct characters, a repeated unit,
    and an entropy estimate (length x Shannon entropy of its character distribution)."""
    if secret == PLACEHOLDER_SECRET:
        return FAIL, "still the placeholder from .env.example, which anyone can read"
    if len(secret) < 32:
        return FAIL, f"{len(secret)} characters (at least 32 needed)"
    counts = Counter(secret)
    distinct = len(counts)
    entropy = -sum(c / len(secret) * math.log2(c / len(secret)) for c in counts.values())
    bits = entropy * len(secret)
    periodic = secret in (secret + secret)[1:-1]  # true iff it is a repeated shorter string
    if distinct < 8:
        return FAIL, f"{len(secret)} characters but only {distinct} distinct: low entropy"
    if periodic:
        return FAIL, f"{len(secret)} characters, but a short pattern repeated"
    if bits < 64:
        return FAIL, f"{len(secret)} characters, about {bits:.0f} bits by character frequency: low entropy"
    lowered = secret.lower()
    if any(word in lowered for word in _PLACEHOLDERS):
        return WARN, f"{len(secret)} characters, but it looks like a placeholder"
    return OK, f"{len(secret)} characters, {distinct} distinct, about {bits:.0f} bits by character frequency"


def check_session_secret(ctx: Context) -> Result:
    status, detail = secret_strength(ctx.settings.session_secret)
    hint = None
    if status != OK:
        hint = ("Generate a random one with `openssl rand -hex 32` and set OPENID_SESSION_SECRET "
                "(changing it signs everyone out).")
    return Result("session_secret", status, detail, hint)


def _redacted(uri: str) -> str:
    """The URI without password or query (Sentinel URIs list several host:port)."""
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_redis(ctx: Context) -> Result | None:
    uri = ctx.settings.redis_uri
    if not uri:
        return None
    from .store import StoreUnavailable
    from .store.redis import RedisStore

    shown = _redacted(uri)
    hint = ("Start Redis or fix REDIS_URI (redis://[:password@]host:6379/0, rediss:// for TLS); "
            "unset it to keep sessions in local files (one host only).")
    store = None
    try:
        store = RedisStore(uri, prefix=ctx.settings.redis_key_prefix)
        store.ping()
    except StoreUnavailable as exc:
        return Result("redis", FAIL, f"{shown} unreachable ({_first_line(exc)})", hint)
    except Exception as exc:  # a malformed URI surfaces as ValueError and friends
        return Result("redis", FAIL, f"{shown}: {type(exc).__name__}", hint)
    finally:
        if store is not None:
            store.close()
    return Result("redis", OK, f"{shown} answers PING")


def check_store_hosts(ctx: Context) -> Result | None:
    """The file store serves one host; warn when the settings suggest several."""
    from .settings import file_store_warnings

    notes = file_store_warnings(ctx.settings)
    if not notes:
        return None
    return Result("store", WARN, notes[0], "Set REDIS_URI so every host shares sessions and locks.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return re.sub(r"://[^@/\s]*@", "://***@", text)[:200]


Check = Callable[[Context], "Result | None"]

#: The checks, in the order they run and print. One line to add one.
CHECKS: list[Check] = [
    check_discovery,
    check_issuer,
    check_jwks,
    check_endpoints,
    check_pkce,
    check_offline_access,
    check_access_token_audience,
    *PRESET_CHECKS,  # the provider presets' usual mistakes (check_presets.py)
    check_callback_url,
    check_backchannel_logout,
    check_revocation,
    check_session_secret,
    check_redis,
    check_store_hosts,
]


# -- running and printing ----------------------------------------------------------------------


def run_checks(environ: dict[str, str] | None = None, use_dotenv: bool = True) -> list[Result]:
    """Settings first (stop when invalid), then every check in CHECKS."""
    try:
        settings = load_settings(environ, use_dotenv=use_dotenv)
    except SettingsError as error:
        listing = "\n".join(f"- {problem}" for problem in error.problems)
        return [Result("settings", FAIL, f"{len(error.problems)} problem(s):\n{listing}",
                       "Fix these in the environment or in .env (see .env.example), then run "
                       "`oidc-login check` again.")]
    results = [Result(
        "settings", OK,
        f"provider {settings.provider.name}, issuer {settings.issuer}, client {settings.client_id}",
    )]
    from .services import provider_http

    ctx = Context(settings=settings, http=provider_http(settings))
    for check in CHECKS:
        result = check(ctx)
        if result is not None:
            results.append(result)
    return results


def render_text(results: list[Result]) -> str:
    lines = []
    for r in results:
        first, *more = r.detail.splitlines() or [""]
        lines.append(f"{r.status:<4}  {r.name}: {first}")
        lines.extend(f"        {line}" for line in more)
        if r.hint and r.status != OK:
            lines.append(f"      hint: {r.hint}")
    failed = sum(r.status == FAIL for r in results)
    warned = sum(r.status == WARN for r in results)
    if results and results[0].name == "settings" and results[0].status == FAIL:
        lines.append("Settings are invalid: nothing else was checked.")
    elif failed:
        lines.append(f"{failed} check(s) failed, {warned} warning(s).")
    else:
        lines.append(f"All {len(results)} checks passed" + (f" ({warned} warning(s))." if warned else "."))
    return "\n".join(lines)


def render_json(results: list[Result]) -> str:
    ok = not any(r.status == FAIL for r in results)
    return json.dumps({"ok": ok, "checks": [asdict(r) for r in results]}, indent=2)


def main(json_output: bool = False) -> int:
    """Entry point for `oidc-login check [--json]`: 0 when nothing FAILs, else 1."""
    results = run_checks()
    print(render_json(results) if json_output else render_text(results))
    sys.stdout.flush()
    return 1 if any(r.status == FAIL for r in results) else 0
