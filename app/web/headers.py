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


#: For answers that rendered no template (JSON, redirects): nothing may run or load.
STRICT_CSP = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"
#: For pages: only our own inline style and script, by this response's nonce.
PAGE_CSP = (
    "default-src 'none'; style-src 'nonce-{0}'; script-src 'nonce-{0}'; "
    "img-src * data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
COMMON = (("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))


def add_security_headers(response: Response) -> Response:
    """The nonce exists only if a template asked for one, so JSON answers cost no random
    bytes and get the strictest policy. Headers a view set itself are kept."""
    endpoint = request.endpoint
    if endpoint == "verify.verify":
        return response  # a proxy's auth subrequest: its answer is never shown as a page
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    missing = [(name, value) for name, value in COMMON if name.lower() not in present]
    if "content-security-policy" not in present:
        nonce = g.get("csp_nonce")
        missing.append(("Content-Security-Policy", PAGE_CSP.format(nonce) if nonce else STRICT_CSP))
    if "strict-transport-security" not in present and (
        request.scheme == "https" or current_app.extensions["oidc_login"].settings.secure_cookies
    ):
        # Over https the browser must never come back over http (cookie theft on a hostile
        # network); a year, as the HSTS preload list asks.
        missing.append(("Strict-Transport-Security", "max-age=31536000"))
    if endpoint != "pages.healthz" and "cache-control" not in present:
        # Pages and API answers name the user or carry one-time state: never cache them.
        missing.append(("Cache-Control", "no-store"))
    headers.extend(missing)
    return response
