"""What POST /api/auth/logout adds for logout everywhere: RFC 7009 revocation of the refresh
token (bounded, never failing), the end-session URL that always fits, leaving the index."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import requests

from app.store.sealed import hashed_key
from tests.conftest import CLIENT_ID, REUSE, SECRET


def logout(live, http, **kwargs):
    return live.post(http, "/api/auth/logout", json={}, headers={"Origin": live.url}, **kwargs)


def live_refresh_tokens(provider) -> list[str]:
    return [f.current for f in provider.state.families.values() if not f.revoked]


def refresh_at_provider(provider, refresh_token: str) -> requests.Response:
    return requests.post(
        provider.url("/token"), data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(CLIENT_ID, provider.client_secret), timeout=10,
    )


def test_logout_revokes_the_refresh_token(make_app, provider, caplog):
    caplog.set_level(logging.DEBUG)
    live = make_app(**REUSE)
    http = live.login()
    [token] = live_refresh_tokens(provider)
    assert logout(live, http).status_code == 200
    assert provider.revocation_requests == [
        {"token_type_hint": "refresh_token", "auth": "basic", "client_id": CLIENT_ID}
    ]
    answer = refresh_at_provider(provider, token)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert "refresh token revocation: revoked" in caplog.text
    assert token not in caplog.text


def test_no_revocation_when_turned_off(make_app, provider):
    live = make_app(**REUSE, OPENID_REVOKE_ON_LOGOUT="false")
    http = live.login()
    [token] = live_refresh_tokens(provider)
    assert logout(live, http).status_code == 200
    assert provider.revocation_requests == []
    assert refresh_at_provider(provider, token).status_code == 200


def test_no_revocation_endpoint_advertised_logout_still_works(make_app, provider):
    provider.config.discovery_overrides = {"revocation_endpoint": None}
    live = make_app(**REUSE)
    http = live.login()
    assert logout(live, http).status_code == 200
    assert provider.calls["revocation"] == 0
    assert live.get(http, "/api/user").status_code == 401


def test_failing_revocation_never_fails_logout(make_app, provider, caplog):
    caplog.set_level(logging.INFO)
    provider.config.fail = {"revocation": 500}
    live = make_app(**REUSE)
    http = live.login()
    assert logout(live, http).status_code == 200
    assert "refresh token revocation: failed" in caplog.text
    assert live.get(http, "/api/user").status_code == 401


def test_hanging_revocation_endpoint_delays_logout_by_a_few_seconds_at_most(make_app, provider, caplog):
    caplog.set_level(logging.INFO)
    provider.config.delay = {"revocation": 30}
    live = make_app(**REUSE)
    http = live.login()
    # The bound: requests gives up (and the test fails) if logout takes more than 8 s.
    response = logout(live, http, timeout=8)
    assert response.status_code == 200
    assert "refresh token revocation: timeout" in caplog.text
    assert live.get(http, "/api/user").status_code == 401


def test_logout_takes_the_session_out_of_the_index(make_app, provider):
    provider.config.id_token_claims = {"sid": "sid-logout"}
    live = make_app()
    http = live.login()
    store = live.services.store
    assert store.get(hashed_key(SECRET, "bcl-sid", "sid-logout")) is not None
    assert logout(live, http).status_code == 200
    assert store.get(hashed_key(SECRET, "bcl-sid", "sid-logout")) is None
    assert store.get(hashed_key(SECRET, "bcl-sub", provider.user["sub"])) is None


def end_session_params(live, http) -> dict[str, list[str]]:
    target = logout(live, http).json()["redirect"]
    return parse_qs(urlsplit(target).query)


def test_end_session_url_carries_the_id_token_when_it_fits(make_app, provider):
    provider.config.id_token_claims = {"sid": "sid-e"}
    live = make_app(OPENID_USE_END_SESSION_ENDPOINT="true")
    params = end_session_params(live, live.login())
    assert "id_token_hint" in params and "logout_hint" not in params
    assert params["client_id"] == [CLIENT_ID]


def test_too_long_end_session_url_sends_logout_hint_and_client_id(make_app, provider):
    provider.config.id_token_claims = {"sid": "sid-e", "padding": "x" * 3000}
    live = make_app(OPENID_USE_END_SESSION_ENDPOINT="true")
    params = end_session_params(live, live.login())
    assert "id_token_hint" not in params
    assert params["logout_hint"] == ["sid-e"] and params["client_id"] == [CLIENT_ID]


def test_logout_hint_is_the_sub_without_a_sid(make_app, provider):
    live = make_app(OPENID_USE_END_SESSION_ENDPOINT="true", OPENID_MAX_LOGOUT_URL_LENGTH="200")
    params = end_session_params(live, live.login())
    assert "id_token_hint" not in params and params["logout_hint"] == [provider.user["sub"]]


def test_logout_with_a_bearer_token_and_no_session_is_not_an_error(make_app, provider):
    live = make_app()
    token = provider.mint_id_token()
    response = live.post(live.session(), "/api/auth/logout", json={},
                         headers={"Origin": live.url, "Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text[:300]
    assert provider.calls["revocation"] == 0
