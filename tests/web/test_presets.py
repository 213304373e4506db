"""Issue 13: each preset logs in end to end against the test provider dressed as that provider
(tests/provider/presets.py), or fails with the documented code and hint."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.conftest import REUSE
from tests.provider import presets as P
from tests.web.test_auth import assert_no_session, error_code, failed_login

REUSE_NO_AUDIENCE = {**REUSE, "OPENID_AUDIENCE": None}


def user(live, http) -> dict:
    response = live.get(http, "/api/user")
    assert response.status_code == 200, response.text
    return response.json()


def error_body(response) -> dict:
    return response.json()["error"] if response.headers.get("Content-Type", "").startswith(
        "application/json") else {"code": error_code(response), "hint": response.text}


# -- Entra ID ------------------------------------------------------------------------------------


def test_entra_single_tenant_login(make_app, provider):
    live = make_app(**P.entra(provider))
    me = user(live, live.login())
    assert me["sub"] == "user-123"
    assert me["email"] == "ada@contoso.example"  # no email claim: the address-shaped preferred_username


def test_entra_multi_tenant_issuer_is_filled_with_the_tokens_tid(make_app, provider):
    env = P.entra(provider, multi="common")
    assert env["OPENID_ISSUER"].endswith("/common/v2.0")
    live = make_app(**env, **REUSE_NO_AUDIENCE)
    http = live.login()
    assert user(live, http)["iss"] == f"{provider.base_url}/{P.TENANT}/v2.0"
    assert live.post(http, "/api/auth/refresh", headers={"Origin": live.url}).status_code == 200


def test_entra_multi_tenant_token_iss_of_another_tenant_is_refused(make_app, provider):
    live = make_app(**P.entra(provider, multi="organizations"))
    provider.config.id_token_claims["iss"] = f"{provider.base_url}/{P.OTHER_TENANT}/v2.0"
    response = failed_login(live, "INVALID_ISSUER")
    assert "App registrations" in response.text


def test_entra_allowed_tenants_limit_who_signs_in(make_app, provider):
    env = P.entra(provider, multi="common")
    allowed = make_app(**env, OPENID_ALLOWED_TENANTS=f"{P.OTHER_TENANT}, {P.TENANT}")
    user(allowed, allowed.login())
    refused = make_app(**env, OPENID_ALLOWED_TENANTS=P.OTHER_TENANT)
    response = failed_login(refused, "INVALID_ISSUER")
    assert "OPENID_ALLOWED_TENANTS" in response.text and P.TENANT in response.text


def test_entra_graph_access_token_with_reuse_is_explained_not_a_bad_signature(make_app, provider):
    env = P.entra(provider)
    P.entra_graph_access_tokens(provider)
    live = make_app(**env, **REUSE_NO_AUDIENCE)
    response = live.get(live.session(), "/oauth/openid", headers={"Accept": "application/json"})
    assert 400 <= response.status_code < 500
    body = response.json()["error"]
    assert body["code"] == "INVALID_AUDIENCE"
    assert "Microsoft Graph" in body["hint"] and "Expose an API" in body["hint"]
    assert "OPENID_SCOPE" in body["hint"]


def test_entra_group_overage_names_app_roles_as_the_fix(make_app, provider):
    env = P.entra(provider)
    P.entra_group_overage(provider)
    live = make_app(**env, OPENID_REQUIRED_ROLE="6b3a0c3e-chat-users",
                    OPENID_REQUIRED_ROLE_PARAMETER_PATH="groups")
    response = failed_login(live, "ROLE_REQUIRED", 403)
    assert "too many groups" in response.text and "App roles" in response.text


def test_entra_groups_without_overage_get_the_ordinary_hint(make_app, provider):
    env = P.entra(provider)
    provider.user["groups"] = ["other-group"]
    live = make_app(**env, OPENID_REQUIRED_ROLE="6b3a0c3e-chat-users",
                    OPENID_REQUIRED_ROLE_PARAMETER_PATH="groups")
    response = failed_login(live, "ROLE_REQUIRED", 403)
    assert "group overage" not in response.text and "App roles" in response.text


# -- Keycloak -------------------------------------------------------------------------------


def test_keycloak_realm_roles_from_the_access_token(make_app, provider):
    # reading the access token means verifying it, so its aud needs the audience mapper
    live = make_app(**P.keycloak(provider, audience_mapper=True), OPENID_REQUIRED_ROLE="chat-user",
                    OPENID_REQUIRED_ROLE_TOKEN_KIND="access")
    me = user(live, live.login())
    assert "chat-user" in me["roles"]
    assert me["username"] == "ada"


def test_keycloak_roles_missing_from_the_id_token_hint_names_the_mapper(make_app, provider):
    live = make_app(**P.keycloak(provider), OPENID_REQUIRED_ROLE="chat-user")
    response = failed_login(live, "ROLE_REQUIRED", 403)
    assert "realm_access.roles" in response.text and "Add to ID token" in response.text


def test_keycloak_access_token_without_audience_mapper(make_app, provider):
    live = make_app(**P.keycloak(provider), **REUSE_NO_AUDIENCE)
    response = failed_login(live, "INVALID_AUDIENCE")
    assert "audience mapper" in response.text and "Included Client Audience" in response.text


def test_keycloak_reuse_works_with_the_audience_mapper(make_app, provider):
    live = make_app(**P.keycloak(provider, audience_mapper=True), **REUSE_NO_AUDIENCE)
    http = live.login()
    assert user(live, http)["session"]["access_token_format"] == "jwt"
    assert live.post(http, "/api/auth/refresh", headers={"Origin": live.url}).status_code == 200


# -- Cognito ----------------------------------------------------------------------------------


def test_cognito_reuse_accepts_client_id_instead_of_aud_and_refreshes(make_app, provider):
    env = P.cognito(provider)
    live = make_app(**env, **REUSE_NO_AUDIENCE, OPENID_REQUIRED_ROLE="chat-users")
    http = live.login()
    me = user(live, http)
    assert me["roles"] == ["chat-users"]  # cognito:groups by default
    assert me["session"]["has_refresh_token"] is True
    scope = provider.authorize_requests[-1]["scope"].split()
    assert "offline_access" not in scope  # Cognito rejects it; it issues refresh tokens anyway
    assert live.post(http, "/api/auth/refresh", headers={"Origin": live.url}).status_code == 200
    assert provider.grants["refresh_token"] == 1
    assert user(live, http)["sub"] == "user-123"


def test_cognito_access_token_for_another_client_is_refused(make_app, provider):
    env = P.cognito(provider)
    provider.config.access_token_claims["client_id"] = "another-app-client"
    live = make_app(**env, **REUSE_NO_AUDIENCE)
    response = failed_login(live, "INVALID_AUDIENCE")
    assert "client_id" in response.text


def test_cognito_token_use_is_checked(make_app, provider):
    env = P.cognito(provider)
    provider.config.id_token_claims["token_use"] = "access"
    live = make_app(**env)
    response = failed_login(live, "INVALID_AUDIENCE")
    assert "token_use" in response.text


def test_cognito_client_id_is_not_accepted_for_other_presets(make_app, provider):
    P.cognito(provider)
    provider.config.rejected_scopes = []
    live = make_app(OPENID_ISSUER=provider.issuer, **REUSE_NO_AUDIENCE)  # custom preset
    failed_login(live, "INVALID_AUDIENCE")


def test_cognito_logout_goes_to_the_hosted_ui(make_app, provider):
    live = make_app(**P.cognito(provider), OPENID_USE_END_SESSION_ENDPOINT="true")
    http = live.login()
    response = live.post(http, "/api/auth/logout", json={}, headers={"Origin": live.url})
    assert response.status_code == 200
    target = urlsplit(response.json()["redirect"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == provider.base_url + "/logout"
    query = parse_qs(target.query)
    assert query == {"client_id": ["test-client"], "logout_uri": [live.url + "/login"]}
    assert_no_session(live, http)


# -- Google -------------------------------------------------------------------------------------


def test_google_logs_in_with_opaque_access_tokens(make_app, provider):
    live = make_app(**P.google(provider))
    me = user(live, live.login())
    assert me["email"] == "ada@example.com"
    assert me["session"]["reuse_tokens"] is False


def test_google_asks_for_offline_access_its_own_way(make_app, provider):
    live = make_app(**P.google(provider), OPENID_SCOPE="openid email profile offline_access")
    user(live, live.login())
    sent = provider.authorize_requests[-1]
    assert "offline_access" not in sent["scope"].split()
    assert sent["access_type"] == "offline" and sent["prompt"] == "consent"
    assert provider.state.families  # Google issued a refresh token


def test_google_without_offline_access_sends_no_offline_parameters(make_app, provider):
    live = make_app(**P.google(provider))
    user(live, live.login())
    sent = provider.authorize_requests[-1]
    assert "access_type" not in sent and "prompt" not in sent
