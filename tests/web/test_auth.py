"""The login flow through real HTTP: start, callback (every failure), session, logout."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import CLIENT_ID, REUSE


def error_code(response) -> str:
    """The contract's error code from a JSON body, or from an HTML error page."""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.json()["error"]["code"]
    import re

    match = re.search(r"<code>([A-Z_]+)</code>", response.text)
    assert match, response.text[:800]
    return match.group(1)


def assert_no_session(live, http) -> None:
    response = live.get(http, "/api/user")
    assert response.status_code == 401
    assert error_code(response) == "LOGIN_REQUIRED"


def failed_login(live, code: str, status: int | None = None):
    """A whole login that must end on `code` (with `status`), leaving no session behind."""
    http = live.session()
    response = live.get(http, "/oauth/openid")
    if status is not None:
        assert response.status_code == status, response.status_code
    assert error_code(response) == code
    assert_no_session(live, http)
    return response


# -- starting a login ----------------------------------------------------------------------


def test_start_redirects_with_pkce_state_nonce_scope_and_audience(make_app, provider):
    live = make_app(OPENID_SCOPE="openid profile email offline_access", OPENID_AUDIENCE="https://api.example.com")
    response = live.get(live.session(), "/oauth/openid", allow_redirects=False)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == provider.url("/authorize")
    q = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert q["response_type"] == "code"
    assert q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == live.url + "/oauth/openid/callback"
    assert q["scope"].split() == ["openid", "profile", "email", "offline_access"]
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) >= 43
    assert len(q["state"]) >= 20 and len(q["nonce"]) >= 20
    assert q["audience"] == "https://api.example.com"


def test_no_audience_param_when_unset(make_app):
    live = make_app()
    response = live.get(live.session(), "/oauth/openid", allow_redirects=False)
    assert "audience=" not in response.headers["Location"]


def test_happy_path_lands_signed_in_with_profile(make_app, provider):
    live = make_app()
    http = live.login()
    me = live.get(http, "/api/user").json()
    assert me["sub"] == "user-123"
    assert me["email"] == "ada@example.com" and me["name"] == "Ada Lovelace"
    assert me["iss"] == provider.issuer
    assert me["roles"] == ["admin", "user"]
    assert me["session"]["reuse_tokens"] is False
    home = live.get(http, "/")
    assert home.status_code == 200 and "Ada Lovelace" in home.text
    # PKCE: the verifier sent to the token endpoint matched the challenge (the provider checks it).
    assert provider.grants["authorization_code"] == 1
    assert provider.token_requests[-1]["code_verifier"]


def test_return_to_is_honoured(make_app):
    live = make_app()
    http = live.session()
    response = live.get(http, "/oauth/openid", params={"return_to": "/api/user?x=1"})
    assert response.url == live.url + "/api/user?x=1"
    assert response.json()["sub"] == "user-123"


@pytest.mark.parametrize(
    "payload",
    [
        "//evil.example", "/\\evil.example", "https://evil.example/", "http:evil.example",
        "/%2F%2Fevil.example", "/%252F%252Fevil.example", "%2F%2Fevil.example", "/%5Cevil.example",
        "javascript:alert(1)", "\\\\evil.example", "/\t/evil.example", " //evil.example", "evil.example",
    ],
)
def test_open_redirect_payloads_fall_back_to_root(make_app, payload):
    live = make_app()
    http = live.session()
    response = live.get(http, "/oauth/openid", params={"return_to": payload}, allow_redirects=False)
    at_provider = http.get(response.headers["Location"], allow_redirects=False)
    back = http.get(at_provider.headers["Location"], allow_redirects=False)
    assert back.status_code == 302
    assert back.headers["Location"] == live.url + "/"


def test_session_fixation_a_planted_cookie_is_replaced_at_login(make_app):
    """A cookie planted before the login (by a sibling host, or an attacker's own session)
    is never the one the login is bound to."""
    live = make_app()
    attacker = live.login()
    planted = live.cookie(attacker)
    http = live.session()
    http.cookies.set(live.services.settings.cookie_name, planted, domain="127.0.0.1", path="/")
    params = live.start_login(http)
    live.get(http, "/oauth/openid/callback", params=params, allow_redirects=False)
    after = live.cookie(http)
    assert after and after != planted
    # The planted session was ended by the new login in that browser, not taken over.
    victim_view = live.get(http, "/api/user").json()
    assert victim_view["sub"]
    assert_no_session(live, attacker)


def test_starting_a_login_sets_only_the_sealed_pending_cookie(make_app):
    live = make_app()
    http = live.session()
    response = live.get(http, "/oauth/openid", allow_redirects=False)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("oidc_login_pending=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Max-Age=600" in cookie
    assert live.cookie(http) is None  # no session before the login ends


def test_session_cookie_flags_on_http_loopback(make_app):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    response = live.get(http, "/oauth/openid/callback", params=params, allow_redirects=False)
    cookies = response.raw.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("oidc_login="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Secure" not in session_cookie
    assert any(c.startswith("oidc_login_pending=;") for c in cookies)  # the used login is gone


def test_cookies_are_secure_and_host_prefixed_when_domain_server_is_https(make_app):
    live = make_app(DOMAIN_SERVER="https://chat.example.com", DOMAIN_CLIENT="https://chat.example.com")
    assert live.services.settings.cookie_name == "__Host-oidc_login"
    response = live.get(live.session(), "/oauth/openid", allow_redirects=False)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-oidc_login_pending=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    assert "redirect_uri=https%3A%2F%2Fchat.example.com%2Foauth%2Fopenid%2Fcallback" in response.headers["Location"]
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_an_admin_chosen_cookie_name_is_kept_over_https(make_app):
    live = make_app(DOMAIN_SERVER="https://chat.example.com", DOMAIN_CLIENT="https://chat.example.com",
                    SESSION_COOKIE_NAME="chat_session")
    assert live.services.settings.cookie_name == "chat_session"


def test_no_hsts_over_plain_http(make_app):
    live = make_app()
    assert "Strict-Transport-Security" not in live.get(live.session(), "/login").headers


# -- the callback's failure paths ------------------------------------------------------------


def test_missing_state_is_invalid_state(make_app, provider):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    params.pop("state")
    response = live.get(http, "/oauth/openid/callback", params=params)
    assert response.status_code == 400 and error_code(response) == "INVALID_STATE"
    assert provider.grants["authorization_code"] == 0  # the code was never redeemed
    assert_no_session(live, http)


def test_unknown_state_is_invalid_state(make_app, provider):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    params["state"] = "forged"
    response = live.get(http, "/oauth/openid/callback", params=params)
    assert error_code(response) == "INVALID_STATE"
    assert provider.grants["authorization_code"] == 0


def test_state_from_another_browser_is_invalid_state(make_app, provider):
    live = make_app()
    params = live.start_login(live.session())
    victim = live.session()
    response = live.get(victim, "/oauth/openid/callback", params=params)
    assert error_code(response) == "INVALID_STATE"
    assert_no_session(live, victim)


def test_replayed_callback_fails(make_app, provider):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    first = live.get(http, "/oauth/openid/callback", params=params, allow_redirects=False)
    assert first.status_code == 302
    again = live.get(http, "/oauth/openid/callback", params=params)
    assert again.status_code == 400 and error_code(again) == "INVALID_STATE"
    assert provider.grants["authorization_code"] == 1


def test_replayed_callback_after_failed_exchange_fails(make_app, provider):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    provider.config.token_error = "invalid_grant"
    first = live.get(http, "/oauth/openid/callback", params=params)
    assert first.status_code == 400 and error_code(first) == "TOKEN_EXCHANGE_FAILED"
    provider.config.token_error = None
    again = live.get(http, "/oauth/openid/callback", params=params)
    assert error_code(again) == "INVALID_STATE"
    assert_no_session(live, http)


def test_iss_parameter_mismatch_is_invalid_issuer(make_app, provider):
    provider.config.iss_param_value = "https://evil.example"
    live = make_app()
    http = live.session()
    response = live.get(http, "/oauth/openid")
    assert 400 <= response.status_code < 500 and error_code(response) == "INVALID_ISSUER"
    assert provider.grants["authorization_code"] == 0
    assert_no_session(live, http)


def test_missing_iss_parameter_when_advertised_is_invalid_issuer(make_app, provider):
    provider.config.iss_param = False
    live = make_app()
    failed_login(live, "INVALID_ISSUER")


def test_missing_iss_parameter_is_fine_when_not_advertised(make_app, provider):
    provider.config.iss_param = False
    provider.config.advertise_iss_param = False
    live = make_app()
    http = live.login()
    assert live.get(http, "/api/user").status_code == 200


def test_provider_error_is_shown_escaped(make_app, provider):
    provider.config.authorize_error = ("access_denied", "<script>alert(1)</script> said no")
    live = make_app()
    http = live.session()
    response = live.get(http, "/oauth/openid")
    assert response.status_code == 400 and error_code(response) == "PROVIDER_ERROR"
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; said no" in response.text
    assert_no_session(live, http)


def test_invalid_grant_is_token_exchange_failed_400(make_app, provider):
    provider.config.token_error = "invalid_grant"
    live = make_app()
    failed_login(live, "TOKEN_EXCHANGE_FAILED", 400)


def test_wrong_client_secret_is_token_exchange_failed(make_app):
    live = make_app(OPENID_CLIENT_SECRET="wrong-secret")
    http = live.session()
    response = live.get(http, "/oauth/openid")
    assert response.status_code == 400 and error_code(response) == "TOKEN_EXCHANGE_FAILED"
    assert "wrong-secret" not in response.text


def test_token_endpoint_5xx_is_502(make_app, provider):
    provider.config.fail = {"token": 503}
    live = make_app()
    failed_login(live, "TOKEN_EXCHANGE_FAILED", 502)


def test_token_endpoint_unreachable_is_502(make_app, provider):
    live = make_app()
    http = live.session()
    params = live.start_login(http)
    provider.config.down = True
    response = live.get(http, "/oauth/openid/callback", params=params)
    assert response.status_code == 502 and error_code(response) == "TOKEN_EXCHANGE_FAILED"
    provider.config.down = False
    assert_no_session(live, http)


def test_discovery_down_at_start_is_502_then_recovers(make_app, provider):
    provider.config.down = True
    live = make_app()  # the server starts while the provider is down
    http = live.session()
    response = live.get(http, "/oauth/openid")
    assert response.status_code == 502 and error_code(response) == "DISCOVERY_FAILED"
    provider.config.down = False
    live.login(http)
    assert live.get(http, "/api/user").status_code == 200


def test_jwks_failure_on_cold_cache_is_503(make_app, provider):
    provider.config.fail = {"jwks": 500}
    live = make_app()
    failed_login(live, "JWKS_FETCH_FAILED", 503)


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "https://other.example"}, "INVALID_ISSUER"),
        ({"aud": "someone-else"}, "INVALID_AUDIENCE"),
        ({"aud": [CLIENT_ID, "other"], "azp": None}, "INVALID_AUDIENCE"),
        ({"azp": "another-client"}, "INVALID_AUDIENCE"),
        ({"exp": 1_000_000}, "TOKEN_EXPIRED"),
        ({"iat": 4_000_000_000}, "TOKEN_NOT_YET_VALID"),
        ({"nbf": 4_000_000_000}, "TOKEN_NOT_YET_VALID"),
        ({"sub": None}, "MISSING_SUB"),
        ({"at_hash": "AAAAAAAAAAAAAAAAAAAAAA"}, "INVALID_SIGNATURE"),
    ],
)
def test_id_token_claim_failures(make_app, provider, claims, code):
    provider.config.id_token_claims = claims
    live = make_app()
    http = live.session()
    response = live.get(http, "/oauth/openid")
    assert 400 <= response.status_code < 500, response.status_code
    assert error_code(response) == code
    assert_no_session(live, http)


def test_nonce_mismatch_is_invalid_nonce(make_app, provider):
    provider.config.nonce_override = "not-the-nonce"
    live = make_app()
    failed_login(live, "INVALID_NONCE")


def test_bad_signature_is_invalid_signature(make_app, provider):
    provider.config.sign_with = "wrong"
    live = make_app()
    response = live.get(live.session(), "/oauth/openid")
    assert error_code(response) == "INVALID_SIGNATURE"


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_none_and_hmac_key_confusion_are_refused(make_app, provider, alg):
    provider.config.id_token_alg = alg
    live = make_app()
    failed_login(live, "UNSUPPORTED_ALGORITHM")


def test_unadvertised_algorithm_is_refused(make_app, provider):
    provider.config.id_token_alg = "ES256"
    provider.config.discovery_overrides = {"id_token_signing_alg_values_supported": ["RS256"]}
    live = make_app()
    response = live.get(live.session(), "/oauth/openid")
    assert error_code(response) == "UNSUPPORTED_ALGORITHM"


@pytest.mark.parametrize("alg", ["ES256", "PS256", "EdDSA"])
def test_other_asymmetric_algorithms_work_when_advertised(make_app, provider, alg):
    provider.config.id_token_alg = alg
    live = make_app()
    http = live.login()
    assert live.get(http, "/api/user").json()["sub"] == "user-123"


def test_public_client_uses_pkce_without_secret(make_app, provider):
    live = make_app(OPENID_CLIENT_SECRET=None)
    provider.config.require_client_auth = False
    http = live.login()
    assert live.get(http, "/api/user").status_code == 200
    assert provider.token_requests[-1]["auth"] == "none"
    assert provider.token_requests[-1]["code_verifier"]


def test_failed_relogin_keeps_the_existing_session(make_app, provider):
    live = make_app()
    http = live.login()
    provider.config.id_token_claims = {"aud": "someone-else"}
    response = live.get(http, "/oauth/openid")
    assert error_code(response) == "INVALID_AUDIENCE"
    assert live.get(http, "/api/user").status_code == 200  # nothing the user had is lost


# -- pages --------------------------------------------------------------------------------


def test_home_without_session_redirects_to_login(make_app):
    live = make_app()
    response = live.get(live.session(), "/", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?return_to=%2F"


def test_login_page_shows_label_and_image(make_app):
    live = make_app(OPENID_BUTTON_LABEL="Continue with Acme", OPENID_IMAGE_URL="https://cdn.example.com/acme.svg")
    page = live.get(live.session(), "/login")
    assert page.status_code == 200
    assert "Continue with Acme" in page.text and "https://cdn.example.com/acme.svg" in page.text


def test_login_page_names_an_error_code(make_app):
    live = make_app()
    page = live.get(live.session(), "/login", params={"error": "REFRESH_FAILED"})
    assert "<code>REFRESH_FAILED</code>" in page.text
    crafted = live.get(live.session(), "/login", params={"error": "<b>pwned</b>"})
    assert "<b>pwned</b>" not in crafted.text and "<code>INVALID_REQUEST</code>" in crafted.text


def test_auto_redirect_skips_the_login_page_but_not_on_error(make_app, provider):
    live = make_app(OPENID_AUTO_REDIRECT="true")
    response = live.get(live.session(), "/login", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].startswith("/oauth/openid")
    page = live.get(live.session(), "/login", params={"error": "REFRESH_FAILED"}, allow_redirects=False)
    assert page.status_code == 200  # no loop back to the provider


def test_json_clients_get_json_errors(make_app, provider):
    provider.config.id_token_claims = {"iss": "https://other.example"}
    live = make_app()
    response = live.get(live.session(), "/oauth/openid", headers={"Accept": "application/json"})
    body = response.json()
    assert set(body["error"]) == {"code", "message", "hint"} and body["error"]["code"] == "INVALID_ISSUER"


def test_healthz(make_app, provider):
    provider.config.down = True
    live = make_app()
    assert live.get(live.session(), "/healthz").status_code == 200


def test_unknown_route_is_a_clean_404(make_app):
    live = make_app()
    response = live.get(live.session(), "/nope", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "INVALID_REQUEST"


# -- logout -------------------------------------------------------------------------------


def test_json_logout_ends_the_session_server_side(make_app):
    live = make_app()
    http = live.login()
    old_cookie = live.cookie(http)
    response = live.post(http, "/api/auth/logout", json={}, headers={"Origin": live.url})
    assert response.status_code == 200 and response.json() == {"redirect": "/login"}
    assert_no_session(live, http)
    import requests

    replay = requests.Session()
    replay.cookies.set(live.services.settings.cookie_name, old_cookie)
    assert_no_session(live, replay)  # the old cookie is dead


def test_form_logout_from_home_page_gets_303(make_app):
    live = make_app()
    http = live.login()
    import re

    home = live.get(http, "/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    response = live.post(http, "/api/auth/logout", data={"csrf_token": token}, allow_redirects=False,
                         headers={"Origin": live.url})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert_no_session(live, http)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {},  # a plain form post with neither Origin nor token
    ],
)
def test_cross_site_logout_is_refused_and_session_survives(make_app, headers):
    live = make_app()
    http = live.login()
    response = live.post(http, "/api/auth/logout", data={"x": "1"}, headers=headers, allow_redirects=False)
    assert response.status_code == 403
    assert live.get(http, "/api/user").status_code == 200


def test_form_logout_with_wrong_csrf_token_is_refused(make_app):
    live = make_app()
    http = live.login()
    response = live.post(http, "/api/auth/logout", data={"csrf_token": "forged"}, allow_redirects=False)
    assert response.status_code == 403
    assert live.get(http, "/api/user").status_code == 200


def test_logout_with_end_session_endpoint(make_app, provider):
    live = make_app(OPENID_USE_END_SESSION_ENDPOINT="true",
                    OPENID_POST_LOGOUT_REDIRECT_URI="http://127.0.0.1:1/login")
    http = live.login()
    response = live.post(http, "/api/auth/logout", json={}, headers={"Origin": live.url})
    target = urlsplit(response.json()["redirect"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == provider.url("/logout")
    q = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert q["client_id"] == CLIENT_ID
    assert q["post_logout_redirect_uri"] == "http://127.0.0.1:1/login"
    assert q["id_token_hint"].count(".") == 2
    assert_no_session(live, http)


def test_reuse_login_without_session_cookie_reuse_between_browsers(make_app):
    live = make_app(**REUSE)
    a, b = live.login(), live.login()
    assert live.cookie(a) != live.cookie(b)
    live.post(a, "/api/auth/logout", json={}, headers={"Origin": live.url})
    assert live.get(b, "/api/user").status_code == 200
