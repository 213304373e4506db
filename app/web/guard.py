"""Who is this request? From the session (checking, and with token reuse refreshing, the
provider's access token) or from an `Authorization: Bearer` token. `authenticate` decides,
with the app context but no request context; `load_principal` is its before_request hook for
Flask's routes, and forward auth (verify.py) calls it directly."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import current_app, g, redirect, request, session
from flask.sessions import SessionMixin

from .. import metrics
from ..errors import AuthError
from ..logs import user_ref
from ..oidc.refresh import store_unavailable
from . import session as state
from .errors import wants_json
from .session import Principal

log = logging.getLogger(__name__)

#: Endpoints that never need the signed-in user (and must never loop back to /login).
PUBLIC = {"pages.healthz", "auth.login", "auth.start", "auth.callback", "static"}
PUBLIC.add("backchannel.backchannel_logout")  # the provider's server-to-server call: no session
PUBLIC.add("ops.readyz")  # the readiness probe: no session
#: Endpoints that need the session but not the automatic refresh: logout must work while the
#: provider is down, and the refresh endpoint refreshes by itself (one grant, not two).
NO_REFRESH = {"auth.logout", "auth.refresh"}
#: Forward auth's endpoint name (verify.py answers it below Flask's dispatch).
VERIFY_ENDPOINT = "verify.verify"
#: Forward auth: the app's own API calls may carry tokens of their own, so there the session
#: cookie, when there is one, wins over a Bearer token.
SESSION_FIRST = {VERIFY_ENDPOINT}


def load_principal() -> None:
    req = request._get_current_object()  # type: ignore[attr-defined]  # runs on every request:
    endpoint = req.endpoint  # one proxy lookup, not one per use
    if endpoint is None or endpoint in PUBLIC:
        g.principal = None
        return
    sess = session._get_current_object()  # type: ignore[attr-defined]  # marks it accessed: Vary: Cookie
    g.principal = authenticate(sess, endpoint, req.headers.get("Authorization", ""), req.path)


def authenticate(sess: SessionMixin, endpoint: str, authorization: str, path: str) -> Principal | None:
    """Who sends this request: the session's user (its token checked and, with reuse,
    refreshed when due), a Bearer token's subject, or nobody. Needs the app context but no
    request context: forward auth (verify.py) calls it below Flask's dispatch."""
    bearer = authorization[:7].lower() == "bearer " and path.startswith("/api/")
    session_first = endpoint in SESSION_FIRST and (state.signed_in(sess) or state.unavailable(sess))
    if bearer and not session_first:
        return _from_bearer(authorization[7:].strip())
    if state.unavailable(sess):
        raise store_unavailable()  # the cookie stays: the session is there when the store is back
    if not state.signed_in(sess):
        return None
    return _from_session(sess, endpoint)


def _from_bearer(token: str) -> Principal:
    services = current_app.extensions["oidc_login"]
    kind, claims = services.verifier.verify_bearer(token)
    roles, admin = services.entitlements.for_bearer(claims)
    return Principal.from_claims(services.profile(claims), roles, via="bearer", admin=admin)


def _from_session(sess: SessionMixin, endpoint: str) -> Principal | None:
    services = current_app.extensions["oidc_login"]
    settings = services.settings
    now = time.time()
    if state.expired(sess, now, settings.idle_timeout, settings.max_lifetime):
        metrics.session_ended("expired")
        state.end(sess)
        return None
    vault = state.vault(sess)
    tokens = services.refresher.load(vault)
    if tokens is None:  # logged out elsewhere, or refresh failed in another request
        metrics.session_ended("ended_elsewhere")
        state.end(sess)
        return None
    if endpoint not in NO_REFRESH:
        try:
            # The current OPENID_REQUIRED_ROLE holds for sessions made before it was set.
            services.entitlements.for_session(tokens.roles)
            if settings.reuse_tokens:
                tokens = services.refresher.current(vault, tokens)
        except AuthError as error:
            if error.status >= 500:
                raise  # provider or store trouble: the session is kept
            log.info("session ended for %s: %s", user_ref(tokens.sub, settings.log_salt), error.code)
            metrics.session_ended(error.code)
            state.end(sess)
            error.ends_session = True
            raise
    state.touch(sess, now)
    return Principal.from_claims(sess.get("user", {}) | {"sub": tokens.sub}, tokens.roles, tokens=tokens)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages go to /login with a way back; APIs get 401 LOGIN_REQUIRED."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("principal") is None:
            if wants_json():
                raise AuthError("LOGIN_REQUIRED")
            return redirect("/login?" + urlencode({"return_to": request.full_path.rstrip("?")}))
        return view(*args, **kwargs)

    return wrapped


def require_role(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For the app's own routes: the signed-in user needs one of `roles` (403 otherwise)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not set(g.principal.roles) & set(roles):
                raise AuthError("ROLE_REQUIRED", f"This needs one of: {', '.join(roles)}.")
            return view(*args, **kwargs)

        return wrapped

    return decorator


def allowed(resource: str) -> bool:
    """May the current user use this resource (e.g. a model) under OPENID_ROLE_POLICY?"""
    principal = g.get("principal")
    policy = current_app.extensions["oidc_login"].policy
    if principal is None:
        return False
    if policy is None:
        return True
    return policy.allowed(principal.roles, resource)
