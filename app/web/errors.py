"""Rendering AuthError for API clients (JSON) and people (an HTML page), same three fields."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Response, jsonify, redirect, render_template, request

from ..errors import AuthError


def wants_json() -> bool:
    """API routes (except a browser's form post, e.g. the logout button), and any request
    that asks for JSON first."""
    if request.path.startswith("/api/"):
        browser_form = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
        return not (browser_form and "text/html" in (request.headers.get("Accept") or ""))
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def render_error(error: AuthError) -> Response:
    if error.ends_session and not wants_json():
        # A page whose session just ended goes to the login page, which names the reason.
        return redirect("/login?" + urlencode({"error": error.code}), code=302)
    if wants_json():
        response = jsonify(error.as_dict())
    else:
        response = Response(render_template("error.html", error=error), mimetype="text/html")
    response.status_code = error.status
    if error.status == 401 and request.path.startswith("/api/"):
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    if error.status == 503:
        response.headers["Retry-After"] = str(error.retry_after or 5)
    response.headers["Cache-Control"] = "no-store"
    return response
