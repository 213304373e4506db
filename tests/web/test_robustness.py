"""Bad input gets an error code and a hint, never a 500, a stack trace or a redirect loop."""

from __future__ import annotations

import pytest

from tests.conftest import REUSE

GARBAGE = ["", "%", "%00", "\u202e\u0000", "a" * 5000, "../../etc/passwd", "[]", "{}", "eyJ.eyJ.", "a.b.c.d.e"]


def assert_clean(response) -> None:
    assert response.status_code < 500 or response.status_code in (502, 503), response.status_code
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert "hint" in response.text or "What to do" in response.text, response.text[:300]


@pytest.fixture
def live(make_app):
    return make_app(**REUSE)


@pytest.mark.parametrize("value", GARBAGE)
def test_callback_with_garbage_parameters(live, value):
    http = live.session()
    live.start_login(http)  # a real pending login, so the state check is not the only gate
    for params in (
        {"code": value, "state": value},
        {"state": value},
        {"error": value, "error_description": value, "state": value},
        {"code": value, "state": value, "iss": value},
    ):
        assert_clean(live.get(http, "/oauth/openid/callback", params=params))


@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_cookies_are_no_session(live, value):
    http = live.session()
    http.cookies.set("oidc_login", "".join(ch for ch in value if 0x20 < ord(ch) < 0x7F and ch not in ';,"\\'))
    for path in ("/api/user", "/api/models", "/login", "/"):
        response = live.get(http, path, allow_redirects=False)
        assert_clean(response)
    assert live.get(http, "/api/user").status_code == 401


@pytest.mark.parametrize("value", GARBAGE + ["Bearer", "Bearer  ", "Basic abc", "bearer eyJhbGciOiJub25lIn0.e30."])
def test_garbage_authorization_headers(live, value):
    response = live.get(live.session(), "/api/user", headers={"Authorization": value.encode("utf-8", "ignore").decode("latin-1")})
    assert_clean(response)
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("value", GARBAGE)
def test_login_and_start_with_garbage_parameters(live, value):
    http = live.session()
    assert_clean(live.get(http, "/login", params={"error": value, "return_to": value}))
    response = live.get(http, "/oauth/openid", params={"return_to": value}, allow_redirects=False)
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/auth/logout"), ("PUT", "/api/user"), ("DELETE", "/"), ("POST", "/oauth/openid/callback"),
     ("GET", "/api/auth/refresh"), ("POST", "/healthz")],
)
def test_wrong_methods(live, method, path):
    response = live.session().request(method, live.url + path, timeout=10)
    assert response.status_code == 405
    assert_clean(response)


def test_malformed_json_logout_body(live):
    http = live.login()
    response = live.post(http, "/api/auth/logout", data="{not json", headers={
        "Content-Type": "application/json", "Origin": live.url})
    assert_clean(response)
    assert response.status_code in (200, 400)
