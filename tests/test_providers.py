"""Provider presets (issue 4): every issuer form in the table, pasted variants, JWKS rules,
hints, and the "a new provider is a table row" promise. Pure functions plus load_settings."""

from __future__ import annotations

import pytest

from app.providers import (
    PRESETS,
    Preset,
    clean_url,
    hint_for,
    is_loopback_host,
    jwks_override,
    normalise_issuer,
)
from app.settings import SettingsError, load_settings

SECRET = "9f8e7d6c5b4a39281706f5e4d3c2b1a0-xyz"


def issuer(provider: str, raw: str | None, client_id: str = "client_01ABC") -> str:
    return normalise_issuer(PRESETS[provider], raw, client_id)


def settings_for(**env: str):
    base = {"OPENID_CLIENT_ID": "client_01ABC", "OPENID_SESSION_SECRET": SECRET}
    base.update(env)
    return load_settings(base, use_dotenv=False)


# -- auth0: https://{domain}/ with a trailing slash -------------------------------------------

AUTH0_FORMS = [
    # (pasted, expected issuer)
    ("acme.auth0.com", "https://acme.auth0.com/"),
    ("acme.us.auth0.com", "https://acme.us.auth0.com/"),
    ("acme.eu.auth0.com", "https://acme.eu.auth0.com/"),
    ("acme.au.auth0.com", "https://acme.au.auth0.com/"),
    ("acme.jp.auth0.com", "https://acme.jp.auth0.com/"),
    ("login.acme.com", "https://login.acme.com/"),  # custom domain
    ("https://acme.us.auth0.com", "https://acme.us.auth0.com/"),
    ("https://acme.us.auth0.com/", "https://acme.us.auth0.com/"),
    ("https://acme.us.auth0.com//", "https://acme.us.auth0.com/"),
    ("  https://acme.eu.auth0.com/ \n", "https://acme.eu.auth0.com/"),
    ("\tacme.au.auth0.com\t", "https://acme.au.auth0.com/"),
    ("'acme.us.auth0.com'", "https://acme.us.auth0.com/"),
    ('"https://login.acme.com/"', "https://login.acme.com/"),
    ("https://https://acme.us.auth0.com/", "https://acme.us.auth0.com/"),
    ("HTTPS://ACME.US.AUTH0.COM", "https://acme.us.auth0.com/"),
    ("https://acme.us.auth0.com/.well-known/openid-configuration", "https://acme.us.auth0.com/"),
    # the Management API audience is a common mis-paste; Auth0's issuer is always the root
    ("https://acme.us.auth0.com/api/v2/", "https://acme.us.auth0.com/"),
]


@pytest.mark.parametrize(("raw", "expected"), AUTH0_FORMS)
def test_auth0_issuer_forms(raw: str, expected: str) -> None:
    assert issuer("auth0", raw) == expected


@pytest.mark.parametrize(("raw", "expected"), AUTH0_FORMS)
def test_auth0_forms_through_settings(raw: str, expected: str) -> None:
    settings = settings_for(OPENID_PROVIDER="auth0", OPENID_ISSUER=raw)
    assert settings.issuer == expected
    assert settings.provider.name == "auth0"
    assert settings.button_label == "Continue with Auth0"
    assert settings.jwks_uri_override is None  # from discovery


# -- okta: https://{domain}, no trailing slash; org and custom authorization servers ------------

OKTA_FORMS = [
    ("dev-123456.okta.com", "https://dev-123456.okta.com"),
    ("https://dev-123456.okta.com/", "https://dev-123456.okta.com"),
    ("acme.oktapreview.com", "https://acme.oktapreview.com"),
    ("https://acme.oktapreview.com//", "https://acme.oktapreview.com"),
    ("acme.okta-emea.com", "https://acme.okta-emea.com"),
    ("login.acme.com", "https://login.acme.com"),  # custom domain
    ("dev-123456.okta.com/oauth2/default", "https://dev-123456.okta.com/oauth2/default"),
    ("https://dev-123456.okta.com/oauth2/default/", "https://dev-123456.okta.com/oauth2/default"),
    ("https://dev-123456.okta.com//oauth2//default", "https://dev-123456.okta.com/oauth2/default"),
    (" https://acme.oktapreview.com/oauth2/aus1a2b3c4D5e6F7g8 ",
     "https://acme.oktapreview.com/oauth2/aus1a2b3c4D5e6F7g8"),  # path case is kept
    ("https://dev-123456.okta.com/oauth2/default/.well-known/openid-configuration",
     "https://dev-123456.okta.com/oauth2/default"),
]


@pytest.mark.parametrize(("raw", "expected"), OKTA_FORMS)
def test_okta_issuer_forms(raw: str, expected: str) -> None:
    assert issuer("okta", raw) == expected


@pytest.mark.parametrize(("raw", "expected"), OKTA_FORMS)
def test_okta_forms_through_settings(raw: str, expected: str) -> None:
    settings = settings_for(OPENID_PROVIDER="OKTA", OPENID_ISSUER=raw)
    assert settings.issuer == expected
    assert settings.button_label == "Continue with Okta"


# -- workos: issuer and JWKS from the client id -----------------------------------------------


def test_workos_issuer_and_jwks_from_client_id() -> None:
    settings = settings_for(OPENID_PROVIDER="workos", OPENID_CLIENT_ID="client_01HXYZ")
    assert settings.issuer == "https://api.workos.com/user_management/client_01HXYZ"
    assert settings.jwks_uri_override == "https://api.workos.com/sso/jwks/client_01HXYZ"
    assert settings.button_label == "Continue with WorkOS"


def test_workos_client_id_with_whitespace() -> None:
    settings = settings_for(OPENID_PROVIDER="workos", OPENID_CLIENT_ID="  client_01HXYZ\n")
    assert settings.issuer == "https://api.workos.com/user_management/client_01HXYZ"
    assert settings.jwks_uri_override == "https://api.workos.com/sso/jwks/client_01HXYZ"


def test_workos_pasted_issuer_is_cleaned() -> None:
    raw = " https://api.workos.com//user_management/client_01HXYZ/ "
    assert issuer("workos", raw) == "https://api.workos.com/user_management/client_01HXYZ"


def test_workos_issuer_not_required() -> None:
    settings_for(OPENID_PROVIDER="workos")  # no OPENID_ISSUER: no SettingsError


def test_workos_invalid_audience_hint_names_custom_aud_claim() -> None:
    hint = hint_for(PRESETS["workos"], "INVALID_AUDIENCE") or ""
    assert "aud" in hint and "custom" in hint.lower()
    assert "WorkOS Dashboard" in hint


# -- custom: as given (after cleanup) -----------------------------------------------------------

CUSTOM_FORMS = [
    ("https://idp.example.com", "https://idp.example.com"),
    ("https://idp.example.com/", "https://idp.example.com/"),  # the slash is kept as given
    ("https://idp.example.com/realms/acme", "https://idp.example.com/realms/acme"),
    ("idp.example.com/realms/acme", "https://idp.example.com/realms/acme"),
    ("  https://idp.example.com//realms//acme  ", "https://idp.example.com/realms/acme"),
    ("http://127.0.0.1:3081", "http://127.0.0.1:3081"),
    ("http://localhost:3081/", "http://localhost:3081/"),
    ("https://login.microsoftonline.com/tenant-id/v2.0/.well-known/openid-configuration",
     "https://login.microsoftonline.com/tenant-id/v2.0"),
]


@pytest.mark.parametrize(("raw", "expected"), CUSTOM_FORMS)
def test_custom_issuer_as_given(raw: str, expected: str) -> None:
    assert issuer("custom", raw) == expected
    assert settings_for(OPENID_ISSUER=raw).issuer == expected  # custom is the default preset


def test_custom_default_label() -> None:
    assert settings_for(OPENID_ISSUER="https://idp.example.com").button_label == "Continue with OpenID"


# -- overrides (how tests point presets at the local test provider) ---------------------------


def test_auth0_preset_pointed_at_loopback_provider() -> None:
    settings = settings_for(OPENID_PROVIDER="auth0", OPENID_ISSUER="http://127.0.0.1:4567")
    assert settings.issuer == "http://127.0.0.1:4567/"


def test_okta_preset_pointed_at_loopback_custom_server() -> None:
    settings = settings_for(OPENID_PROVIDER="okta", OPENID_ISSUER="http://127.0.0.1:4567/oauth2/default/")
    assert settings.issuer == "http://127.0.0.1:4567/oauth2/default"


def test_workos_overrides_for_tests() -> None:
    settings = settings_for(
        OPENID_PROVIDER="workos",
        OPENID_ISSUER="http://127.0.0.1:4567/",
        OPENID_JWKS_URI=" http://127.0.0.1:4567//jwks ",
    )
    assert settings.issuer == "http://127.0.0.1:4567"
    assert settings.jwks_uri_override == "http://127.0.0.1:4567/jwks"


def test_jwks_override_precedence() -> None:
    workos = PRESETS["workos"]
    assert jwks_override(workos, "c1", None) == "https://api.workos.com/sso/jwks/c1"
    assert jwks_override(workos, "c1", "https://x.test/keys") == "https://x.test/keys"
    assert jwks_override(PRESETS["auth0"], "c1", None) is None
    assert jwks_override(PRESETS["custom"], "c1", "x.test//keys") == "https://x.test/keys"


def test_http_issuer_refused_off_loopback() -> None:
    with pytest.raises(SettingsError) as info:
        settings_for(OPENID_PROVIDER="auth0", OPENID_ISSUER="http://acme.us.auth0.com")
    assert any("OPENID_ISSUER" in p for p in info.value.problems)


def test_issuer_required_except_for_workos() -> None:
    for name in ("auth0", "okta", "custom"):
        with pytest.raises(SettingsError) as info:
            settings_for(OPENID_PROVIDER=name)
        assert any(p.startswith("OPENID_ISSUER is required") for p in info.value.problems)


def test_unknown_provider_is_a_settings_problem() -> None:
    with pytest.raises(SettingsError) as info:
        settings_for(OPENID_PROVIDER="pingfederate", OPENID_ISSUER="https://idp.example.com")
    assert any("OPENID_PROVIDER" in p for p in info.value.problems)


# -- exact comparison after normalisation --------------------------------------------------------


def test_normalisation_is_idempotent() -> None:
    for name in PRESETS:
        for raw, _ in AUTH0_FORMS + OKTA_FORMS + CUSTOM_FORMS:
            once = issuer(name, raw)
            assert issuer(name, once) == once, (name, raw)


def test_issuers_differing_only_by_slash_stay_different_for_custom() -> None:
    # The comparison is exact: "custom" never guesses the slash.
    assert issuer("custom", "https://idp.example.com") != issuer("custom", "https://idp.example.com/")


# -- hints name the provider's own screens ----------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "code", "words"),
    [
        ("auth0", "OPAQUE_ACCESS_TOKEN", ["Auth0 Dashboard", "APIs", "OPENID_AUDIENCE"]),
        ("auth0", "MISSING_REFRESH_TOKEN", ["Auth0 Dashboard", "offline_access", "Allow Offline Access"]),
        ("auth0", "INVALID_ISSUER", ["Auth0 Dashboard", "trailing slash"]),
        ("auth0", "TOKEN_EXCHANGE_FAILED", ["Allowed Callback URLs"]),
        ("okta", "INVALID_ISSUER", ["Okta Admin", "Authorization Servers"]),
        ("okta", "MISSING_REFRESH_TOKEN", ["Okta Admin", "offline_access"]),
        ("workos", "INVALID_ISSUER", ["WorkOS Dashboard", "OPENID_CLIENT_ID"]),
        ("workos", "TOKEN_EXCHANGE_FAILED", ["WorkOS Dashboard", "Redirect"]),
    ],
)
def test_hints_name_provider_screens(provider: str, code: str, words: list[str]) -> None:
    hint = hint_for(PRESETS[provider], code)
    assert hint is not None
    for word in words:
        assert word in hint, (provider, code, word)


def test_custom_has_no_provider_specific_hints() -> None:
    assert hint_for(PRESETS["custom"], "INVALID_ISSUER") is None


def test_only_auth0_requires_audience_for_jwt_access_tokens() -> None:
    assert [p.name for p in PRESETS.values() if p.jwt_access_needs_audience] == ["auth0"]


# -- a new provider is a table row --------------------------------------------------------------


def test_new_provider_is_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        PRESETS,
        "entra",
        Preset(
            name="entra",
            label="Continue with Microsoft",
            trailing_slash="bare",
            issuer_template="https://login.microsoftonline.com/{client_id}/v2.0",
            hints={"INVALID_ISSUER": "Azure portal -> App registrations -> Endpoints"},
        ),
    )
    settings = settings_for(OPENID_PROVIDER="entra", OPENID_CLIENT_ID="tenant-1")
    assert settings.issuer == "https://login.microsoftonline.com/tenant-1/v2.0"
    assert settings.button_label == "Continue with Microsoft"
    assert hint_for(settings.provider, "INVALID_ISSUER").startswith("Azure portal")


# -- small helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True), ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True),
        ("[::1]", True), ("app.localhost", True), ("LOCALHOST", True),
        ("example.com", False), ("127.0.0.1.nip.io", False), ("localhost.example.com", False),
        ("10.0.0.1", False), ("", False), (None, False),
    ],
)
def test_is_loopback_host(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "https://example.com"),
        ("http://127.0.0.1:3081//jwks", "http://127.0.0.1:3081/jwks"),
        ("localhost:3081", "https://localhost:3081"),
        ("https://Example.COM/Path/Keep", "https://example.com/Path/Keep"),
        ("https://exa mple.com/", "https://example.com/"),
    ],
)
def test_clean_url(raw: str, expected: str) -> None:
    assert clean_url(raw) == expected
