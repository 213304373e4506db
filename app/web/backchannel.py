"""Logout everywhere, the Flask side: the back-channel logout endpoint, and what the logout
view adds (refresh-token revocation, the end-session URL, leaving the sid/sub index).

The rules live in app.oidc.logout (no Flask) and app.store.index; this module only reads the
request and writes the answer the spec asks for (200, or 400 with an OAuth error body).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import metrics
from ..logs import user_ref
from ..providers import hosted_logout_url
from ..oidc.logout import BACKCHANNEL_PATH, MAX_TOKEN_LENGTH, LogoutTokenError, end_session_url, session_sid
from ..oidc.tokenset import TokenSet
from ..services import Services
from ..store import LockTimeout, StoreUnavailable

log = logging.getLogger(__name__)
bp = Blueprint("backchannel", __name__)
#: The whole form body: one logout token and some slack; larger bodies are refused unread.
MAX_BODY = MAX_TOKEN_LENGTH + 4096


def _services() -> Services:
    return current_app.extensions["oidc_login"]


def _answer(status: int, description: str | None = None) -> Response:
    response = jsonify({"error": "invalid_request", "error_description": description} if description else {})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _logout_token() -> str:
    """The `logout_token` form field, read within MAX_BODY; LogoutTokenError otherwise."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise LogoutTokenError("The body must be application/x-www-form-urlencoded.")
    if (request.content_length or 0) > MAX_BODY:
        raise LogoutTokenError("The body is too large.")
    request.max_content_length = MAX_BODY
    request.max_form_memory_size = MAX_BODY
    try:
        values = request.form.getlist("logout_token")
    except HTTPException:
        raise LogoutTokenError("The body is too large or malformed.") from None
    if len(values) != 1:
        raise LogoutTokenError("Exactly one logout_token parameter is required.")
    return values[0]


@bp.post(BACKCHANNEL_PATH)
def backchannel_logout() -> Response:
    """OpenID Connect Back-Channel Logout 1.0 §2.5-2.8: public, no session, no CSRF token."""
    services = _services()
    try:
        found = services.logout_tokens.validate(_logout_token())
    except LogoutTokenError as error:
        log.info("back-channel logout refused: %s", error.description)
        return _answer(400, error.description)
    except Exception as exc:  # noqa: BLE001 - a public endpoint: a bug here must still not be a 500
        log.error("back-channel logout refused: unexpected %s while validating", type(exc).__name__)
        return _answer(400, "The logout token could not be validated.")
    try:
        ended = services.index.end(sid=found.sid, sub=found.sub)
    except (LockTimeout, StoreUnavailable):
        log.warning("back-channel logout failed: the session store is unavailable")
        return _answer(400, "The session store is unavailable; send the logout token again.")
    who = user_ref(found.sub, services.settings.log_salt) if found.sub else "a provider session"
    log.info("back-channel logout for %s (by %s): %d session(s) ended", who, "sid" if found.sid else "sub", ended)
    metrics.session_ended("backchannel", ended)
    return _answer(200)


# -- what the login and logout views add -----------------------------------------------------


def index_session(claims: dict[str, Any], keys: list[str]) -> None:
    """At login: lists the new session under its `sid` and `sub` for back-channel logout."""
    services = _services()
    services.index.add(_text(claims.get("sid")), _text(claims.get("sub")), keys, services.settings.max_lifetime)


def on_logout(tokens: TokenSet | None, keys: list[str]) -> None:
    """At logout: revokes the refresh token (bounded, never failing) and leaves the index."""
    if tokens is None:
        return
    services = _services()
    services.revoker.revoke(tokens.refresh_token)
    try:
        services.index.forget(session_sid(tokens.id_token), tokens.sub, keys)
    except (LockTimeout, StoreUnavailable):
        log.warning("logout: the session index could not be updated (entries expire by themselves)")


def end_session_target(tokens: TokenSet | None) -> str | None:
    """The provider's end-session URL for this session (None when it has none)."""
    services = _services()
    settings = services.settings
    try:
        metadata = services.discovery.metadata()
    except Exception:  # noqa: BLE001 - AuthError, or anything: logout goes to /login then
        return None
    hosted = hosted_logout_url(settings.provider, metadata, {
        "client_id": settings.client_id, "post_logout_redirect_uri": settings.post_logout_redirect_uri})
    if hosted:  # Cognito's hosted-UI logout instead of end_session_endpoint
        return hosted
    endpoint = metadata.get("end_session_endpoint")
    id_token = tokens.id_token if tokens else None
    return end_session_url(
        endpoint if isinstance(endpoint, str) else None,
        client_id=settings.client_id,
        post_logout_redirect_uri=settings.post_logout_redirect_uri,
        id_token=id_token,
        logout_hint=session_sid(id_token) or (tokens.sub if tokens else None),
        max_length=settings.max_logout_url_length,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None

