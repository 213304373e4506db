"""Settings: every problem reported at once, booleans, .env from the cwd only, and the
security rules (secret length, http only on loopback, callback a path, cookie name)."""

from __future__ import annotations

import os

import pytest

from app.settings import Settings, SettingsError, load_settings

GOOD = {
    "OPENID_ISSUER": "https://idp.example.com",
    "OPENID_CLIENT_ID": "client-1",
    "OPENID_SESSION_SECRET": "s" * 32,
}


def load(**env: str) -> Settings:
    return load_settings({**GOOD, **env}, use_dotenv=False)


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as info:
        load_settings(env, use_dotenv=False)
    assert str(info.value).startswith("Invalid configuration:")
    return info.value.problems


def problems_with(**env: str) -> list[str]:
    return problems({**GOOD, **env})


def names(found: list[str]) -> list[str]:
    return sorted(p.split("=")[0].split(" ")[0] for p in found)


def test_minimal_configuration_loads():
    settings = load()
    assert settings.issuer == "https://idp.example.com"
    assert settings.client_id == "client-1"


def test_every_required_variable_reported_at_once():
    found = problems({})
    assert names(found) == ["OPENID_CLIENT_ID", "OPENID_ISSUER", "OPENID_SESSION_SECRET"]
    assert all("required" in p for p in found)


def test_blank_required_values_count_as_missing():
    found = problems({"OPENID_ISSUER": "  ", "OPENID_CLIENT_ID": "", "OPENID_SESSION_SECRET": ""})
    assert names(found) == ["OPENID_CLIENT_ID", "OPENID_ISSUER", "OPENID_SESSION_SECRET"]


def test_every_malformed_variable_reported_at_once():
    found = problems({
        "OPENID_ISSUER": "http://idp.example.com",
        "OPENID_CLIENT_ID": "c",
        "OPENID_SESSION_SECRET": "short",
        "OPENID_PROVIDER": "pingfederate",
        "OPENID_CALLBACK_URL": "callback",
        "OPENID_REUSE_TOKENS": "maybe",
        "OPENID_CLOCK_TOLERANCE": "sixty",
        "OPENID_SCOPE": "profile email",
        "OPENID_REQUIRED_ROLE_TOKEN_KIND": "refresh",
        "DOMAIN_SERVER": "localhost:3080",
        "SESSION_COOKIE_NAME": "_session",
    })
    for name in (
        "OPENID_ISSUER", "OPENID_SESSION_SECRET", "OPENID_PROVIDER", "OPENID_CALLBACK_URL",
        "OPENID_REUSE_TOKENS", "OPENID_CLOCK_TOLERANCE", "OPENID_SCOPE",
        "OPENID_REQUIRED_ROLE_TOKEN_KIND", "DOMAIN_SERVER", "SESSION_COOKIE_NAME",
    ):
        assert any(p.startswith(name) for p in found), (name, found)


# -- booleans ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["true", "TRUE", "True", "1", "yes", "YES", "Yes", " true "])
def test_true_spellings(raw):
    assert load(OPENID_REUSE_TOKENS=raw).reuse_tokens is True
    assert load(OPENID_AUTO_REDIRECT=raw).auto_redirect is True


@pytest.mark.parametrize("raw", ["false", "FALSE", "False", "0", "no", "NO", "No"])
def test_false_spellings(raw):
    assert load(OPENID_USE_PKCE=raw, OPENID_CLIENT_SECRET="x").use_pkce is False
    assert load(DEBUG_OPENID_REQUESTS=raw).debug_requests is False


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "enabled", "tru"])
def test_garbage_boolean_refused(raw):
    found = problems_with(OPENID_USE_END_SESSION_ENDPOINT=raw)
    assert len(found) == 1
    assert found[0].startswith("OPENID_USE_END_SESSION_ENDPOINT=")
    assert "boolean" in found[0]


def test_empty_boolean_means_default():
    assert load(OPENID_USE_PKCE="").use_pkce is True
    assert load(OPENID_REUSE_TOKENS="").reuse_tokens is False


def test_boolean_defaults():
    s = load()
    assert (s.reuse_tokens, s.use_pkce, s.auto_redirect, s.use_end_session_endpoint, s.debug_requests) == (
        False, True, False, False, False,
    )


def test_pkce_off_needs_a_client_secret():
    found = problems_with(OPENID_USE_PKCE="false")
    assert any("OPENID_USE_PKCE" in p for p in found)


# -- .env ----------------------------------------------------------------------------


def _write_env(directory, **values: str) -> None:
    (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))


def test_dotenv_read_from_cwd(tmp_path, monkeypatch):
    _write_env(tmp_path, **GOOD, OPENID_BUTTON_LABEL="From dotenv")
    monkeypatch.chdir(tmp_path)
    settings = load_settings({}, use_dotenv=True)
    assert settings.client_id == "client-1"
    assert settings.button_label == "From dotenv"


def test_environment_wins_over_dotenv(tmp_path, monkeypatch):
    _write_env(tmp_path, **{**GOOD, "OPENID_CLIENT_ID": "from-file"})
    monkeypatch.chdir(tmp_path)
    assert load_settings({"OPENID_CLIENT_ID": "from-env"}, use_dotenv=True).client_id == "from-env"


def test_dotenv_in_parent_directory_is_not_read(tmp_path, monkeypatch):
    _write_env(tmp_path, **GOOD)
    child = tmp_path / "child"
    child.mkdir()
    monkeypatch.chdir(child)
    with pytest.raises(SettingsError) as info:
        load_settings({}, use_dotenv=True)
    assert "OPENID_CLIENT_ID" in str(info.value)
    monkeypatch.chdir(tmp_path)
    assert load_settings({}, use_dotenv=True).client_id == "client-1"


def test_dotenv_of_the_directory_at_load_time(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    _write_env(first, **{**GOOD, "OPENID_CLIENT_ID": "first"})
    _write_env(second, **{**GOOD, "OPENID_CLIENT_ID": "second"})
    monkeypatch.chdir(first)
    assert load_settings({}, use_dotenv=True).client_id == "first"
    monkeypatch.chdir(second)
    assert load_settings({}, use_dotenv=True).client_id == "second"


def test_use_dotenv_false_ignores_the_file(tmp_path, monkeypatch):
    _write_env(tmp_path, **GOOD)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError):
        load_settings({}, use_dotenv=False)


def test_process_environment_used_when_no_mapping_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key, value in GOOD.items():
        monkeypatch.setenv(key, value)
    assert load_settings(use_dotenv=False).client_id == os.environ["OPENID_CLIENT_ID"]


# -- session secret ------------------------------------------------------------------


def test_session_secret_length():
    found = problems_with(OPENID_SESSION_SECRET="x" * 31)
    assert len(found) == 1 and "at least 32" in found[0] and "31" in found[0]
    assert load(OPENID_SESSION_SECRET="x" * 32).session_secret == "x" * 32


def test_session_secret_not_in_repr():
    text = repr(load(OPENID_SESSION_SECRET="very-secret-value-" + "x" * 20, OPENID_CLIENT_SECRET="client-secret-value"))
    assert "very-secret-value" not in text
    assert "client-secret-value" not in text


# -- issuer --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer", ["http://idp.example.com", "http://10.0.0.5:8080", "http://localhost.example.com"]
)
def test_http_issuer_refused_off_loopback(issuer):
    found = problems_with(OPENID_ISSUER=issuer)
    assert len(found) == 1 and found[0].startswith("OPENID_ISSUER=") and "loopback" in found[0]


@pytest.mark.parametrize(
    "issuer", ["http://127.0.0.1:3081", "http://localhost:3081", "http://[::1]:3081", "http://127.1.2.3"]
)
def test_http_issuer_allowed_on_loopback(issuer):
    assert load(OPENID_ISSUER=issuer).issuer.startswith("http://")


def test_bare_domain_gets_https():
    assert load(OPENID_ISSUER="idp.example.com").issuer == "https://idp.example.com"


# -- callback ------------------------------------------------------------------------


def test_callback_default_and_redirect_uri():
    s = load(DOMAIN_SERVER="https://chat.example.com/")
    assert s.callback_path == "/oauth/openid/callback"
    assert s.redirect_uri == "https://chat.example.com/oauth/openid/callback"


def test_callback_path_accepted():
    assert load(OPENID_CALLBACK_URL="/auth/cb").callback_path == "/auth/cb"


def test_callback_absolute_url_on_domain_server_becomes_a_path():
    s = load(DOMAIN_SERVER="https://chat.example.com", OPENID_CALLBACK_URL="https://chat.example.com/auth/cb")
    assert s.callback_path == "/auth/cb"
    assert s.redirect_uri == "https://chat.example.com/auth/cb"


@pytest.mark.parametrize("callback", ["https://evil.example.com/cb", "callback", "//evil.example.com/cb"])
def test_callback_must_be_a_path_on_domain_server(callback):
    found = problems_with(OPENID_CALLBACK_URL=callback)
    assert found and all(p.startswith("OPENID_CALLBACK_URL=") for p in found)


# -- cookies -------------------------------------------------------------------------


def test_default_cookie_name_does_not_collide():
    name = load().cookie_name
    assert name != "_session" and not name.startswith("_interaction")


@pytest.mark.parametrize("name", ["_session", "_interaction", "_interaction_resume"])
def test_cookie_name_collisions_refused(name):
    found = problems_with(SESSION_COOKIE_NAME=name)
    assert len(found) == 1 and found[0].startswith("SESSION_COOKIE_NAME=")


def test_custom_cookie_name():
    assert load(SESSION_COOKIE_NAME="my_app_session").cookie_name == "my_app_session"


def test_secure_cookies_follow_domain_server():
    assert load(DOMAIN_SERVER="https://chat.example.com").secure_cookies is True
    assert load().secure_cookies is False


# -- defaults ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "preset,label",
    [
        ("auth0", "Continue with Auth0"),
        ("okta", "Continue with Okta"),
        ("workos", "Continue with WorkOS"),
        ("custom", "Continue with OpenID"),
        ("AUTH0", "Continue with Auth0"),
    ],
)
def test_button_label_per_preset(preset, label):
    assert load(OPENID_PROVIDER=preset).button_label == label


def test_button_label_default_is_custom():
    assert load().button_label == "Continue with OpenID"
    assert load(OPENID_BUTTON_LABEL="Sign in with ACME").button_label == "Sign in with ACME"


def test_workos_issuer_from_client_id():
    env = {k: v for k, v in GOOD.items() if k != "OPENID_ISSUER"}
    s = load_settings({**env, "OPENID_PROVIDER": "workos", "OPENID_CLIENT_ID": "client_01ABC"}, use_dotenv=False)
    assert s.issuer == "https://api.workos.com/user_management/client_01ABC"
    assert s.jwks_uri_override == "https://api.workos.com/sso/jwks/client_01ABC"


def test_defaults():
    s = load()
    assert s.provider.name == "custom"
    assert s.scope == "openid profile email"
    assert s.audience is None
    assert s.client_secret is None and s.public_client
    assert s.clock_tolerance == 60
    assert s.refresh_margin == 60
    assert s.domain_client == s.domain_server == "http://localhost:3080"
    assert s.post_logout_redirect_uri == "http://localhost:3080/login"
    assert s.required_roles == ()
    assert s.role_token_kind == "id"
    assert s.role_path == "roles"
    assert s.trust_proxy == 0
    assert s.redis_uri is None
    assert (s.host, s.port) == ("127.0.0.1", 3080)
    assert s.token_audience == "client-1"
    assert not s.wants_offline_access


def test_post_logout_default_follows_domain_client():
    s = load(DOMAIN_CLIENT="https://chat.example.com/")
    assert s.post_logout_redirect_uri == "https://chat.example.com/login"


def test_values_are_parsed():
    s = load(
        OPENID_SCOPE="openid, profile  offline_access",
        OPENID_REQUIRED_ROLE="admin, ops ,,",
        OPENID_REQUIRED_ROLE_TOKEN_KIND="ACCESS",
        OPENID_CLOCK_TOLERANCE="5",
        OPENID_AUDIENCE="https://api.example.com",
    )
    assert s.scope == "openid profile offline_access"
    assert s.wants_offline_access
    assert s.required_roles == ("admin", "ops")
    assert s.role_token_kind == "access"
    assert s.clock_tolerance == 5
    assert s.token_audience == "https://api.example.com"


@pytest.mark.parametrize("value", ["-1", "1.5", "abc"])
def test_bad_numbers_refused(value):
    found = problems_with(OPENID_REFRESH_MARGIN=value)
    assert len(found) == 1 and found[0].startswith("OPENID_REFRESH_MARGIN")


def test_role_policy_file_must_exist(tmp_path):
    found = problems_with(OPENID_ROLE_POLICY=str(tmp_path / "missing.yaml"))
    assert len(found) == 1 and found[0].startswith("OPENID_ROLE_POLICY=")
    policy = tmp_path / "policy.yaml"
    policy.write_text("admin: ['*']\n")
    assert load(OPENID_ROLE_POLICY=str(policy)).role_policy_path == str(policy)
