"""The WSGI middlewares (app/web/middleware.py) on a bare WSGI app: what they add, what they
keep, and the request ids they make."""

from __future__ import annotations

from werkzeug.test import Client
from werkzeug.wrappers import Response

from app.web.middleware import (
    CSP_NONCE,
    PAGE_CSP,
    STRICT_CSP,
    RequestIds,
    SecurityHeaders,
    csp_nonce,
    new_request_id,
)


def app_with(headers: dict[str, str]):
    def app(environ, start_response):
        return Response("x", headers=headers)(environ, start_response)

    return app


def secured(app, **kw):
    return Client(SecurityHeaders(app, https_only=kw.get("https_only", False), bare=["/bare"], cacheable=["/probe"]))


def test_every_answer_gets_the_strict_headers():
    response = secured(app_with({})).get("/x")
    assert response.headers["Content-Security-Policy"] == STRICT_CSP
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_a_header_the_view_set_is_kept_not_doubled():
    response = secured(app_with({"Cache-Control": "max-age=60", "x-frame-options": "SAMEORIGIN"})).get("/x")
    assert response.headers.getlist("Cache-Control") == ["max-age=60"]
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]


def test_a_page_gets_its_own_nonce_in_the_policy():
    seen = []

    def page(environ, start_response):
        seen.append(csp_nonce(environ))
        assert csp_nonce(environ) == seen[-1] == environ[CSP_NONCE]  # one per request
        return Response("x")(environ, start_response)

    client = secured(page)
    first, second = client.get("/page"), client.get("/page")
    assert first.headers["Content-Security-Policy"] == PAGE_CSP.format(seen[0])
    assert second.headers["Content-Security-Policy"] == PAGE_CSP.format(seen[1]) and seen[0] != seen[1]


def test_hsts_over_https_or_when_cookies_are_https_only():
    assert secured(app_with({})).get("/x", base_url="https://a.example").headers["Strict-Transport-Security"]
    assert secured(app_with({}), https_only=True).get("/x").headers["Strict-Transport-Security"]


def test_bare_and_cacheable_paths():
    bare = secured(app_with({})).get("/bare")
    assert "Content-Security-Policy" not in bare.headers and "Cache-Control" not in bare.headers
    probe = secured(app_with({})).get("/probe")
    assert "Cache-Control" not in probe.headers and probe.headers["X-Frame-Options"] == "DENY"


def test_request_ids_are_made_or_kept_only_from_a_trusted_proxy():
    made = Client(RequestIds(app_with({}), trust_proxy=False)).get("/", headers={"X-Request-ID": "abc"})
    assert made.headers["X-Request-ID"] != "abc" and len(made.headers["X-Request-ID"]) == 32
    kept = Client(RequestIds(app_with({}), trust_proxy=True)).get("/", headers={"X-Request-ID": "abc"})
    assert kept.headers["X-Request-ID"] == "abc"
    junk = Client(RequestIds(app_with({}), trust_proxy=True)).get("/", headers={"X-Request-ID": "a b\x7f"})
    assert junk.headers["X-Request-ID"] != "a b\x7f"
    assert len({new_request_id() for _ in range(1000)}) == 1000
