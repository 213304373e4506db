"""OPENID_REUSE_TOKENS: the provider's tokens are the session, verified and refreshed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import REUSE
from tests.web.test_auth import assert_no_session, error_code, failed_login


# Short-lived access tokens, refreshed when < 1 s is left: after a refresh the next one is
# 3 s away, so a slow machine never legitimately needs a second grant within one test step.
TTL = 4
FAST = {**REUSE, "OPENID_REFRESH_MARGIN": "1"}


def wait_until_refresh_due(live, http, ttl: float = TTL) -> None:
    """Sleep until the access token is within the refresh margin of expiry."""
    time.sleep(ttl - 1 + 0.1)


def status(live, http) -> dict:
    response = live.get(http, "/api/user")
    assert response.status_code == 200, response.text
    return response.json()["session"]


def test_login_keeps_a_verified_jwt_and_a_refresh_token(make_app, provider):
    live = make_app(**REUSE)
    http = live.login()
    session = status(live, http)
    assert session["reuse_tokens"] is True
    assert session["access_token_format"] == "jwt"
    assert isinstance(session["access_token_expires_at"], int)
    assert session["access_token_expires_at"] > time.time() + 200
    assert session["has_refresh_token"] is True
    body = live.get(http, "/api/user").text + live.get(http, "/").text
    tokens = live.services.refresher.load(live.vault(http))
    for token in (tokens.access_token, tokens.refresh_token, tokens.id_token):
        assert token and token not in body  # no raw token reaches the browser
    assert "eyJ" not in body


@pytest.mark.parametrize("fmt", ["opaque", "jwe"])
def test_opaque_or_encrypted_access_token_is_refused_at_login_without_loop(make_app, provider, fmt):
    provider.config.access_token_format = fmt
    live = make_app(**REUSE)
    http = live.session()
    response = live.get(http, "/oauth/openid")
    assert len(response.history) == 2  # start -> provider -> callback, which answers the error page
    assert 400 <= response.status_code < 500
    assert error_code(response) == "OPAQUE_ACCESS_TOKEN"
    assert "OPENID_AUDIENCE" in response.text
    assert_no_session(live, http)


def test_missing_refresh_token_is_refused_at_login(make_app, provider):
    provider.config.refresh_tokens = "never"
    live = make_app(**REUSE)
    http = live.session()
    response = live.get(http, "/oauth/openid")
    assert error_code(response) == "MISSING_REFRESH_TOKEN"
    assert "offline_access" in response.text
    assert_no_session(live, http)


def test_opaque_is_named_when_both_apply(make_app, provider):
    provider.config.refresh_tokens = "never"
    provider.config.access_token_format = "opaque"
    live = make_app(**REUSE)
    response = live.get(live.session(), "/oauth/openid")
    assert error_code(response) == "OPAQUE_ACCESS_TOKEN"


def test_access_token_with_wrong_audience_is_refused(make_app, provider):
    provider.config.access_token_claims = {"aud": "https://another-api.example.com"}
    live = make_app(**REUSE)
    failed_login(live, "INVALID_AUDIENCE")


def test_refresh_before_expiry_rotates_the_refresh_token(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    first = status(live, http)["access_token_expires_at"]
    wait_until_refresh_due(live, http)
    second = status(live, http)["access_token_expires_at"]
    assert second > first
    assert provider.grants["refresh_token"] == 1
    sent = [r["refresh_token"] for r in provider.token_requests if r.get("grant_type") == "refresh_token"]
    assert len(sent) == len(set(sent))  # a rotated refresh token is never sent twice
    assert provider.revoked_families == 0


def test_fresh_token_is_not_refreshed_and_not_reverified(make_app, provider, monkeypatch):
    live = make_app(**REUSE)
    http = live.login()
    import app.oidc.tokens as tokens

    calls = []
    real = tokens.jwt.decode
    monkeypatch.setattr(tokens.jwt, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(5):
        status(live, http)
    assert calls == []  # verified claims are cached for an unchanged token
    assert provider.grants["refresh_token"] == 0


def test_fifty_concurrent_requests_cause_exactly_one_refresh(make_app, provider):
    provider.config.access_token_ttl = TTL
    provider.config.delay = {"token": 0.3}  # a slow provider widens the race
    live = make_app(**FAST)
    http = live.login()
    cookie = live.cookie(http)
    wait_until_refresh_due(live, http)

    def hit(_: int) -> int:
        s = requests.Session()
        s.cookies.set(live.services.settings.cookie_name, cookie)
        return s.get(live.url + "/api/user", timeout=30).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(hit, range(50)))
    assert codes == [200] * 50
    assert provider.grants["refresh_token"] == 1
    assert provider.revoked_families == 0


def test_late_request_with_pre_refresh_state_gets_new_tokens(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    refresher = live.services.refresher
    tsid = live.vault(http)
    before = refresher.load(tsid)
    wait_until_refresh_due(live, http)
    assert status(live, http)  # this request refreshes
    after = refresher.load(tsid)
    assert after.refresh_token != before.refresh_token
    # A request that loaded the session before the refresh and arrives late:
    late = refresher.current(tsid, before)
    assert late.access_token == after.access_token
    assert provider.grants["refresh_token"] == 1 and provider.revoked_families == 0
    # The very same cookie keeps working.
    assert status(live, http)["has_refresh_token"]


def test_invalid_grant_ends_the_session_with_one_attempt(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    cookie = live.cookie(http)
    provider.config.refresh_error = "invalid_grant"
    wait_until_refresh_due(live, http)

    def hit(_: int) -> requests.Response:
        s = requests.Session()
        s.cookies.set(live.services.settings.cookie_name, cookie)
        return s.get(live.url + "/api/user", timeout=30)

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(hit, range(10)))
    assert all(r.status_code == 401 for r in responses)
    codes = {error_code(r) for r in responses}
    assert codes <= {"REFRESH_FAILED", "LOGIN_REQUIRED"} and "REFRESH_FAILED" in codes
    assert provider.grants["refresh_token"] == 1
    assert all(r.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"' for r in responses)


def test_failed_refresh_on_a_page_redirects_to_login_with_the_reason(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    provider.config.refresh_error = "invalid_grant"
    wait_until_refresh_due(live, http)
    response = live.get(http, "/", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?error=REFRESH_FAILED"
    page = live.get(http, response.headers["Location"])
    assert page.status_code == 200 and "<code>REFRESH_FAILED</code>" in page.text
    assert_no_session(live, http)


def test_provider_down_keeps_the_session_and_recovers(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    time.sleep(TTL + 0.2)  # expired: this request cannot be served without a refresh
    provider.config.down = True
    response = live.get(http, "/api/user")
    assert response.status_code == 503
    assert error_code(response) == "TOKEN_EXCHANGE_FAILED" and response.headers.get("Retry-After")
    response = live.get(http, "/api/user")  # backed off: the provider is not hammered
    assert response.status_code == 503
    provider.config.down = False
    deadline = time.time() + 10
    while time.time() < deadline:
        response = live.get(http, "/api/user")
        if response.status_code == 200:
            break
        time.sleep(0.3)
    assert response.status_code == 200
    assert provider.revoked_families == 0


def test_provider_5xx_on_refresh_keeps_the_session(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    time.sleep(TTL + 0.2)
    provider.config.fail = {"token": 500}
    page = live.get(http, "/", allow_redirects=False)
    assert page.status_code == 503 and "TOKEN_EXCHANGE_FAILED" in page.text
    provider.config.fail = {}
    time.sleep(0.6)
    assert live.get(http, "/api/user").status_code == 200


def test_refreshed_id_token_with_another_sub_ends_the_session(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    provider.config.refresh_sub_override = "someone-else"
    wait_until_refresh_due(live, http)
    response = live.get(http, "/api/user")
    assert response.status_code == 401 and error_code(response) == "REFRESH_FAILED"
    assert_no_session(live, http)


def test_lost_role_on_refresh_signs_the_user_out(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST, OPENID_REQUIRED_ROLE="admin")
    http = live.login()
    provider.user["roles"] = ["user"]
    wait_until_refresh_due(live, http)
    response = live.get(http, "/api/user")
    assert response.status_code == 403 and error_code(response) == "ROLE_REQUIRED"
    assert_no_session(live, http)


def test_refresh_without_rotation_keeps_the_refresh_token(make_app, provider):
    provider.config.rotate_refresh_tokens = False
    live = make_app(**REUSE)
    http = live.login()
    response = live.post(http, "/api/auth/refresh", json={}, headers={"Origin": live.url})
    assert response.status_code == 200
    assert status(live, http)["has_refresh_token"] is True
    response = live.post(http, "/api/auth/refresh", json={}, headers={"Origin": live.url})
    assert response.status_code == 200
    assert provider.grants["refresh_token"] == 2


def test_refresh_endpoint(make_app, provider):
    live = make_app(**REUSE)
    http = live.login()
    before = status(live, http)["access_token_expires_at"]
    time.sleep(1.1)
    response = live.post(http, "/api/auth/refresh", json={})
    assert response.status_code == 200
    assert response.json()["access_token_expires_at"] > before
    assert provider.grants["refresh_token"] == 1


def test_refresh_endpoint_without_session_is_401(make_app):
    live = make_app(**REUSE)
    response = live.post(live.session(), "/api/auth/refresh", json={})
    assert response.status_code == 401 and error_code(response) == "LOGIN_REQUIRED"


def test_refresh_endpoint_with_reuse_off_is_invalid_request(make_app):
    live = make_app()
    http = live.login()
    response = live.post(http, "/api/auth/refresh", json={})
    assert response.status_code == 400 and error_code(response) == "INVALID_REQUEST"
    anonymous = live.post(live.session(), "/api/auth/refresh", json={})
    assert anonymous.status_code == 400 and error_code(anonymous) == "INVALID_REQUEST"


def test_refresh_endpoint_invalid_grant_is_401_and_ends_session(make_app, provider):
    live = make_app(**REUSE)
    http = live.login()
    provider.config.refresh_error = "invalid_grant"
    response = live.post(http, "/api/auth/refresh", json={})
    assert response.status_code == 401 and error_code(response) == "REFRESH_FAILED"
    assert_no_session(live, http)


def test_home_page_shows_token_status(make_app):
    live = make_app(**REUSE)
    http = live.login()
    page = live.get(http, "/").text
    assert "jwt" in page and "data-expires-at=" in page and "kept server-side" in page


def test_logout_works_while_the_provider_is_down(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    time.sleep(TTL + 0.2)  # expired: any check would need the provider
    provider.config.down = True
    response = live.post(http, "/api/auth/logout", json={}, headers={"Origin": live.url})
    assert response.status_code == 200 and response.json() == {"redirect": "/login"}
    provider.config.down = False
    assert_no_session(live, http)
    assert provider.grants["refresh_token"] == 0


def test_refresh_endpoint_sends_one_grant_when_a_refresh_was_due(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    wait_until_refresh_due(live, http)
    assert live.post(http, "/api/auth/refresh", json={}).status_code == 200
    assert provider.grants["refresh_token"] == 1


def test_okta_style_access_token_subject_survives_refresh(make_app, provider):
    """Okta access tokens carry the login name as `sub`, the ID token the user id."""
    provider.config.access_token_ttl = TTL
    provider.config.access_token_claims = {"sub": "ada@example.com"}
    live = make_app(**FAST)
    http = live.login()
    wait_until_refresh_due(live, http)
    assert live.get(http, "/api/user").json()["sub"] == "user-123"
    assert provider.grants["refresh_token"] == 1


def test_refreshed_access_token_for_another_user_ends_the_session(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    provider.config.access_token_claims = {"sub": "mallory"}
    provider.config.refresh_returns_id_token = False
    wait_until_refresh_due(live, http)
    response = live.get(http, "/api/user")
    assert response.status_code == 401 and error_code(response) == "REFRESH_FAILED"
    assert_no_session(live, http)


def test_a_token_that_expired_while_the_request_waited_is_refreshed_not_fatal(make_app, provider):
    """The request judged the token 'not due' and then stalled (a slow store, a busy worker)
    past its exp: verification says TOKEN_EXPIRED, which calls for a refresh, not an end."""
    live = make_app(**REUSE)
    http = live.login()
    vault = live.vault(http)
    refresher = live.services.refresher
    tokens = refresher.load(vault)
    tokens.access_token = provider.mint_access_token(aud="https://api.example.com", exp=int(time.time()) - 5)
    tokens.expires_at = int(time.time()) + 3600  # what the request believed
    refresher.save(vault, tokens)
    fresh = refresher.current(vault, tokens)
    assert fresh.access_token != tokens.access_token
    assert provider.grants["refresh_token"] == 1
    assert status(live, http)["has_refresh_token"]
