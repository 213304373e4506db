"""/api/user with bearer tokens (the widget case), roles from claims, and /api/models."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import CLIENT_ID
from tests.web.test_auth import error_code

AUDIENCE = "https://api.example.com"


def bearer(live, token: str, path: str = "/api/user"):
    return live.get(live.session(), path, headers={"Authorization": f"Bearer {token}"})


def test_id_token_bearer(make_app, provider):
    live = make_app(OPENID_AUDIENCE=AUDIENCE)
    response = bearer(live, provider.mint_id_token())
    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == "user-123" and body["email"] == "ada@example.com"
    assert body["roles"] == ["admin", "user"] and body["session"] is None
    assert "Set-Cookie" not in response.headers  # a bearer request never creates a session


def test_access_token_bearer(make_app, provider):
    live = make_app(OPENID_AUDIENCE=AUDIENCE)
    response = bearer(live, provider.mint_access_token(aud=[AUDIENCE, provider.issuer + "/userinfo"]))
    assert response.status_code == 200
    assert response.json()["sub"] == "user-123" and response.json()["session"] is None


def test_access_token_for_another_api_is_invalid_audience(make_app, provider):
    live = make_app(OPENID_AUDIENCE=AUDIENCE)
    response = bearer(live, provider.mint_access_token(aud="https://other-api.example.com"))
    assert response.status_code == 401 and error_code(response) == "INVALID_AUDIENCE"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"iss": "https://evil.example"}, "INVALID_ISSUER"),
        ({"exp": int(time.time()) - 3600}, "TOKEN_EXPIRED"),
        ({"nbf": int(time.time()) + 3600}, "TOKEN_NOT_YET_VALID"),
        ({"sub": None}, "MISSING_SUB"),
        ({"azp": "another-client"}, "INVALID_AUDIENCE"),
    ],
)
def test_bearer_claim_failures(make_app, provider, claims, code):
    live = make_app(OPENID_AUDIENCE=AUDIENCE)
    response = bearer(live, provider.mint_id_token(**claims))
    assert response.status_code == 401 and error_code(response) == code
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_bearer_within_clock_tolerance_is_accepted(make_app, provider):
    live = make_app(OPENID_CLOCK_TOLERANCE="120")
    assert bearer(live, provider.mint_id_token(exp=int(time.time()) - 60)).status_code == 200
    assert bearer(live, provider.mint_id_token(nbf=int(time.time()) + 60)).status_code == 200


def test_bearer_with_bad_signature(make_app, provider):
    live = make_app()
    token = provider.mint({"iss": provider.issuer, "sub": "x", "aud": CLIENT_ID, "exp": int(time.time()) + 60,
                           "iat": int(time.time())}, key="wrong")
    response = bearer(live, token)
    assert response.status_code == 401 and error_code(response) == "INVALID_SIGNATURE"


@pytest.mark.parametrize("token", ["opaque-token-abc", "a.b.c.d.e"])
def test_non_jwt_bearer_is_opaque_access_token(make_app, token):
    live = make_app()
    response = bearer(live, token)
    assert response.status_code == 401 and error_code(response) == "OPAQUE_ACCESS_TOKEN"


def test_bearer_when_jwks_is_down_is_503(make_app, provider):
    provider.config.fail = {"jwks": 500}
    live = make_app()
    response = bearer(live, provider.mint_id_token())
    assert response.status_code == 503 and error_code(response) == "JWKS_FETCH_FAILED"


def test_no_credentials_is_401_with_header(make_app):
    live = make_app()
    response = live.get(live.session(), "/api/user")
    assert response.status_code == 401 and error_code(response) == "LOGIN_REQUIRED"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_polling_widget_costs_one_verification(make_app, provider, monkeypatch):
    live = make_app()
    token = provider.mint_id_token()
    import app.oidc.tokens as tokens

    calls = []
    real = tokens.jwt.decode
    monkeypatch.setattr(tokens.jwt, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(5):
        assert bearer(live, token).status_code == 200
    assert len(calls) == 1


# -- roles --------------------------------------------------------------------------------


def test_required_role_refuses_login_without_it(make_app, provider):
    live = make_app(OPENID_REQUIRED_ROLE="superadmin")
    provider.user["roles"] = ["admin"]
    http = live.session()
    response = live.get(http, "/oauth/openid")
    assert response.status_code == 403 and error_code(response) == "ROLE_REQUIRED"
    assert live.get(http, "/api/user").status_code == 401


def test_required_role_matches_exactly(make_app, provider):
    live = make_app(OPENID_REQUIRED_ROLE="admin")
    provider.user["roles"] = ["superadmin", "administrator"]
    assert error_code(live.get(live.session(), "/oauth/openid")) == "ROLE_REQUIRED"


def test_any_one_required_role_is_enough(make_app, provider):
    live = make_app(OPENID_REQUIRED_ROLE="auditor, user")
    http = live.login()
    assert live.get(http, "/api/user").json()["roles"] == ["admin", "user"]


def test_namespaced_url_roles_claim(make_app, provider):
    provider.user["https://example.com/roles"] = "editor viewer"
    live = make_app(OPENID_REQUIRED_ROLE="editor", OPENID_REQUIRED_ROLE_PARAMETER_PATH="https://example.com/roles")
    http = live.login()
    assert live.get(http, "/api/user").json()["roles"] == ["editor", "viewer"]


def test_nested_roles_claim_from_the_access_token(make_app, provider):
    provider.user["realm_access"] = {"roles": ["user", "writer"]}
    live = make_app(
        OPENID_REQUIRED_ROLE="writer",
        OPENID_REQUIRED_ROLE_TOKEN_KIND="access",
        OPENID_REQUIRED_ROLE_PARAMETER_PATH="realm_access.roles",
        OPENID_AUDIENCE=AUDIENCE,
    )
    http = live.login()
    assert live.get(http, "/api/user").json()["roles"] == ["user", "writer"]


def test_roles_in_the_access_token_need_a_jwt(make_app, provider):
    provider.config.access_token_format = "opaque"
    live = make_app(OPENID_REQUIRED_ROLE="admin", OPENID_REQUIRED_ROLE_TOKEN_KIND="access")
    assert error_code(live.get(live.session(), "/oauth/openid")) == "OPAQUE_ACCESS_TOKEN"


def test_bearer_without_required_role_is_403(make_app, provider):
    live = make_app(OPENID_REQUIRED_ROLE="superadmin")
    response = bearer(live, provider.mint_id_token(roles=["admin"]))
    assert response.status_code == 403 and error_code(response) == "ROLE_REQUIRED"


# -- the role policy ----------------------------------------------------------------------


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"roles": {"admin": ["*"], "user": ["gpt-4o-mini", "claude-haiku"],
                                          "researcher": ["o3"]}}))
    return str(path)


def test_models_for_a_user_role(make_app, provider, policy_file):
    provider.user["roles"] = ["user"]
    live = make_app(OPENID_ROLE_POLICY=policy_file)
    http = live.login()
    assert live.get(http, "/api/models").json() == {"models": ["gpt-4o-mini", "claude-haiku"]}


def test_models_for_admin_is_everything(make_app, provider, policy_file):
    live = make_app(OPENID_ROLE_POLICY=policy_file)
    http = live.login()
    assert live.get(http, "/api/models").json() == {"models": ["gpt-4o-mini", "claude-haiku", "o3"]}


def test_models_with_a_bearer_token(make_app, provider, policy_file):
    live = make_app(OPENID_ROLE_POLICY=policy_file)
    response = bearer(live, provider.mint_id_token(roles=["researcher"]), "/api/models")
    assert response.json() == {"models": ["o3"]}


def test_models_needs_a_login(make_app, policy_file):
    live = make_app(OPENID_ROLE_POLICY=policy_file)
    assert live.get(live.session(), "/api/models").status_code == 401
