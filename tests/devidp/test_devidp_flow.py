"""The development provider end to end over HTTP: discovery, login, consent, code + PKCE,
token formats, refresh rotation, userinfo and logout."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt

from .conftest import AUDIENCE, CLIENT_ID, POST_LOGOUT, REDIRECT_URI, Idp, form_fields


def test_discovery_advertises_what_the_login_server_relies_on(idp: Idp) -> None:
    meta = requests.get(idp.url("/.well-known/openid-configuration"), timeout=5).json()
    assert meta["issuer"] == idp.base
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"):
        assert meta[name].startswith(idp.base + "/")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "offline_access" in meta["scopes_supported"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    keys = requests.get(meta["jwks_uri"], timeout=5).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert "d" not in keys[0] and "p" not in keys[0], "the JWKS must hold public parts only"


def test_public_client_advertises_auth_method_none(idp_factory) -> None:
    idp = idp_factory(client_secret=None)
    meta = requests.get(idp.url("/.well-known/openid-configuration"), timeout=5).json()
    assert "none" in meta["token_endpoint_auth_methods_supported"]
    result = idp.login()  # token request with client_id only
    assert "refresh_token" in result["tokens"]


def test_login_page_shows_demo_user_banner_and_own_cookie(idp: Idp) -> None:
    browser = requests.Session()
    resp = idp.authorize(browser, idp.auth_params())
    assert resp.status_code == 302 and "/login?txn=" in resp.headers["Location"]
    page = browser.get(idp.url(resp.headers["Location"]), timeout=5)
    assert page.status_code == 200
    assert "Development identity provider" in page.text and "for local development only" in page.text
    assert "<kbd>demo</kbd>" in page.text  # the default user is shown
    assert 'type="password"' in page.text
    names = {c.name for c in browser.cookies}
    assert names == {"devidp_session"}
    cookie_header = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=Lax" in cookie_header


def test_wrong_password_shows_the_form_again(idp: Idp) -> None:
    browser = requests.Session()
    resp = idp.authorize(browser, idp.auth_params())
    page = browser.get(idp.url(resp.headers["Location"]), timeout=5)
    form = form_fields(page.text)
    form.pop("_action")
    form.update(username="demo", password="nope", action="login")
    bad = browser.post(idp.url("/login"), data=form, allow_redirects=False, timeout=5)
    assert bad.status_code == 401 and "Wrong username or password" in bad.text


def test_login_without_csrf_token_is_refused(idp: Idp) -> None:
    browser = requests.Session()
    resp = idp.authorize(browser, idp.auth_params())
    txn = parse_qs(urlsplit(resp.headers["Location"]).query)["txn"][0]
    bad = browser.post(idp.url("/login"), data={"txn": txn, "username": "demo", "password": "demo"},
                       allow_redirects=False, timeout=5)
    assert bad.status_code == 400


def test_code_flow_with_consent_and_id_token(idp: Idp) -> None:
    browser = requests.Session()
    params = idp.auth_params()
    back = idp.follow_to_client(browser, params)
    assert back["state"] == params["state"]
    assert back["iss"] == idp.base  # RFC 9207
    tokens = idp.exchange(back["code"], params["_verifier"]).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300
    assert set(tokens["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    assert tokens["refresh_token"]

    token = idp.decode(tokens["id_token"])
    assert token.header["alg"] == "RS256" and token.header["kid"] == idp.jwks.keys[0].kid
    claims = token.claims
    assert claims["iss"] == idp.base and claims["aud"] == CLIENT_ID
    assert claims["sub"] == "devidp|demo"
    assert claims["nonce"] == params["nonce"]
    assert claims["name"] == "Demo User" and claims["email"] == "demo@example.com"
    assert claims["email_verified"] is True
    assert claims["picture"] == idp.url("/avatar/demo.svg")
    assert claims["roles"] == ["user", "admin"]
    assert claims["https://oidc-login.dev/roles"] == ["user", "admin"]
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["auth_time"] - claims["iat"]) <= 5
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    avatar = requests.get(claims["picture"], timeout=5)
    assert avatar.status_code == 200 and avatar.headers["Content-Type"].startswith("image/svg+xml")


def test_consent_screen_lists_offline_access_and_deny_returns_access_denied(idp: Idp) -> None:
    browser = requests.Session()
    params = idp.auth_params()
    back = idp.follow_to_client(browser, params, consent="deny")
    assert back["error"] == "access_denied" and back["state"] == params["state"] and back["iss"] == idp.base
    assert "code" not in back


def test_cancel_on_login_form_returns_access_denied(idp: Idp) -> None:
    browser = requests.Session()
    params = idp.auth_params()
    resp = idp.authorize(browser, params)
    page = browser.get(idp.url(resp.headers["Location"]), timeout=5)
    form = form_fields(page.text)
    form.pop("_action")
    form["action"] = "cancel"
    out = browser.post(idp.url("/login"), data=form, allow_redirects=False, timeout=5)
    assert out.status_code == 302 and out.headers["Location"].startswith(REDIRECT_URI)
    assert parse_qs(urlsplit(out.headers["Location"]).query)["error"] == ["access_denied"]


def test_without_offline_access_no_consent_and_no_refresh_token(idp: Idp) -> None:
    browser = requests.Session()
    params = idp.auth_params("openid profile email")
    resp = idp.authorize(browser, params)
    page = browser.get(idp.url(resp.headers["Location"]), timeout=5)
    form = form_fields(page.text)
    form.pop("_action")
    form.update(username="demo", password="demo", action="login")
    out = browser.post(idp.url("/login"), data=form, allow_redirects=False, timeout=5)
    # Straight back to the client, no consent page in between.
    assert out.headers["Location"].startswith(REDIRECT_URI)
    code = parse_qs(urlsplit(out.headers["Location"]).query)["code"][0]
    tokens = idp.exchange(code, params["_verifier"]).json()
    assert "refresh_token" not in tokens and tokens["id_token"]


def test_existing_provider_session_skips_the_login_form(idp: Idp) -> None:
    result = idp.login("openid profile")
    params = idp.auth_params("openid profile")
    resp = idp.authorize(result["browser"], params)
    assert resp.headers["Location"].startswith(REDIRECT_URI)
    # prompt=login forces the form again
    forced = idp.authorize(result["browser"], idp.auth_params("openid", prompt="login"))
    assert "/login?txn=" in forced.headers["Location"]


def test_prompt_none_without_session_is_login_required(idp: Idp) -> None:
    resp = idp.authorize(requests.Session(), idp.auth_params("openid", prompt="none"))
    query = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert query["error"] == ["login_required"]


def test_opaque_access_token_without_audience(idp: Idp) -> None:
    tokens = idp.login()["tokens"]
    access = tokens["access_token"]
    assert access.count(".") == 0, "no audience: the access token must be opaque like Auth0's"
    info = requests.get(idp.url("/userinfo"), headers={"Authorization": f"Bearer {access}"}, timeout=5)
    assert info.status_code == 200
    assert info.json()["sub"] == "devidp|demo" and info.json()["email"] == "demo@example.com"


def test_jwt_access_token_with_audience(idp: Idp) -> None:
    tokens = idp.login(audience=AUDIENCE)["tokens"]
    token = idp.decode(tokens["access_token"])
    assert token.header["typ"] == "at+jwt" and token.header["alg"] == "RS256"
    c = token.claims
    assert c["aud"] == [AUDIENCE, idp.url("/userinfo")]
    assert c["iss"] == idp.base and c["sub"] == "devidp|demo" and c["azp"] == CLIENT_ID
    assert set(c["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    assert c["exp"] - c["iat"] == 300
    assert c["roles"] == ["user", "admin"] and c["https://oidc-login.dev/roles"] == ["user", "admin"]
    jwt.JWTClaimsRegistry(aud={"essential": True, "value": AUDIENCE}).validate(c)
    info = requests.get(idp.url("/userinfo"), headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=5)
    assert info.status_code == 200 and info.json()["sub"] == "devidp|demo"


def test_userinfo_refuses_bad_tokens(idp: Idp) -> None:
    for value in ("garbage", "a.b.c"):
        resp = requests.get(idp.url("/userinfo"), headers={"Authorization": f"Bearer {value}"}, timeout=5)
        assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    tokens = idp.login()["tokens"]  # an ID token is not an access token
    resp = requests.get(idp.url("/userinfo"), headers={"Authorization": f"Bearer {tokens['id_token']}"}, timeout=5)
    assert resp.status_code == 401


def test_refresh_rotates_and_returns_a_new_id_token(idp: Idp) -> None:
    first = idp.login(audience=AUDIENCE)["tokens"]
    resp = idp.refresh(first["refresh_token"])
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert resp.headers["Cache-Control"] == "no-store"
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    id1, id2 = idp.decode(first["id_token"]).claims, idp.decode(second["id_token"]).claims
    assert id2["sub"] == id1["sub"] and id2["auth_time"] == id1["auth_time"]
    assert "nonce" not in id2
    assert idp.decode(second["access_token"]).header["typ"] == "at+jwt"
    third = idp.refresh(second["refresh_token"])
    assert third.status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_family(idp: Idp) -> None:
    first = idp.login()["tokens"]
    second = idp.refresh(first["refresh_token"]).json()
    reuse = idp.refresh(first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # The whole family is dead now, the newest token included ...
    after = idp.refresh(second["refresh_token"])
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    # ... and so are the opaque access tokens it produced.
    info = requests.get(idp.url("/userinfo"), headers={"Authorization": f"Bearer {second['access_token']}"}, timeout=5)
    assert info.status_code == 401
    # Another login's family is untouched.
    other = idp.login()["tokens"]
    assert idp.refresh(other["refresh_token"]).status_code == 200


def test_concurrent_refresh_with_one_token_yields_exactly_one_success(idp: Idp) -> None:
    rt = idp.login()["tokens"]["refresh_token"]
    results: list[int] = []
    barrier = threading.Barrier(8)

    def go() -> None:
        barrier.wait()
        results.append(idp.refresh(rt).status_code)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results).count(200) == 1 and len(results) == 8


def test_refresh_cannot_widen_scope_and_keeps_token_on_that_error(idp: Idp) -> None:
    rt = idp.login("openid profile offline_access")["tokens"]["refresh_token"]
    wide = idp.refresh(rt, scope="openid email")
    assert wide.status_code == 400 and wide.json()["error"] == "invalid_scope"
    narrow = idp.refresh(rt, scope="openid")
    assert narrow.status_code == 200 and narrow.json()["scope"] == "openid"


def test_pkce_is_required(idp: Idp) -> None:
    browser = requests.Session()
    for drop in ({"code_challenge": None}, {"code_challenge_method": None}, {"code_challenge_method": "plain"}):
        params = idp.auth_params()
        for k, v in drop.items():
            if v is None:
                params.pop(k)
            else:
                params[k] = v
        resp = idp.authorize(browser, params)
        assert resp.status_code == 302 and resp.headers["Location"].startswith(REDIRECT_URI)
        query = parse_qs(urlsplit(resp.headers["Location"]).query)
        assert query["error"] == ["invalid_request"], drop
        assert query["state"] == [params["state"]] and query["iss"] == [idp.base]


@pytest.mark.parametrize("verifier", [None, "wrong-verifier-" + "x" * 40])
def test_code_needs_the_right_verifier_and_burns_on_failure(idp: Idp, verifier: str | None) -> None:
    params = idp.auth_params()
    back = idp.follow_to_client(requests.Session(), params)
    bad = idp.exchange(back["code"], verifier)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    retry = idp.exchange(back["code"], params["_verifier"])
    assert retry.status_code == 400, "a code is single-use, even after a failed attempt"


def test_code_is_single_use_and_replay_revokes_its_tokens(idp: Idp) -> None:
    params = idp.auth_params()
    back = idp.follow_to_client(requests.Session(), params)
    tokens = idp.exchange(back["code"], params["_verifier"]).json()
    replay = idp.exchange(back["code"], params["_verifier"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert idp.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_code_expires(idp: Idp) -> None:
    params = idp.auth_params()
    back = idp.follow_to_client(requests.Session(), params)
    idp.clock.advance(61)
    resp = idp.exchange(back["code"], params["_verifier"])
    assert resp.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_at_exchange(idp: Idp) -> None:
    params = idp.auth_params()
    back = idp.follow_to_client(requests.Session(), params)
    resp = idp.exchange(back["code"], params["_verifier"], redirect_uri=REDIRECT_URI + "x")
    assert resp.json()["error"] == "invalid_grant"


def test_unregistered_redirect_uri_or_client_gets_an_error_page_not_a_redirect(idp: Idp) -> None:
    browser = requests.Session()
    for override in ({"redirect_uri": "http://localhost:3999/evil"}, {"redirect_uri": REDIRECT_URI + "/"},
                     {"client_id": "someone-else"}):
        resp = idp.authorize(browser, {**idp.auth_params(), **override})
        assert resp.status_code == 400 and "Location" not in resp.headers
        assert "Development identity provider" in resp.text


def test_client_authentication(idp: Idp) -> None:
    params = idp.auth_params()
    back = idp.follow_to_client(requests.Session(), params)
    data = {"grant_type": "authorization_code", "code": back["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": params["_verifier"]}
    wrong = requests.post(idp.url("/oauth/token"), data=data, auth=(CLIENT_ID, "wrong"), timeout=5)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    missing = requests.post(idp.url("/oauth/token"), data={**data, "client_id": CLIENT_ID}, timeout=5)
    assert missing.status_code == 401
    # client_secret_post works (and the code was not burnt by failed client authentication).
    ok = idp.exchange(back["code"], params["_verifier"], auth="post")
    assert ok.status_code == 200, ok.text


def test_unsupported_grant_type(idp: Idp) -> None:
    resp = idp.token_request({"grant_type": "password", "username": "demo", "password": "demo"})
    assert resp.json()["error"] == "unsupported_grant_type"


def test_access_token_expiry_at_userinfo(idp: Idp) -> None:
    tokens = idp.login()["tokens"]
    idp.clock.advance(301)
    resp = requests.get(idp.url("/userinfo"), headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=5)
    assert resp.status_code == 401


def test_configurable_lifetimes(idp_factory) -> None:
    idp = idp_factory(access_token_ttl=60, id_token_ttl=120)
    tokens = idp.login(audience=AUDIENCE)["tokens"]
    assert tokens["expires_in"] == 60
    at, it = idp.decode(tokens["access_token"]).claims, idp.decode(tokens["id_token"]).claims
    assert at["exp"] - at["iat"] == 60 and it["exp"] - it["iat"] == 120


def test_end_session_ends_provider_login_and_redirects(idp: Idp) -> None:
    result = idp.login()
    browser, id_token = result["browser"], result["tokens"]["id_token"]
    resp = browser.get(
        idp.url("/oidc/logout"),
        params={"id_token_hint": id_token, "post_logout_redirect_uri": POST_LOGOUT, "state": "s1"},
        allow_redirects=False,
        timeout=5,
    )
    assert resp.status_code == 302 and resp.headers["Location"] == POST_LOGOUT + "?state=s1"
    again = idp.authorize(browser, idp.auth_params())
    assert "/login?txn=" in again.headers["Location"], "the provider session must be over"


def test_end_session_with_client_id_and_without_redirect(idp: Idp) -> None:
    browser = idp.login()["browser"]
    resp = browser.get(idp.url("/oidc/logout"), params={"client_id": CLIENT_ID, "post_logout_redirect_uri": POST_LOGOUT},
                       allow_redirects=False, timeout=5)
    assert resp.status_code == 302 and resp.headers["Location"] == POST_LOGOUT
    page = browser.get(idp.url("/oidc/logout"), timeout=5)
    assert page.status_code == 200 and "signed out" in page.text


def test_end_session_refuses_unregistered_or_unidentified_redirects(idp: Idp) -> None:
    result = idp.login()
    hint = result["tokens"]["id_token"]
    for params in ({"id_token_hint": hint, "post_logout_redirect_uri": "http://localhost:3999/elsewhere"},
                   {"post_logout_redirect_uri": POST_LOGOUT},
                   {"id_token_hint": "not-a-token", "post_logout_redirect_uri": POST_LOGOUT}):
        resp = result["browser"].get(idp.url("/oidc/logout"), params=params, allow_redirects=False, timeout=5)
        assert resp.status_code == 400 and "Location" not in resp.headers, params
    # still signed in at the provider
    assert idp.authorize(result["browser"], idp.auth_params("openid")).headers["Location"].startswith(REDIRECT_URI)


def test_revocation_endpoint_revokes_the_family(idp: Idp) -> None:
    tokens = idp.login()["tokens"]
    resp = requests.post(idp.url("/oauth/revoke"), data={"token": tokens["refresh_token"]},
                         auth=(CLIENT_ID, idp.client_secret), timeout=5)
    assert resp.status_code == 200
    assert idp.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_keys_are_stable_across_restarts_and_kept_private(idp_factory, tmp_path) -> None:
    first = idp_factory(tmp_path)
    token = first.login()["tokens"]["id_token"]
    jwks1 = requests.get(first.url("/.well-known/jwks.json"), timeout=5).json()
    second = idp_factory(tmp_path)  # a new process would read the same files
    jwks2 = requests.get(second.url("/.well-known/jwks.json"), timeout=5).json()
    assert jwks1 == jwks2
    assert second.decode(token).claims["sub"] == "devidp|demo"
    key_file = tmp_path / "devidp" / "signing-key.json"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "devidp" / "session-secret").st_mode) == 0o600
    other = idp_factory(tmp_path / "elsewhere")
    assert requests.get(other.url("/.well-known/jwks.json"), timeout=5).json() != jwks1


def test_every_page_carries_the_development_banner(idp: Idp) -> None:
    browser = requests.Session()
    pages = [browser.get(idp.url("/"), timeout=5), browser.get(idp.url("/login"), timeout=5),
             browser.get(idp.url("/oidc/logout"), timeout=5),
             idp.authorize(browser, {**idp.auth_params(), "client_id": "nobody"})]
    resp = idp.authorize(browser, idp.auth_params())
    page = browser.get(idp.url(resp.headers["Location"]), timeout=5)
    form = form_fields(page.text)
    form.pop("_action")
    form.update(username="demo", password="demo", action="login")
    consent = browser.post(idp.url("/login"), data=form, timeout=5)
    pages.append(consent)
    assert "Allow" in consent.text and "offline access" in consent.text
    for p in pages:
        assert "Development identity provider" in p.text and "for local development only" in p.text, p.url
        assert p.headers["X-Frame-Options"] == "DENY"
