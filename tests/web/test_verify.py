"""/api/auth/verify over real HTTP against the in-process test provider: what a reverse proxy
sees for every kind of request it may forward."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import REUSE
from tests.web.test_reuse import FAST, TTL, wait_until_refresh_due

VERIFY = "/api/auth/verify"
AUDIENCE = REUSE["OPENID_AUDIENCE"]


def verify(live, http, method: str = "GET", **kwargs):
    kwargs.setdefault("timeout", 15)
    return http.request(method, live.url + VERIFY, allow_redirects=False, **kwargs)


def redirect_params(response) -> dict[str, list[str]]:
    location = response.headers["X-Auth-Request-Redirect"]
    assert urlsplit(location).path == "/login" and not urlsplit(location).netloc
    return parse_qs(urlsplit(location).query)


def assert_no_cookie(response) -> None:
    assert "Set-Cookie" not in response.headers, response.headers


def test_signed_in_gets_200_with_identity_headers_and_empty_body(make_app, provider):
    live = make_app()
    http = live.login()
    response = verify(live, http)
    assert response.status_code == 200 and response.content == b""
    h = response.headers
    assert h["Content-Length"] == "0"  # a proxy keeps the connection to verify open
    assert h["X-Auth-Request-User"] == "user-123"
    assert h["X-Auth-Request-Email"] == "ada@example.com"
    assert h["X-Auth-Request-Name"] == "Ada Lovelace"
    assert h["X-Auth-Request-Roles"] == "admin,user"
    assert h["X-Auth-Request-Admin"] == "false"  # OPENID_ADMIN_ROLE is not set
    assert "X-Auth-Request-Access-Token" not in h  # reuse off
    assert_no_cookie(response)


def test_unknown_values_are_absent_and_odd_values_encoded(make_app, provider):
    provider.user = {"sub": "u-\u00e9", "name": "Zo\u00eb 100%\r\nX-Evil: 1", "roles": ["a,b", "50%", "\u00e9quipe", "plain"]}
    live = make_app()
    http = live.login()
    h = verify(live, http).headers
    assert h["X-Auth-Request-User"] == "u-%C3%A9"
    assert h["X-Auth-Request-Name"] == "Zo%C3%AB 100%25%0D%0AX-Evil: 1"
    assert "X-Evil" not in h
    assert h["X-Auth-Request-Roles"] == "a%2Cb,50%25,%C3%A9quipe,plain"
    assert "X-Auth-Request-Email" not in h  # the user has no email: absent, never empty
    assert all(h[name].isascii() for name in h)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH"])
def test_every_method_is_answered(make_app, provider, method):
    live = make_app()
    http = live.login()
    response = verify(live, http, method)
    assert response.status_code == 200, (method, response.text)
    assert response.headers["X-Auth-Request-User"] == "user-123"
    assert_no_cookie(response)
    anonymous = verify(live, live.session(), method)
    assert anonymous.status_code == 401
    assert anonymous.headers["X-Auth-Request-Redirect"].startswith("/login?")


@pytest.mark.parametrize("header", ["X-Original-URI", "X-Forwarded-Uri"])
def test_401_carries_the_login_url_back_to_the_original_request(make_app, provider, header):
    live = make_app()
    response = verify(live, live.session(), headers={header: "/c/new?q=a%20b&x=1", "X-Original-Method": "GET"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "LOGIN_REQUIRED"
    assert redirect_params(response) == {"return_to": ["/c/new?q=a%20b&x=1"]}
    assert response.headers["X-Auth-Request-Redirect"] == "/login?return_to=%2Fc%2Fnew%3Fq%3Da%2520b%26x%3D1"
    assert_no_cookie(response)


@pytest.mark.parametrize("evil", ["//evil.example/x", "https://evil.example/", "/%2F%2Fevil.example", "/\\evil"])
def test_foreign_original_urls_become_slash(make_app, provider, evil):
    live = make_app()
    response = verify(live, live.session(), headers={"X-Forwarded-Uri": evil})
    assert redirect_params(response) == {"return_to": ["/"]}


def test_allowed_roles(make_app, provider):
    live = make_app()
    http = live.login()
    assert verify(live, http, params={"allowed_roles": "user"}).status_code == 200
    assert verify(live, http, params={"allowed_roles": "nope, admin"}).status_code == 200
    assert verify(live, http, params={"allowed_roles": ""}).status_code == 200
    denied = verify(live, http, params={"allowed_roles": "finance,ops"}, headers={"X-Original-URI": "/finance"})
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "ROLE_REQUIRED"
    assert denied.headers["X-Auth-Request-Error"] == "ROLE_REQUIRED"
    assert redirect_params(denied) == {"return_to": ["/finance"], "error": ["ROLE_REQUIRED"]}
    assert_no_cookie(denied)
    assert verify(live, http).status_code == 200  # the session survives a denied location


def test_bearer_when_there_is_no_session(make_app, provider):
    live = make_app(OPENID_AUDIENCE=AUDIENCE)
    anon = live.session()
    ok = verify(live, anon, headers={"Authorization": "Bearer " + provider.mint_id_token()})
    assert ok.status_code == 200 and ok.headers["X-Auth-Request-User"] == "user-123"
    assert "X-Auth-Request-Access-Token" not in ok.headers
    assert_no_cookie(ok)
    bad = verify(live, anon, headers={"Authorization": "Bearer " + provider.mint_id_token(aud="someone-else")})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert bad.headers["X-Auth-Request-Redirect"].startswith("/login?return_to=")


def test_the_session_wins_over_a_bearer_token(make_app, provider):
    live = make_app(OPENID_AUDIENCE=AUDIENCE)
    http = live.login()
    # The app's own API call carries a token for another user, or a broken one: the session speaks.
    other = provider.mint_id_token(sub="someone-else")
    for token in (other, "not-a-jwt"):
        response = verify(live, http, headers={"Authorization": "Bearer " + token})
        assert response.status_code == 200, response.text
        assert response.headers["X-Auth-Request-User"] == "user-123"
    # /api/user keeps its rule (a Bearer token is checked first there).
    assert live.get(http, "/api/user", headers={"Authorization": "Bearer " + other}).json()["sub"] == "someone-else"


def test_access_token_header_only_with_reuse_and_pass(make_app, provider):
    plain = make_app(**REUSE)
    http = plain.login()
    assert "X-Auth-Request-Access-Token" not in verify(plain, http).headers
    passing = make_app(**REUSE, OPENID_PASS_ACCESS_TOKEN="true")
    http = passing.login()
    token = verify(passing, http).headers["X-Auth-Request-Access-Token"]
    assert token.count(".") == 2
    assert AUDIENCE in provider.decode(token)[1]["aud"]
    no_reuse = make_app(OPENID_PASS_ACCESS_TOKEN="true")
    assert "X-Auth-Request-Access-Token" not in verify(no_reuse, no_reuse.login()).headers


def test_verify_is_cheap_no_provider_call_no_store_write_and_no_cookie(make_app, provider, monkeypatch):
    live = make_app(**REUSE)
    http = live.login()
    before = dict(provider.calls)
    store = live.services.store
    writes = []
    real_set = store.set
    monkeypatch.setattr(store, "set", lambda *args, **kwargs: (writes.append(args[0]), real_set(*args, **kwargs)))
    for _ in range(20):
        response = verify(live, http)
        assert response.status_code == 200
        assert_no_cookie(response)
    assert dict(provider.calls) == before  # answered from the session and the claims cache
    assert writes == []  # the idle clock moves at most once a minute


def test_refresh_when_due_happens_once_and_sets_no_cookie(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    wait_until_refresh_due(live, http)
    for _ in range(3):
        response = verify(live, http)
        assert response.status_code == 200, response.text
        assert_no_cookie(response)
    assert provider.grants["refresh_token"] == 1


def test_provider_down_and_token_expired_is_503_and_the_session_is_kept(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    time.sleep(TTL + 0.2)
    provider.config.down = True
    response = verify(live, http, headers={"X-Original-URI": "/c/1"})
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "TOKEN_EXCHANGE_FAILED"
    assert response.headers["X-Auth-Request-Error"] == "TOKEN_EXCHANGE_FAILED"
    assert_no_cookie(response)
    provider.config.down = False
    time.sleep(int(response.headers["Retry-After"]))
    ok = verify(live, http)
    assert ok.status_code == 200, ok.text  # the same cookie works again
    assert provider.grants["refresh_token"] == 1


def test_revoked_refresh_token_ends_the_session_with_a_reason(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    provider.config.refresh_error = "invalid_grant"
    time.sleep(TTL + 0.2)
    response = verify(live, http, headers={"X-Original-URI": "/c/2"})
    assert response.status_code == 401
    assert redirect_params(response) == {"return_to": ["/c/2"], "error": ["REFRESH_FAILED"]}
    assert_no_cookie(response)  # the proxy would drop it anyway; the store forgot the session
    again = verify(live, http, headers={"X-Original-URI": "/c/2"})
    assert again.status_code == 401 and redirect_params(again) == {"return_to": ["/c/2"]}
    assert provider.grants["refresh_token"] == 1  # no loop of grants


def test_logged_out_cookie_is_401(make_app, provider):
    live = make_app()
    http = live.login()
    cookie = live.cookie(http)
    assert live.post(http, "/api/auth/logout", headers={"Origin": live.url}, json={}).status_code == 200
    http.cookies.set(live.services.settings.cookie_name, cookie)
    assert verify(live, http).status_code == 401


def test_store_down_is_503_with_retry_after_and_no_cookie(make_app, provider):
    from tests.redis_server import RedisServer

    with RedisServer() as redis_server:
        live = make_app(REDIS_URI=redis_server.uri)
        http = live.login()
        assert verify(live, http).status_code == 200
        redis_server.stop()
        response = verify(live, http, headers={"X-Original-URI": "/c/3"})
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["error"]["code"] in ("STORE_UNAVAILABLE", "TOKEN_EXCHANGE_FAILED")
        assert "Traceback" not in response.text
        assert_no_cookie(response)


def test_a_dead_session_cookie_leaves_the_bearer_token_to_speak(make_app, provider):
    live = make_app(OPENID_AUDIENCE=AUDIENCE)
    http = live.login()
    cookie = live.cookie(http)
    assert live.post(http, "/api/auth/logout", headers={"Origin": live.url}, json={}).status_code == 200
    http.cookies.set(live.services.settings.cookie_name, cookie)  # the old cookie, dead server-side
    response = verify(live, http, headers={"Authorization": "Bearer " + provider.mint_id_token(sub="api-caller")})
    assert response.status_code == 200 and response.headers["X-Auth-Request-User"] == "api-caller"
    assert_no_cookie(response)


def test_a_role_lost_at_refresh_ends_the_session_with_401_and_the_reason(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST, OPENID_REQUIRED_ROLE="user")
    http = live.login()
    assert verify(live, http).status_code == 200
    provider.user = {**provider.user, "roles": ["guest"]}
    time.sleep(TTL + 0.2)
    response = verify(live, http, headers={"X-Forwarded-Uri": "/c/8"})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "ROLE_REQUIRED"
    assert redirect_params(response) == {"return_to": ["/c/8"], "error": ["ROLE_REQUIRED"]}
    assert verify(live, http).status_code == 401  # ended: no second grant, no loop
    assert provider.grants["refresh_token"] == 1


def test_other_methods_get_405_in_verify_form(make_app, provider):
    live = make_app()
    response = verify(live, live.login(), "TRACE")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert response.headers["X-Auth-Request-Error"] == "INVALID_REQUEST"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"}
    assert_no_cookie(response)


def test_an_unexpected_error_is_a_500_in_verify_form_logged_with_the_request_id(make_app, provider, monkeypatch, caplog):
    import logging

    from app.web import verify as verify_module

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    live = make_app()
    http = live.login()
    monkeypatch.setattr(verify_module, "authenticate", broken)
    caplog.set_level(logging.ERROR)
    response = verify(live, http)
    assert response.status_code == 500 and response.json()["error"]["code"] == "INVALID_REQUEST"
    assert "a bug" not in response.text and "Traceback" not in response.text
    assert response.headers["X-Auth-Request-Error"] == "INVALID_REQUEST"
    failed = [r for r in caplog.records if r.getMessage() == "verify failed"]
    assert failed and failed[0].request_id == response.headers["X-Request-ID"]
    assert_no_cookie(response)


def test_verify_answers_are_counted_under_their_endpoint(make_app, provider):
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    live = make_app()
    http = live.login()
    ok, refused = sample("oidc_login_verify_answers_total", status="200"), sample("oidc_login_verify_answers_total", status="401")
    timed = sample("oidc_login_request_duration_seconds_count", route="verify.verify")
    assert verify(live, http).status_code == 200
    assert verify(live, live.session()).status_code == 401
    assert sample("oidc_login_verify_answers_total", status="200") - ok == 1
    assert sample("oidc_login_verify_answers_total", status="401") - refused == 1
    assert sample("oidc_login_request_duration_seconds_count", route="verify.verify") - timed == 2


def test_an_idle_session_ends_at_verify_and_its_stored_value_goes(make_app, provider):
    """Below Flask's dispatch the session layer still writes back: the value of a session that
    ended at verify is deleted from the store, and the cookie stays as it was (none is set)."""
    from tests.web.test_guard import rewrite_session, stored_session

    live = make_app()
    http = live.login()
    rewrite_session(live, http, seen=time.time() - 10 * 24 * 3600)
    response = verify(live, http)
    assert response.status_code == 401
    assert_no_cookie(response)
    assert stored_session(live, http) is None


def test_an_access_token_that_could_break_a_header_is_never_passed(make_app, provider):
    """Whatever the token record holds, the 200 answer's headers stay well-formed: a token
    with a line break (which no verified JWS has) is left out rather than sent."""
    from app.oidc.tokenset import TokenSet
    from app.web.session import Principal
    from app.web.verify import identity_headers

    live = make_app(**REUSE, OPENID_PASS_ACCESS_TOKEN="true")
    settings = live.services.settings
    good = verify(live, live.login()).headers["X-Auth-Request-Access-Token"]
    for token, passed in ((good, True), (good + "\r\nX-Evil: 1", False), ("t\u00e9", False)):
        tokens = TokenSet.from_dict({"access_token": token, "sub": "u"})
        headers = identity_headers(Principal(sub="u", iss=None, tokens=tokens), settings)
        assert ("X-Auth-Request-Access-Token" in headers) is passed, token
