"""Security headers on every response: no framing, no sniffing, a strict CSP whose nonce
lets only our own inline style and script run, and no caching of personal pages."""

from __future__ import annotations

import secrets

from flask import Response, current_app, g, request


def csp_nonce() -> str:
    """The nonce templates put on their inline <style> and <script>."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def add_security_headers(response: Response) -> Response:
    if request.endpoint == "verify.verify":
        return response  # a proxy's auth subrequest: its answer is never shown as a page
    nonce = csp_nonce()
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; "
        f"style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src * data:; connect-src 'self'; "
        "base-uri 'none'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.scheme == "https" or current_app.extensions["oidc_login"].settings.secure_cookies:
        # Over https the browser must never come back over http (cookie theft on a hostile
        # network); a year, as the HSTS preload list asks.
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "pages.healthz":
        # Pages and API answers name the user or carry one-time state: never cache them.
        response.headers.setdefault("Cache-Control", "no-store")
    return response
