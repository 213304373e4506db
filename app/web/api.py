"""JSON API: who am I, and which models may I use."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify

from .guard import allowed, login_required
from .session import Principal

bp = Blueprint("api", __name__, url_prefix="/api")


def session_status(principal: Principal) -> dict[str, Any] | None:
    """Token status without any token: format, expiry, whether a refresh token is kept."""
    if principal.via != "session" or principal.tokens is None:
        return None
    tokens = principal.tokens
    return {
        "reuse_tokens": current_app.extensions["oidc_login"].settings.reuse_tokens,
        "access_token_format": tokens.access_token_format,
        "access_token_expires_at": int(tokens.expires_at) if tokens.expires_at is not None else None,
        "has_refresh_token": bool(tokens.refresh_token),
    }


@bp.get("/user")
@login_required
def user() -> Any:
    p: Principal = g.principal
    return jsonify(
        {
            "sub": p.sub,
            "iss": p.iss,
            "email": p.email,
            "name": p.name,
            "username": p.username,
            "picture": p.picture,
            "roles": p.roles,
            "admin": p.admin,
            "session": session_status(p),
        }
    )


@bp.get("/models")
@login_required
def models() -> Any:
    """The models (resources in OPENID_ROLE_POLICY) the current user may use."""
    policy = current_app.extensions["oidc_login"].policy
    names = policy.resources() if policy else []
    return jsonify({"models": [name for name in names if allowed(name)]})
