"""Login, callback, logout and refresh routes: thin glue around app.oidc."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import (
    Blueprint,
    Response,
    after_this_request,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)

from .. import metrics
from ..errors import AuthError, error_for_code
from ..logs import user_ref
from ..oidc.client import token_auth_method
from ..oidc.login import check_response, finish_login
from ..services import Services
from . import backchannel
from . import session as state
from .guard import login_required
from .pending import PendingLogins
from .urls import origin_of, safe_return_to

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
CLIENT_NAME = "oidc"


class DiscoveredClient(FlaskOAuth2App):
    """authlib's Flask client, fed from our discovery cache (TTL, retries, issuer check)
    instead of its own fetch-once metadata."""

    services: Services

    def load_server_metadata(self) -> dict[str, Any]:
        metadata = self.services.discovery.metadata()
        self.client_kwargs["token_endpoint_auth_method"] = token_auth_method(
            metadata, self.services.settings.client_secret
        )
        return metadata


def init_oauth(app: Any, services: Services) -> OAuth:
    settings = services.settings
    oauth = OAuth(app)
    client_kwargs: dict[str, Any] = {"scope": settings.scope, "default_timeout": settings.http_timeout}
    if settings.use_pkce or settings.public_client:
        client_kwargs["code_challenge_method"] = "S256"
    oauth.register(
        CLIENT_NAME,
        client_cls=DiscoveredClient,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        client_kwargs=client_kwargs,
        compliance_fix=services.http.instrument,
    )
    client = oauth.create_client(CLIENT_NAME)
    client.services = services
    return oauth


def _services() -> Services:
    return current_app.extensions["oidc_login"]


def _client() -> DiscoveredClient:
    return current_app.extensions["authlib.integrations.flask_client"].create_client(CLIENT_NAME)


@bp.get("/login")
def login() -> Any:
    settings = _services().settings
    code = request.args.get("error")
    error = error_for_code(code) if code else None
    return_to = safe_return_to(request.args.get("return_to"))
    if settings.auto_redirect and error is None:
        return redirect("/oauth/openid?" + urlencode({"return_to": return_to}))
    start = "/oauth/openid" + ("?" + urlencode({"return_to": return_to}) if return_to != "/" else "")
    return render_template(
        "login.html", settings=settings, error=error, start_url=start, signed_in=state.signed_in()
    )


@bp.get("/oauth/openid")
def start() -> Any:
    services = _services()
    settings = services.settings
    return_to = safe_return_to(request.args.get("return_to"))
    client = _client()
    extra: dict[str, Any] = {"nonce": secrets.token_urlsafe(24)}
    if settings.audience:
        extra["audience"] = settings.audience
    extra.update(settings.auth_params)  # the preset's own (Google: access_type=offline)
    rv = client.create_authorization_url(settings.redirect_uri, **extra)
    pending = _pending()
    entries = pending.started(pending.read(request), rv["state"], extra["nonce"], rv.get("code_verifier"), return_to)
    response = redirect(rv["url"], code=302)
    pending.write(response, entries)
    return response


@bp.get("/oauth/openid/callback")
def callback() -> Any:
    services = _services()
    settings = services.settings
    params = request.args.to_dict(flat=True)
    pending = _pending()
    entries = pending.read(request)
    # Single use, whatever follows: the cookie loses the entry on every answer.
    after_this_request(lambda response: _keep_pending(response, entries))
    rules = services.login_rules
    try:
        # Before anything else: no provider text, no provider call.
        state_data = pending.take(entries, params.get("state"))
        metadata = services.discovery.metadata()
        code = check_response(params, state_data, metadata, rules)
        token = _redeem(_client(), code, state_data)
        result = finish_login(
            token,
            nonce=state_data["nonce"],
            verifier=services.verifier,
            rules=rules,
            assess=services.entitlements.at_login,
            return_to=safe_return_to(state_data["return_to"]),
        )
    except AuthError as error:
        log.info("login failed: %s", error.code)
        metrics.login(error.code)
        raise
    if not settings.reuse_tokens:
        # Keep only what the session needs: the ID token for logout, the status for display.
        result.tokens.access_token = None
        result.tokens.refresh_token = None
    state.begin(result.claims, result.tokens)
    metrics.login("ok")
    log.info("login ok for %s", user_ref(result.claims["sub"], settings.log_salt))
    return redirect(settings.domain_client + result.return_to, code=302)


def _pending() -> PendingLogins:
    return current_app.extensions["oidc_login_pending"]  # type: ignore[no-any-return]


def _keep_pending(response: Response, entries: list[dict[str, Any]]) -> Response:
    _pending().write(response, entries)
    return response


def _redeem(client: DiscoveredClient, code: str, state_data: dict[str, Any]) -> dict[str, Any]:
    """The code grant with the PKCE verifier; provider failures mapped to the contract."""
    try:
        return dict(
            client.fetch_access_token(
                redirect_uri=_services().settings.redirect_uri,
                code=code,
                code_verifier=state_data.get("code_verifier") or None,
            )
        )
    except OAuthError as exc:
        raise _services().error(
            "TOKEN_EXCHANGE_FAILED", f"The provider said: {exc.error}: {exc.description or ''}".rstrip(": "),
            status=400,
        ) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 502
        raise _services().error(
            "TOKEN_EXCHANGE_FAILED", f"The token endpoint answered HTTP {status}.",
            status=502 if status >= 500 else 400,
        ) from None
    except (requests.RequestException, ValueError) as exc:
        raise _services().error(
            "TOKEN_EXCHANGE_FAILED", f"The token endpoint could not be reached ({type(exc).__name__}).",
            status=502,
        ) from None


def _refuse_cross_site(what: str) -> None:
    if _cross_site():
        raise AuthError("INVALID_REQUEST", f"Cross-site {what} refused.", status=403,
                        hint=f"Use this site's own pages for {what}.")


def _cross_site() -> bool:
    """True when a browser sent this POST from another site."""
    settings = _services().settings
    origin = request.headers.get("Origin")
    allowed = {origin_of(settings.domain_server), origin_of(settings.domain_client), origin_of(request.host_url)}
    if origin is not None:
        return origin.lower() not in allowed
    if request.headers.get("Sec-Fetch-Site") in ("cross-site", "same-site"):
        return True
    token = request.form.get("csrf_token") if request.form else None
    if token is not None:
        expected = (session.get("csrf", "") or "").encode()
        return not secrets.compare_digest(token.encode("utf-8", "surrogatepass"), expected)
    simple = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
    return simple and request.headers.get("Sec-Fetch-Site") != "same-origin"


@bp.post("/api/auth/logout")
def logout() -> Any:
    services = _services()
    settings = services.settings
    _refuse_cross_site("logout")
    target = "/login"
    tokens = g.principal.tokens if g.get("principal") is not None else None
    if settings.use_end_session_endpoint:
        target = backchannel.end_session_target(tokens) or target
    if g.get("principal") is not None:
        log.info("logout for %s", user_ref(g.principal.sub, settings.log_salt))
        if state.signed_in():  # a session, not a bearer token: revoke, leave the index
            backchannel.on_logout(tokens, state.session_keys())
            metrics.session_ended("logout")
    state.end()
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return redirect(target, code=303)
    return jsonify({"redirect": target})


@bp.post("/api/auth/refresh")
def refresh() -> Response:
    services = _services()
    if not services.settings.reuse_tokens:
        raise AuthError("INVALID_REQUEST", "Token reuse is off (OPENID_REUSE_TOKENS=false).",
                        hint="Set OPENID_REUSE_TOKENS=true to keep and refresh the provider's tokens.")
    _refuse_cross_site("refresh")
    return _refresh_now()


@login_required
def _refresh_now() -> Response:
    services = _services()
    principal = g.principal
    if principal.via != "session" or principal.tokens is None:
        raise AuthError("INVALID_REQUEST", "Only a session can be refreshed.")
    try:
        tokens = services.refresher.current(state.vault(), principal.tokens, force=True)
    except AuthError as error:
        if error.status < 500:
            state.end()
            error.ends_session = True
        raise
    return jsonify({"access_token_expires_at": tokens.expires_at})
