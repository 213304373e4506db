"""Login, callback, logout and refresh routes: thin glue around app.oidc."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request, session

from ..errors import AuthError, error_for_code
from ..logs import user_ref
from ..oidc.client import token_auth_method
from ..oidc.login import check_response, finish_login
from ..providers import hosted_logout_url
from ..services import Services
from . import session as state
from .guard import login_required
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
        "login.html", settings=settings, error=error, start_url=start, signed_in="tsid" in session
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
    client.save_authorize_data(redirect_uri=settings.redirect_uri, return_to=return_to, **rv)
    return redirect(rv["url"], code=302)


@bp.get("/oauth/openid/callback")
def callback() -> Any:
    services = _services()
    settings = services.settings
    client = _client()
    params = request.args.to_dict(flat=True)
    state_value = params.get("state")
    state_data = client.framework.get_state_data(session, state_value) if state_value else None
    if state_value:
        client.framework.clear_state_data(session, state_value)  # single use, whatever follows
    rules = services.login_rules
    try:
        if state_data is None:  # before anything else: no provider text, no provider call
            raise AuthError("INVALID_STATE")
        metadata = services.discovery.metadata()
        code = check_response(params, state_data, metadata, rules)
        token = _redeem(client, code, state_data)
        result = finish_login(
            token,
            nonce=state_data.get("nonce"),
            verifier=services.verifier,
            rules=rules,
            assess=services.entitlements.at_login,
            return_to=safe_return_to(state_data.get("return_to")),
        )
    except AuthError as error:
        log.info("login failed: %s", error.code)
        _drop_empty_session()
        raise
    if not settings.reuse_tokens:
        # Keep only what the session needs: the ID token for logout, the status for display.
        result.tokens.access_token = None
        result.tokens.refresh_token = None
    state.begin(result.claims, result.tokens)
    log.info("login ok for %s", user_ref(result.claims["sub"], settings.log_salt))
    return redirect(settings.domain_client + result.return_to, code=302)


def _redeem(client: DiscoveredClient, code: str, state_data: dict[str, Any]) -> dict[str, Any]:
    """The code grant with the PKCE verifier; provider failures mapped to the contract."""
    try:
        return dict(
            client.fetch_access_token(
                redirect_uri=state_data.get("redirect_uri"),
                code=code,
                code_verifier=state_data.get("code_verifier"),
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


def _drop_empty_session() -> None:
    """A failed login leaves no session behind (only the used state was in it)."""
    if "tsid" not in session and not any(k.startswith("_state_") for k in session):
        session.clear()


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
        return not secrets.compare_digest(token, session.get("csrf", "") or "")
    simple = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
    return simple and request.headers.get("Sec-Fetch-Site") != "same-origin"


@bp.post("/api/auth/logout")
def logout() -> Any:
    services = _services()
    settings = services.settings
    if _cross_site():
        raise AuthError("INVALID_REQUEST", "Cross-site logout refused.", status=403,
                        hint="Log out from this site's own pages.")
    target = "/login"
    tokens = g.principal.tokens if g.get("principal") is not None else None
    if settings.use_end_session_endpoint:
        target = _end_session_url(tokens.id_token if tokens else None) or target
    if g.get("principal") is not None:
        log.info("logout for %s", user_ref(g.principal.sub, settings.log_salt))
    state.end()
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return redirect(target, code=303)
    return jsonify({"redirect": target})


def _end_session_url(id_token: str | None) -> str | None:
    settings = _services().settings
    try:
        metadata = _services().discovery.metadata()
    except AuthError:
        return None
    endpoint = metadata.get("end_session_endpoint")
    hosted = hosted_logout_url(settings.provider, metadata, {
        "client_id": settings.client_id, "post_logout_redirect_uri": settings.post_logout_redirect_uri})
    if hosted:  # Cognito's hosted-UI logout instead of end_session_endpoint
        return hosted
    if not endpoint:
        return None
    params = {"client_id": settings.client_id, "post_logout_redirect_uri": settings.post_logout_redirect_uri}
    if id_token:
        params["id_token_hint"] = id_token
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


@bp.post("/api/auth/refresh")
def refresh() -> Response:
    services = _services()
    if not services.settings.reuse_tokens:
        raise AuthError("INVALID_REQUEST", "Token reuse is off (OPENID_REUSE_TOKENS=false).",
                        hint="Set OPENID_REUSE_TOKENS=true to keep and refresh the provider's tokens.")
    return _refresh_now()


@login_required
def _refresh_now() -> Response:
    services = _services()
    principal = g.principal
    if principal.via != "session" or principal.tokens is None:
        raise AuthError("INVALID_REQUEST", "Only a session can be refreshed.")
    tsid = session["tsid"]
    try:
        tokens = services.refresher.current(tsid, principal.tokens, force=True)
    except AuthError as error:
        if error.status < 500:
            state.end()
            error.ends_session = True  # type: ignore[attr-defined]
        raise
    return jsonify({"access_token_expires_at": tokens.expires_at})
