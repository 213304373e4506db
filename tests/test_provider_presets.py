"""Issue 13's presets as settings: what admins paste becomes the issuer, known wrong pastes
are named, role paths, scopes and authorization parameters per preset."""

from __future__ import annotations

import pytest

from app.providers import PRESETS, hosted_logout_url, multi_tenant_issuer, normalise_issuer
from app.settings import SettingsError, load_settings

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ENTRA = f"https://login.microsoftonline.com/{TID}/v2.0"
COGNITO = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"


def settings(**env: str):
    return load_settings({"OPENID_CLIENT_ID": "client-1", "OPENID_SESSION_SECRET": "s" * 40, **env},
                         use_dotenv=False)


def problems(**env: str) -> list[str]:
    with pytest.raises(SettingsError) as info:
        settings(**env)
    return info.value.problems


@pytest.mark.parametrize(("provider", "raw", "expected"), [
    ("entra", TID, ENTRA),
    ("entra", f" {TID.upper()}\n", f"https://login.microsoftonline.com/{TID.upper()}/v2.0"),
    ("entra", ENTRA, ENTRA),
    ("entra", ENTRA + "/", ENTRA),
    ("entra", ENTRA + "/.well-known/openid-configuration", ENTRA),
    ("entra", f"https://login.microsoftonline.com/{TID}/oauth2/v2.0/authorize", ENTRA),
    ("entra", f"https://sts.windows.net/{TID}/", ENTRA),  # the v1 issuer
    ("entra", "common", "https://login.microsoftonline.com/common/v2.0"),
    ("entra", "organizations", "https://login.microsoftonline.com/organizations/v2.0"),
    ("entra", "contoso.onmicrosoft.com", "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"),
    ("keycloak", "https://sso.example.com/realms/acme", "https://sso.example.com/realms/acme"),
    ("keycloak", "sso.example.com/realms/acme/", "https://sso.example.com/realms/acme"),
    ("keycloak", "https://sso.example.com/auth/realms/acme", "https://sso.example.com/auth/realms/acme"),
    ("keycloak", "https://sso.example.com/realms/acme/protocol/openid-connect/auth?client_id=x",
     "https://sso.example.com/realms/acme"),
    ("keycloak", "https://sso.example.com/realms/acme/.well-known/openid-configuration",
     "https://sso.example.com/realms/acme"),
    ("keycloak", "https://sso.example.com/admin/master/console/#/acme/clients", "https://sso.example.com/realms/acme"),
    ("cognito", "eu-west-1_AbCdEf123", COGNITO),
    ("cognito", " 'eu-west-1_AbCdEf123' ", COGNITO),
    ("cognito", COGNITO, COGNITO),
    ("cognito", COGNITO + "/.well-known/openid-configuration", COGNITO),
    ("cognito", "us-gov-west-1_XyZ", "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_XyZ"),
    ("google", "accounts.google.com", "https://accounts.google.com"),
    ("google", "https://accounts.google.com/", "https://accounts.google.com"),
    ("google", "https://accounts.google.com/o/oauth2/v2/auth", "https://accounts.google.com"),
])
def test_pasted_values_become_the_issuer(provider: str, raw: str, expected: str) -> None:
    assert normalise_issuer(PRESETS[provider], raw, "client-1") == expected
    assert settings(OPENID_PROVIDER=provider, OPENID_ISSUER=raw).issuer == expected


def test_google_issuer_may_be_left_out() -> None:
    assert settings(OPENID_PROVIDER="google").issuer == "https://accounts.google.com"


@pytest.mark.parametrize(("provider", "raw", "words"), [
    ("cognito", "https://acme.auth.eu-west-1.amazoncognito.com", "hosted-UI domain"),
    ("cognito", "acme.auth.us-east-1.amazoncognito.com/login", "hosted-UI domain"),
    ("keycloak", "https://sso.example.com", "realm"),
    ("keycloak", "https://sso.example.com/auth/", "realm"),
])
def test_known_wrong_pastes_are_named(provider: str, raw: str, words: str) -> None:
    found = problems(OPENID_PROVIDER=provider, OPENID_ISSUER=raw)
    assert any(p.startswith("OPENID_ISSUER") and words in p for p in found), found


@pytest.mark.parametrize(("provider", "path"), [
    ("entra", "roles"), ("keycloak", "realm_access.roles"), ("cognito", "cognito:groups"),
    ("google", "roles"), ("custom", "roles"), ("auth0", "roles"),
])
def test_default_role_paths(provider: str, path: str) -> None:
    s = settings(OPENID_PROVIDER=provider, OPENID_ISSUER="sso.example.com/realms/x" if provider == "keycloak"
                 else "eu-west-1_Ab" if provider == "cognito" else "https://idp.example.com")
    assert s.role_path == path and s.admin_role_path == path


def test_explicit_role_paths_win() -> None:
    s = settings(OPENID_PROVIDER="keycloak", OPENID_ISSUER="sso.example.com/realms/x",
                 OPENID_REQUIRED_ROLE_PARAMETER_PATH="resource_access.chat.roles",
                 OPENID_ADMIN_ROLE_PARAMETER_PATH="resource_access.chat-admin.roles")
    assert s.role_path == "resource_access.chat.roles"
    assert s.admin_role_path == "resource_access.chat-admin.roles"


def test_google_reuse_is_refused_at_start_with_the_reason() -> None:
    found = problems(OPENID_PROVIDER="google", OPENID_REUSE_TOKENS="true")
    assert any("OPENID_REUSE_TOKENS" in p and "opaque" in p for p in found), found


def test_google_offline_access_becomes_its_own_parameters() -> None:
    s = settings(OPENID_PROVIDER="google", OPENID_SCOPE="openid email offline_access")
    assert s.scope == "openid email"
    assert dict(s.auth_params) == {"access_type": "offline", "prompt": "consent"}
    assert s.wants_offline_access
    plain = settings(OPENID_PROVIDER="google")
    assert plain.auth_params == () and not plain.wants_offline_access


def test_cognito_never_sends_offline_access_but_expects_refresh_tokens() -> None:
    s = settings(OPENID_PROVIDER="cognito", OPENID_ISSUER="eu-west-1_Ab", OPENID_SCOPE="openid offline_access")
    assert s.scope == "openid" and s.auth_params == () and s.wants_offline_access


def test_entra_keeps_offline_access_in_the_scope() -> None:
    s = settings(OPENID_PROVIDER="entra", OPENID_ISSUER=TID, OPENID_SCOPE="openid offline_access")
    assert s.scope == "openid offline_access" and s.auth_params == ()


def test_multi_tenant_template_only_for_common_and_organizations() -> None:
    entra = PRESETS["entra"]
    assert multi_tenant_issuer(entra, "https://login.microsoftonline.com/common/v2.0") == \
        "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert multi_tenant_issuer(entra, "https://login.microsoftonline.com/organizations/v2.0")
    assert multi_tenant_issuer(entra, ENTRA) is None
    assert multi_tenant_issuer(PRESETS["custom"], "https://idp.example.com/common/v2.0") is None


def test_claim_and_admin_settings() -> None:
    s = settings(OPENID_ISSUER="https://idp.example.com", OPENID_USERNAME_CLAIM="nickname",
                 OPENID_NAME_CLAIM="given_name", OPENID_EMAIL_CLAIM="mail", OPENID_ADMIN_ROLE="admin, owner",
                 OPENID_ADMIN_ROLE_TOKEN_KIND="userinfo", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo")
    assert (s.username_claim, s.name_claim, s.email_claim) == ("nickname", "given_name", "mail")
    assert s.admin_roles == ("admin", "owner") and s.admin_token_kind == "userinfo"
    assert s.role_token_kind == "userinfo"
    found = problems(OPENID_ISSUER="https://idp.example.com", OPENID_ADMIN_ROLE_TOKEN_KIND="refresh")
    assert any(p.startswith("OPENID_ADMIN_ROLE_TOKEN_KIND") for p in found)


def test_hosted_logout_url_only_for_cognito() -> None:
    metadata = {"authorization_endpoint": "https://acme.auth.eu-west-1.amazoncognito.com/oauth2/authorize"}
    values = {"client_id": "c1", "post_logout_redirect_uri": "https://chat.example.com/login"}
    assert hosted_logout_url(PRESETS["cognito"], metadata, values) == (
        "https://acme.auth.eu-west-1.amazoncognito.com/logout?client_id=c1"
        "&logout_uri=https%3A%2F%2Fchat.example.com%2Flogin")
    assert hosted_logout_url(PRESETS["entra"], metadata, values) is None


@pytest.mark.parametrize("name", ["entra", "keycloak", "cognito", "google"])
def test_new_presets_have_labels_and_hints_naming_their_screens(name: str) -> None:
    preset = PRESETS[name]
    assert preset.label.startswith("Continue with ")
    for code in ("INVALID_ISSUER", "INVALID_AUDIENCE", "TOKEN_EXCHANGE_FAILED", "ROLE_REQUIRED"):
        assert preset.hints[code], (name, code)
    for code in ("INVALID_AUDIENCE", "TOKEN_EXCHANGE_FAILED"):
        assert "→" in preset.hints[code], (name, code)  # a path through the provider's screens


def test_allowed_tenants_must_be_tenant_ids() -> None:
    found = problems(OPENID_PROVIDER="entra", OPENID_ISSUER="common",
                     OPENID_ALLOWED_TENANTS=f"{TID}, contoso.onmicrosoft.com")
    assert any("contoso.onmicrosoft.com" in p and "GUID" in p for p in found), found
    assert settings(OPENID_PROVIDER="entra", OPENID_ISSUER="common",
                    OPENID_ALLOWED_TENANTS=TID).allowed_tenants == (TID,)
