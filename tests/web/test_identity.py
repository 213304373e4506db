"""Issue 13: LibreChat's claim settings, the admin role (re-evaluated at every refresh) and the
userinfo endpoint as a role source (called at login and each refresh, never otherwise)."""

from __future__ import annotations

import pytest

from tests.conftest import REUSE
from tests.provider import presets as P
from tests.web.test_auth import error_code, failed_login

ORIGIN = "Origin"


def me(live, http) -> dict:
    response = live.get(http, "/api/user")
    assert response.status_code == 200, response.text
    return response.json()


def refresh(live, http):
    return live.post(http, "/api/auth/refresh", headers={ORIGIN: live.url})


# -- claims -----------------------------------------------------------------------------------


def test_default_claims_and_admin_false(make_app, provider):
    provider.user["preferred_username"] = "ada"
    live = make_app()
    body = me(live, live.login())
    assert (body["username"], body["name"], body["email"]) == ("ada", "Ada Lovelace", "ada@example.com")
    assert body["admin"] is False


def test_configured_claim_names(make_app, provider):
    provider.user.update({"nickname": "countess", "given_name": "Ada", "mail": "ada@work.example"})
    live = make_app(OPENID_USERNAME_CLAIM="nickname", OPENID_NAME_CLAIM="given_name",
                    OPENID_EMAIL_CLAIM="mail")
    body = me(live, live.login())
    assert (body["username"], body["name"], body["email"]) == ("countess", "Ada", "ada@work.example")


@pytest.mark.parametrize(("claims", "expected"), [
    ({"email": None, "preferred_username": "ada@contoso.example"}, "ada@contoso.example"),
    ({"email": None, "preferred_username": "ada", "upn": "ada@corp.example"}, "ada@corp.example"),
    ({"email": "not-an-address", "preferred_username": "ada@contoso.example"}, "ada@contoso.example"),
    ({"email": None, "preferred_username": "ada"}, None),
])
def test_email_falls_back_to_an_address_shaped_login_name(make_app, provider, claims, expected):
    provider.config.id_token_claims = claims
    live = make_app()
    assert me(live, live.login())["email"] == expected


def test_bearer_id_token_gets_the_same_claim_mapping_and_admin(make_app, provider):
    live = make_app(OPENID_USERNAME_CLAIM="nickname", OPENID_ADMIN_ROLE="admin")
    token = provider.mint_id_token(nickname="countess")
    response = live.get(live.session(), "/api/user", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "countess" and body["admin"] is True and body["session"] is None


# -- the admin role -----------------------------------------------------------------------------


def test_admin_role_from_the_id_token(make_app, provider):
    live = make_app(OPENID_ADMIN_ROLE="admin")
    assert me(live, live.login())["admin"] is True
    provider.user["roles"] = ["user"]
    other = make_app(OPENID_ADMIN_ROLE="admin")
    assert me(other, other.login())["admin"] is False


def test_admin_role_from_its_own_path_and_token(make_app, provider):
    provider.user["app"] = {"admins": ["chat-admin"]}
    live = make_app(**REUSE, OPENID_ADMIN_ROLE="chat-admin", OPENID_ADMIN_ROLE_TOKEN_KIND="access",
                    OPENID_ADMIN_ROLE_PARAMETER_PATH="app.admins")
    assert me(live, live.login())["admin"] is True


def test_admin_lost_at_the_provider_is_removed_at_the_next_refresh_without_signing_out(make_app, provider):
    live = make_app(**REUSE, OPENID_ADMIN_ROLE="admin")
    http = live.login()
    assert me(live, http)["admin"] is True
    provider.user["roles"] = ["user"]
    assert me(live, http)["admin"] is True  # no refresh yet: nothing re-read
    assert refresh(live, http).status_code == 200
    body = me(live, http)
    assert body["admin"] is False and body["roles"] == ["user"]
    provider.user["roles"] = ["admin", "user"]
    assert refresh(live, http).status_code == 200
    assert me(live, http)["admin"] is True  # and granted again the same way


def test_lost_required_role_at_refresh_ends_the_session(make_app, provider):
    live = make_app(**REUSE, OPENID_REQUIRED_ROLE="user")
    http = live.login()
    provider.user["roles"] = ["guest"]
    response = refresh(live, http)
    assert response.status_code == 403 and error_code(response) == "ROLE_REQUIRED"
    assert live.get(http, "/api/user").status_code == 401


# -- userinfo as a role source ------------------------------------------------------------------


def test_userinfo_roles_called_once_per_login_and_refresh_never_otherwise(make_app, provider):
    P.roles_only_in_userinfo(provider, ["chat", "admin"])
    live = make_app(**REUSE, OPENID_REQUIRED_ROLE="chat", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo",
                    OPENID_ADMIN_ROLE="admin", OPENID_ADMIN_ROLE_TOKEN_KIND="userinfo")
    http = live.login()
    assert provider.calls["userinfo"] == 1
    for _ in range(5):
        body = me(live, http)
    assert body["roles"] == ["chat", "admin"] and body["admin"] is True
    assert live.get(http, "/").status_code == 200
    assert provider.calls["userinfo"] == 1  # ordinary requests never call it
    provider.config.userinfo_claims = {"roles": ["chat"]}
    assert refresh(live, http).status_code == 200
    assert provider.calls["userinfo"] == 2
    body = me(live, http)
    assert body["admin"] is False and body["roles"] == ["chat"]
    assert provider.calls["userinfo"] == 2
    # it was called with the refreshed access token, as a bearer
    assert provider.userinfo_requests[-1]["authorization"].startswith("Bearer ")


def test_userinfo_without_the_required_role_refuses_the_login(make_app, provider):
    P.roles_only_in_userinfo(provider, ["guest"])
    live = make_app(OPENID_REQUIRED_ROLE="chat", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo")
    failed_login(live, "ROLE_REQUIRED", 403)
    assert provider.calls["userinfo"] == 1


def test_userinfo_roles_work_with_opaque_access_tokens(make_app, provider):
    env = P.google(provider)
    P.roles_only_in_userinfo(provider, ["chat"])
    live = make_app(**env, OPENID_REQUIRED_ROLE="chat", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo")
    assert me(live, live.login())["roles"] == ["chat"]


def test_userinfo_about_another_user_refuses_the_login(make_app, provider):
    P.roles_only_in_userinfo(provider, ["chat"])
    provider.config.userinfo_claims["sub"] = "someone-else"
    live = make_app(OPENID_REQUIRED_ROLE="chat", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo")
    response = failed_login(live, "PROVIDER_ERROR")
    assert "another user" in response.text


def test_userinfo_about_another_user_at_refresh_ends_the_session(make_app, provider):
    P.roles_only_in_userinfo(provider, ["chat"])
    live = make_app(**REUSE, OPENID_REQUIRED_ROLE="chat", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo")
    http = live.login()
    provider.config.userinfo_claims["sub"] = "someone-else"
    response = refresh(live, http)
    assert response.status_code == 401 and error_code(response) == "REFRESH_FAILED"
    assert live.get(http, "/api/user").status_code == 401


def test_userinfo_down_at_login_is_a_502(make_app, provider):
    P.roles_only_in_userinfo(provider, ["chat"])
    provider.config.fail["userinfo"] = 503
    live = make_app(OPENID_REQUIRED_ROLE="chat", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo")
    failed_login(live, "TOKEN_EXCHANGE_FAILED", 502)


def test_userinfo_down_at_refresh_keeps_the_session_and_its_roles(make_app, provider):
    P.roles_only_in_userinfo(provider, ["chat"])
    live = make_app(**REUSE, OPENID_REQUIRED_ROLE="chat", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo")
    http = live.login()
    provider.config.fail["userinfo"] = 503
    assert refresh(live, http).status_code == 200
    assert me(live, http)["roles"] == ["chat"]


def test_bearer_requests_never_call_userinfo(make_app, provider):
    P.roles_only_in_userinfo(provider, ["chat"])
    live = make_app(OPENID_ADMIN_ROLE="chat", OPENID_ADMIN_ROLE_TOKEN_KIND="userinfo")
    token = provider.mint_id_token()
    response = live.get(live.session(), "/api/user", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["admin"] is False
    assert provider.calls["userinfo"] == 0
