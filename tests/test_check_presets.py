"""`oidc-login check` lines for the Entra, Keycloak, Cognito and Google presets (issue 13),
against the test provider dressed as each one."""

from __future__ import annotations

import pytest

from app.check import FAIL, OK, WARN
from app.providers import PRESETS
from tests.provider import TestProvider
from tests.provider import presets as P
from tests.test_check import detail, env, hint, run  # noqa: F401  (env is a fixture)

REUSE = {"OPENID_REUSE_TOKENS": "true", "OPENID_SCOPE": "openid profile email offline_access"}


def use(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_entra_multi_tenant_without_allowed_tenants_warns(env, provider: TestProvider, monkeypatch, capsys):
    use(monkeypatch, P.entra(provider, multi="common"))
    code, statuses, data = run(capsys)
    assert code == 0, data
    assert statuses["issuer"] == OK  # discovery's {tenantid} template is what a common issuer expects
    assert statuses["tenants"] == WARN
    assert "OPENID_ALLOWED_TENANTS" in hint(data, "tenants")


def test_entra_multi_tenant_with_allowed_tenants(env, provider: TestProvider, monkeypatch, capsys):
    use(monkeypatch, {**P.entra(provider, multi="organizations"), "OPENID_ALLOWED_TENANTS": P.TENANT})
    code, statuses, data = run(capsys)
    assert code == 0 and statuses["tenants"] == OK
    assert P.TENANT in detail(data, "tenants")


def test_entra_single_tenant_has_no_tenants_line(env, provider: TestProvider, monkeypatch, capsys):
    use(monkeypatch, P.entra(provider))
    code, statuses, _ = run(capsys)
    assert code == 0 and "tenants" not in statuses


def test_allowed_tenants_with_a_single_tenant_issuer_is_a_settings_failure(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.entra(provider), "OPENID_ALLOWED_TENANTS": P.TENANT})
    code, statuses, data = run(capsys)
    assert code == 1 and statuses["settings"] == FAIL
    assert "OPENID_ALLOWED_TENANTS" in detail(data, "settings")


def test_entra_reuse_without_an_api_scope_fails_naming_graph(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.entra(provider), **REUSE})
    code, statuses, data = run(capsys)
    assert code == 1 and statuses["access_token_api"] == FAIL
    assert "Microsoft Graph" in detail(data, "access_token_api")
    assert "Expose an API" in hint(data, "access_token_api")


def test_entra_reuse_with_an_api_scope(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.entra(provider), **REUSE,
                      "OPENID_SCOPE": "openid profile email offline_access api://test-client/chat"})
    _, statuses, _ = run(capsys)
    assert statuses["access_token_api"] == OK


def test_entra_roles_from_groups_warn_about_overage(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.entra(provider), "OPENID_REQUIRED_ROLE": "g1",
                      "OPENID_REQUIRED_ROLE_PARAMETER_PATH": "groups"})
    _, statuses, data = run(capsys)
    assert statuses["roles"] == WARN and "App roles" in hint(data, "roles")


def test_keycloak_roles_in_the_id_token_warn_about_the_mapper(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.keycloak(provider), "OPENID_REQUIRED_ROLE": "chat-user"})
    code, statuses, data = run(capsys)
    assert code == 0 and statuses["roles"] == WARN
    assert "realm_access.roles" in detail(data, "roles") and "Add to ID token" in hint(data, "roles")


def test_keycloak_reuse_names_the_audience_mapper(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.keycloak(provider), **REUSE})
    _, statuses, data = run(capsys)
    assert statuses["keycloak_audience"] == WARN
    assert "Included Client Audience" in hint(data, "keycloak_audience")


def test_keycloak_realm_url_without_realm_is_a_settings_failure(env, provider, monkeypatch, capsys):
    use(monkeypatch, {"OPENID_PROVIDER": "keycloak", "OPENID_ISSUER": provider.base_url})
    code, statuses, data = run(capsys)
    assert code == 1 and "realm" in detail(data, "settings")


def test_google_reuse_is_refused_with_the_reason(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.google(provider), **REUSE})
    code, statuses, data = run(capsys)
    assert code == 1 and statuses["settings"] == FAIL
    assert "opaque" in detail(data, "settings") and "OPENID_REUSE_TOKENS" in detail(data, "settings")


def test_google_with_a_required_role_from_tokens_fails(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.google(provider), "OPENID_REQUIRED_ROLE": "chat"})
    code, statuses, data = run(capsys)
    assert code == 1 and statuses["roles"] == FAIL
    assert hint(data, "roles") == PRESETS["google"].hints["ROLE_REQUIRED"]


def test_google_roles_from_userinfo(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.google(provider), "OPENID_REQUIRED_ROLE": "chat",
                      "OPENID_REQUIRED_ROLE_TOKEN_KIND": "userinfo"})
    code, statuses, data = run(capsys)
    assert code == 0 and statuses["roles"] == OK and statuses["userinfo"] == OK


def test_userinfo_source_without_userinfo_endpoint_fails(env, provider, monkeypatch, capsys):
    provider.config.discovery_overrides = {"userinfo_endpoint": None}
    use(monkeypatch, {"OPENID_ADMIN_ROLE": "admin", "OPENID_ADMIN_ROLE_TOKEN_KIND": "userinfo"})
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["userinfo"] == FAIL


def test_cognito_hosted_ui_logout_line(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.cognito(provider), "OPENID_USE_END_SESSION_ENDPOINT": "true"})
    code, statuses, data = run(capsys)
    assert code == 0 and statuses["logout"] == OK, [(k, v) for k, v in statuses.items() if v != OK]
    assert provider.base_url + "/logout" in detail(data, "logout")
    assert "Allowed sign-out URLs" in detail(data, "logout")


def test_cognito_hosted_ui_domain_as_issuer_is_a_settings_failure(env, monkeypatch, capsys):
    use(monkeypatch, {"OPENID_PROVIDER": "cognito",
                      "OPENID_ISSUER": "https://acme.auth.eu-west-1.amazoncognito.com"})
    code, statuses, data = run(capsys)
    assert code == 1 and "hosted-UI domain" in detail(data, "settings")


def test_cognito_audience_is_unused_and_said_so(env, provider, monkeypatch, capsys):
    use(monkeypatch, {**P.cognito(provider), "OPENID_AUDIENCE": "https://api.example.com"})
    code, statuses, data = run(capsys)
    assert code == 0 and statuses["audience"] == WARN
    assert "client_id" in detail(data, "audience")
