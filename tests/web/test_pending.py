"""Pending logins travel with the browser: bounded per browser, ten minutes, used once, and
a flood of anonymous starts leaves the store as it was."""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qsl, urlsplit

import requests

from app.web import pending
from tests.web.test_auth import assert_no_session, error_code


def store_files(live) -> int:
    folder = os.path.join(live.services.settings.instance_path, "store")
    return sum(len(files) for _root, _dirs, files in os.walk(folder))


def test_a_flood_of_anonymous_starts_leaves_the_store_as_it_was(make_app):
    live = make_app()
    live.login()  # a real user, so the store is in use
    before = store_files(live)
    with requests.Session() as http:
        for _ in range(1000):
            http.cookies.clear()
            response = http.get(live.url + "/oauth/openid", allow_redirects=False, timeout=15)
            assert response.status_code == 302
    assert store_files(live) <= before + 1  # give or take a constant (a sweep marker)


def test_pending_logins_are_bounded_per_browser(make_app, provider):
    live = make_app()
    http = live.session()
    callbacks = [live.start_login(http) for _ in range(pending.MAX_PENDING + 2)]
    cookie = http.cookies.get("oidc_login_pending")
    assert cookie and len(cookie) < 3000  # stays far below the browser's 4 KiB cookie limit
    # The oldest were pushed out; the newest still work.
    oldest = live.get(http, "/oauth/openid/callback", params=callbacks[0])
    assert error_code(oldest) == "INVALID_STATE"
    newest = live.get(http, "/oauth/openid/callback", params=callbacks[-1], allow_redirects=False)
    assert newest.status_code == 302
    assert live.get(http, "/api/user").status_code == 200


def test_two_tabs_can_log_in_in_either_order(make_app):
    live = make_app()
    http = live.session()
    first, second = live.start_login(http), live.start_login(http)
    assert live.get(http, "/oauth/openid/callback", params=second, allow_redirects=False).status_code == 302
    assert live.get(http, "/oauth/openid/callback", params=first, allow_redirects=False).status_code == 302


def test_a_pending_login_is_usable_once_even_with_a_copied_cookie(make_app, provider):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    copied = http.cookies.get("oidc_login_pending")
    assert live.get(http, "/oauth/openid/callback", params=params, allow_redirects=False).status_code == 302
    again = live.get(http, "/oauth/openid/callback", params=params)
    assert error_code(again) == "INVALID_STATE"
    replay = requests.Session()
    replay.cookies.set("oidc_login_pending", copied)
    response = live.get(replay, "/oauth/openid/callback", params=params)
    assert response.status_code == 400 and error_code(response) == "INVALID_STATE"
    assert provider.grants["authorization_code"] == 1
    assert_no_session(live, replay)


def test_an_expired_pending_login_is_invalid_state(make_app, provider, monkeypatch):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    real = time.time
    monkeypatch.setattr(pending.time, "time", lambda: real() + pending.TTL + 1)
    response = live.get(http, "/oauth/openid/callback", params=params)
    assert response.status_code == 400 and error_code(response) == "INVALID_STATE"
    assert provider.grants["authorization_code"] == 0


def test_a_tampered_pending_cookie_is_invalid_state(make_app, provider):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    sealed = http.cookies.get("oidc_login_pending")
    http.cookies.set("oidc_login_pending", sealed[:-3] + ("AAA" if sealed[-3:] != "AAA" else "BBB"),
                     domain="127.0.0.1", path="/")
    response = live.get(http, "/oauth/openid/callback", params=params)
    assert error_code(response) == "INVALID_STATE"
    assert provider.grants["authorization_code"] == 0


def test_a_pending_login_does_not_travel_to_another_server_secret(make_app, provider):
    one = make_app()
    other = make_app(OPENID_SESSION_SECRET="a-completely-different-secret-of-enough-length")
    http = one.session()
    response = one.get(http, "/oauth/openid", allow_redirects=False)
    at_provider = http.get(response.headers["Location"], allow_redirects=False, timeout=15)
    params = dict(parse_qsl(urlsplit(at_provider.headers["Location"]).query))
    moved = requests.Session()
    moved.cookies.set("oidc_login_pending", http.cookies.get("oidc_login_pending"))
    assert error_code(other.get(moved, "/oauth/openid/callback", params=params)) == "INVALID_STATE"
