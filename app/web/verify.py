"""`/api/auth/verify`: the reverse proxy's authentication subrequest (nginx `auth_request`,
Caddy `forward_auth`, Traefik `forwardAuth`).

The proxy asks this for every request of the app it guards, so it is answered below Flask's
dispatch: `ForwardAuth` is a WSGI app the middleware chain hands this one path to, in the
Flask app's context but without a request context, URL routing, hooks or a session cookie.
It opens the session through the same session interface and asks the same guard
(`guard.authenticate`) as every other route, so no check exists twice: the session and the
verified-claims cache, a provider call only when a refresh is due. It never sets or deletes a
cookie: proxies drop `Set-Cookie` from subrequests, so a cookie set here would never arrive.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask, g
from werkzeug.wrappers import Request, Response

from ..errors import AuthError
from ..oidc.refresh import store_unavailable
from ..settings import Settings
from ..store import LockTimeout, StoreUnavailable
from .guard import VERIFY_ENDPOINT, authenticate
from .middleware import ENDPOINT
from .session import Principal
from .urls import safe_return_to

log = logging.getLogger(__name__)

#: Every method a guarded request may have: the proxy may forward the original one.
METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
#: Printable ASCII that may stay as it is in a header value: everything but `%` (the escape).
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")
_SAFE_IN_LIST = _SAFE.replace(",", "")
PREFIX = "X-Auth-Request-"
VERIFY_PATH = "/api/auth/verify"


class ForwardAuth:
    """The WSGI app for VERIFY_PATH: 200 with the identity headers, or the refusal."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.interface = app.session_interface
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]
        self.settings: Settings = app.extensions["oidc_login"].settings

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ[ENDPOINT] = VERIFY_ENDPOINT
        request = Request(environ)
        with self.app.app_context():  # current_app and g for the guard, the refresher, the logs
            try:
                headers = self.admit(request)
            except AuthError as error:
                return refused(request, error)(environ, start_response)
        # The answer to nearly every subrequest, as a plain WSGI one (no Response object to
        # build and check): every value is a constant, went through header_text, or is the
        # verified access token (printable ASCII, checked in identity_headers).
        start_response("200 OK", [*headers.items(), ("Content-Length", "0")])
        return []

    def admit(self, request: Request) -> dict[str, str]:
        """The identity headers for this request, or the AuthError that refuses it (store
        trouble and bugs included: the proxy gets verify's form, never a stack trace)."""
        if request.method not in METHODS:
            raise AuthError("INVALID_REQUEST", "Method not allowed.", status=405)
        session = self.interface.open_ticket(request.cookies.get(self.cookie_name) or "")
        try:
            try:
                principal = g.principal = authenticate(
                    session, VERIFY_ENDPOINT, request.headers.get("Authorization", ""), VERIFY_PATH
                )
                return self.verdict(request, principal)
            finally:
                self.interface.write_back(session)  # an ended session's value goes now
        except AuthError:
            raise
        except (StoreUnavailable, LockTimeout):
            raise store_unavailable() from None
        except Exception:
            log.exception("verify failed")
            raise AuthError("INVALID_REQUEST", "Internal error.", status=500, hint="See the server log.") from None

    def verdict(self, request: Request, principal: Principal | None) -> dict[str, str]:
        """The identity headers, or the AuthError that refuses this request."""
        if principal is None:
            raise AuthError("LOGIN_REQUIRED")
        wanted = allowed_roles(request.args.get("allowed_roles")) if request.query_string else set()
        if wanted and not wanted & set(principal.roles):
            raise AuthError("ROLE_REQUIRED", "This part of the app needs one of: " + ", ".join(sorted(wanted)) + ".")
        return identity_headers(principal, self.settings)


def allowed_roles(value: str | None) -> set[str]:
    """`?allowed_roles=a,b` -> {"a", "b"}; empty or absent -> no restriction."""
    return {role.strip() for role in (value or "").split(",") if role.strip()}


def header_text(value: str, *, in_list: bool = False) -> str:
    """A header value that survives any proxy: non-ASCII (as UTF-8), `%`, CR, LF and other
    control characters percent-encoded, and `,` too inside a list item (plain values, the
    usual case, are returned as they are)."""
    if value.isascii() and value.isprintable() and "%" not in value and not (in_list and "," in value):
        return value
    return quote(value, safe=_SAFE_IN_LIST if in_list else _SAFE)


def identity_headers(principal: Principal, settings: Settings) -> dict[str, str]:
    """The `X-Auth-Request-*` headers for the app behind the proxy; unknown values absent."""
    values = {
        "User": principal.sub,
        "Email": principal.email,
        "Name": principal.name,
        "Preferred-Username": principal.username,
    }
    headers = {PREFIX + name: header_text(value) for name, value in values.items() if value}
    if principal.roles:
        headers[PREFIX + "Roles"] = ",".join(header_text(role, in_list=True) for role in principal.roles)
    headers[PREFIX + "Admin"] = "true" if principal.admin else "false"
    headers["Cache-Control"] = "no-store"
    tokens = principal.tokens
    if (
        settings.pass_access_token
        and settings.reuse_tokens
        and principal.via == "session"
        and tokens is not None
        and tokens.access_token
        and tokens.access_token.isascii()
        and tokens.access_token.isprintable()  # a verified JWS always is; never a header break
    ):
        headers[PREFIX + "Access-Token"] = tokens.access_token
    return headers


def login_url(request: Request, code: str | None = None) -> str:
    """Where the proxy sends a browser: the login page, with the way back to the original
    request (nginx: X-Original-URI; Caddy, Traefik: X-Forwarded-Uri) and the reason when a
    session just ended."""
    original = request.headers.get("X-Original-URI") or request.headers.get("X-Forwarded-Uri")
    params = {"return_to": safe_return_to(original)}
    if code:
        params["error"] = code
    return "/login?" + urlencode(params)


def refused(request: Request, error: AuthError) -> Response:
    """401 with the login URL, 403 for a missing role, 503 with Retry-After for provider or
    store trouble. `X-Auth-Request-Error` names the code so the proxy can show the login
    server's own page for it."""
    ended = error.ends_session
    # A session that just ended (a refused refresh, a role lost at refresh) is a 401 whatever
    # the code's own status: the browser must sign in again, and the login page names why.
    status = 401 if ended else 503 if error.status in (502, 503, 504) else error.status
    response = Response(json.dumps(error.as_dict()), status=status, mimetype="application/json")
    response.headers[PREFIX + "Error"] = error.code
    # Caddy hands a 401 to fetch/XHR callers as it is: the headers any JSON answer has here.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if status == 401:
        has_token = request.headers.get("Authorization", "")[:7].lower() == "bearer "
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if has_token else "Bearer"
        response.headers[PREFIX + "Redirect"] = login_url(request, error.code if ended else None)
    elif status == 403:
        response.headers[PREFIX + "Redirect"] = login_url(request, error.code)
    elif status == 405:
        response.headers["Allow"] = ", ".join(sorted(METHODS))
    elif status == 503:
        response.headers["Retry-After"] = str(error.retry_after or 5)
    log.debug("verify %s %s: %s", request.headers.get("X-Original-Method")
              or request.headers.get("X-Forwarded-Method") or request.method, status, error.code)
    return response
