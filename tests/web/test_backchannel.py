"""Back-channel logout through real HTTP: every refused token leaves sessions alone; a valid
one ends exactly the sessions of its sid (or, with sub alone, of its user)."""

from __future__ import annotations

import pytest

from tests.conftest import CLIENT_ID, REUSE

PATH = "/oauth/openid/backchannel-logout"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


def signed_in(live, http) -> bool:
    response = live.get(http, "/api/user")
    assert response.status_code in (200, 401), response.text[:300]
    return response.status_code == 200


def login_as(live, provider, sub: str, sid: str | None):
    provider.user = provider.user | {"sub": sub}
    provider.config.id_token_claims = {"sid": sid} if sid else {}
    return live.login()


def post_token(live, token: str, **kwargs):
    http = live.session()
    return live.post(http, PATH, data={"logout_token": token}, **kwargs)


def assert_refused(response) -> None:
    assert response.status_code == 400, response.text[:300]
    body = response.json()
    assert body["error"] == "invalid_request"
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


# Each: (what is wrong, how to mint it).
BAD_TOKENS = {
    "bad signature": lambda p: p.mint_logout_token(key="wrong", sid="sid-a"),
    "alg none": lambda p: p.mint_logout_token(header={"alg": "none"}, sid="sid-a"),
    "hmac keyed with the public key": lambda p: p.mint_logout_token(key="hmac_public", sid="sid-a"),
    "wrong iss": lambda p: p.mint_logout_token(iss="https://evil.example.com", sid="sid-a"),
    "wrong aud": lambda p: p.mint_logout_token(aud="another-client", sid="sid-a"),
    "iat far in the future": lambda p: p.mint_logout_token(iat=_now() + 3600, sid="sid-a"),
    "iat far in the past": lambda p: p.mint_logout_token(iat=_now() - 3 * 3600, exp=None, sid="sid-a"),
    "expired exp": lambda p: p.mint_logout_token(iat=_now() - 400, exp=_now() - 200, sid="sid-a"),
    "missing jti": lambda p: p.mint_logout_token(jti=None, sid="sid-a"),
    "missing events": lambda p: p.mint_logout_token(events=None, sid="sid-a"),
    "wrong events": lambda p: p.mint_logout_token(events={"http://schemas.openid.net/event/other": {}}, sid="sid-a"),
    "events not an object": lambda p: p.mint_logout_token(events=[EVENT], sid="sid-a"),
    "neither sid nor sub": lambda p: p.mint_logout_token(sub=None),
    "nonce present": lambda p: p.mint_logout_token(nonce="n-1", sid="sid-a"),
    "wrong typ": lambda p: p.mint_logout_token(header={"typ": "at+jwt"}, sid="sid-a"),
    "an ID token": lambda p: p.mint_id_token(sid="sid-a"),
    "garbage": lambda p: "not-a-jwt",
    "empty": lambda p: "",
    "oversized": lambda p: p.mint_logout_token(sid="sid-a", padding="x" * 40_000),
}


def _now() -> int:
    import time

    return int(time.time())


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_refused_tokens_end_no_session(make_app, provider, case):
    live = make_app()
    http = login_as(live, provider, "user-123", "sid-a")
    assert_refused(post_token(live, BAD_TOKENS[case](provider)))
    assert signed_in(live, http)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {"logout_token": "x"}},
        {"data": b"logout_token=" + b"a" * 2_000_000, "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"data": b"\xff\xfe\x00garbage", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        {"files": {"logout_token": ("t", b"abc")}},
        {"data": {"other": "x"}},
        {"data": [("logout_token", "a"), ("logout_token", "b")]},
        {},
    ],
    ids=["json", "huge body", "binary", "multipart", "no field", "two fields", "no body"],
)
def test_bodies_that_are_not_one_form_field_are_400(make_app, provider, kwargs):
    live = make_app()
    http = login_as(live, provider, "user-123", "sid-a")
    response = live.post(live.session(), PATH, **kwargs)
    assert_refused(response)
    assert signed_in(live, http)


def test_replayed_jti_is_refused(make_app, provider):
    live = make_app()
    token = provider.mint_logout_token(sid="sid-unknown")
    first = post_token(live, token)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    http = login_as(live, provider, "user-123", "sid-unknown")
    assert_refused(post_token(live, token))
    assert signed_in(live, http)


def test_valid_by_sid_ends_only_that_session(make_app, provider):
    live = make_app()
    first = login_as(live, provider, "user-123", "sid-a")
    second = login_as(live, provider, "user-123", "sid-b")
    other = login_as(live, provider, "user-456", "sid-c")
    response = post_token(live, provider.mint_logout_token(sid="sid-a", sub="user-123"))
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert not signed_in(live, first)
    assert signed_in(live, second)
    assert signed_in(live, other)


def test_valid_by_sub_alone_ends_all_of_that_users_sessions(make_app, provider):
    live = make_app(**REUSE)
    first = login_as(live, provider, "user-123", "sid-a")
    second = login_as(live, provider, "user-123", None)
    other = login_as(live, provider, "user-456", "sid-c")
    response = post_token(live, provider.mint_logout_token(sub="user-123"))
    assert response.status_code == 200, response.text
    assert not signed_in(live, first)
    assert not signed_in(live, second)
    assert signed_in(live, other)


def test_a_ended_session_page_goes_to_login(make_app, provider):
    live = make_app()
    http = login_as(live, provider, "user-123", "sid-a")
    assert post_token(live, provider.mint_logout_token(sid="sid-a")).status_code == 200
    home = live.get(http, "/", allow_redirects=False)
    assert home.status_code == 302 and home.headers["Location"].startswith("/login")


def test_the_index_keeps_sid_and_sub_only_as_keyed_hashes(make_app, provider):
    from pathlib import Path

    from app.store.sealed import hashed_key
    from tests.conftest import SECRET

    live = make_app()
    login_as(live, provider, "user-123", "sid-secret-value")
    stored = b"".join(p.read_bytes() for p in Path(live.app.instance_path).rglob("*") if p.is_file())
    assert b"sid-secret-value" not in stored
    store = live.services.store
    assert store.get(hashed_key(SECRET, "bcl-sid", "sid-secret-value")) is not None
    assert store.get(hashed_key(SECRET, "bcl-sub", "user-123")) is not None
    assert store.get("bcl-sid:sid-secret-value") is None


def test_logout_token_is_not_a_bearer_token(make_app, provider):
    live = make_app()
    for token in (
        provider.mint_logout_token(sid="sid-a"),
        provider.mint_logout_token(sid="sid-a", header={"typ": "JWT"}),
    ):
        response = live.get(live.session(), "/api/user", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text[:300]


def test_the_endpoint_is_public_and_needs_no_csrf_token(make_app, provider):
    live = make_app()
    http = login_as(live, provider, "user-123", "sid-a")
    response = live.post(
        live.session(), PATH, data={"logout_token": provider.mint_logout_token(sid="sid-a")},
        headers={"Origin": "https://idp.example.com", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200
    assert not signed_in(live, http)


def test_audience_list_containing_the_client_is_accepted(make_app, provider):
    live = make_app()
    http = login_as(live, provider, "user-123", "sid-a")
    token = provider.mint_logout_token(sid="sid-a", aud=["other", CLIENT_ID])
    assert post_token(live, token).status_code == 200
    assert not signed_in(live, http)


def test_an_ended_session_is_refused_by_forward_auth_too(make_app, provider):
    live = make_app(**REUSE)
    http = login_as(live, provider, "user-123", "sid-a")
    other = login_as(live, provider, "user-456", "sid-b")
    headers = {"X-Original-URI": "/chat?x=1"}
    assert live.get(http, "/api/auth/verify", headers=headers).status_code == 200
    assert post_token(live, provider.mint_logout_token(sid="sid-a")).status_code == 200
    refused = live.get(http, "/api/auth/verify", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["X-Auth-Request-Redirect"].startswith("/login?return_to=%2Fchat")
    assert "Set-Cookie" not in refused.headers
    assert live.get(other, "/api/auth/verify", headers=headers).status_code == 200
