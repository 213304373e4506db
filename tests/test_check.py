"""`oidc-login check` against the real (controllable) test provider, in good and broken
configurations. Settings come from the environment and `.env` in the cwd, as for `serve`.

Assertions are on statuses and exit codes (and on the values a line must show), not prose.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import check
from app.check import FAIL, OK, WARN, secret_strength
from app.providers import PRESETS
from tests.provider import TestProvider
from tests.redis_server import RedisServer, redis_available

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
STRONG = "Zq8v3LkP0xWm7RtY2bN5cJ9hF4sD6gA1eUoI"

#: Every variable load_settings reads, so the outer environment cannot leak into a test.
_PREFIXES = ("OPENID_", "DOMAIN_", "SESSION_", "WEB_")
_NAMES = {"REDIS_URI", "TRUST_PROXY", "HOST", "PORT", "INSTANCE_PATH", "LOG_SALT", "DEBUG_OPENID_REQUESTS"}


def _ours(name: str) -> bool:
    return name.startswith(_PREFIXES) or name in _NAMES


@pytest.fixture
def env(provider: TestProvider, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """A clean environment with a good configuration; tests change it with setenv/delenv."""
    for name in list(os.environ):
        if _ours(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    good = {
        "OPENID_ISSUER": provider.issuer,
        "OPENID_CLIENT_ID": CLIENT_ID,
        "OPENID_CLIENT_SECRET": CLIENT_SECRET,
        "OPENID_SESSION_SECRET": STRONG,
        "DOMAIN_SERVER": "http://127.0.0.1:3080",
        "DOMAIN_CLIENT": "http://127.0.0.1:3080",
    }
    for name, value in good.items():
        monkeypatch.setenv(name, value)
    return good


def run(capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str], dict[str, Any]]:
    """check.main(--json) in-process: (exit code, {name: status}, the parsed JSON)."""
    code = check.main(json_output=True)
    data = json.loads(capsys.readouterr().out)
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    assert data["ok"] is (code == 0)
    return code, statuses, data


def detail(data: dict[str, Any], name: str) -> str:
    return next(c["detail"] for c in data["checks"] if c["name"] == name)


def hint(data: dict[str, Any], name: str) -> str | None:
    return next(c["hint"] for c in data["checks"] if c["name"] == name)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket goes


# -- good configurations ------------------------------------------------------------------------


def test_good_configuration_passes(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, statuses, data = run(capsys)
    assert code == 0
    assert list(statuses) == [
        "settings", "discovery", "issuer", "jwks", "endpoints", "pkce", "callback_url",
        "backchannel_logout", "revocation_endpoint", "session_secret",
    ]
    assert set(statuses.values()) == {OK}
    for item in data["checks"]:
        assert set(item) == {"name", "status", "detail", "hint"}


def test_jwks_lists_alg_and_kid(env: dict[str, str], provider: TestProvider,
                                capsys: pytest.CaptureFixture[str]) -> None:
    _, statuses, data = run(capsys)
    assert statuses["jwks"] == OK
    for key in provider.jwks()["keys"]:
        if key.get("kty") == "RSA":
            assert f"kid={key['kid']}" in detail(data, "jwks")
    assert "RS256" in detail(data, "jwks")


def test_good_reuse_configuration(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENID_REUSE_TOKENS", "true")
    monkeypatch.setenv("OPENID_SCOPE", "openid profile email offline_access")
    monkeypatch.setenv("OPENID_AUDIENCE", "https://api.example.com")
    code, statuses, _ = run(capsys)
    assert code == 0
    assert statuses["offline_access"] == OK
    assert statuses["access_token_audience"] == OK


def test_settings_from_dotenv_in_cwd(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in env:
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    code, statuses, _ = run(capsys)
    assert code == 0 and statuses["settings"] == OK and statuses["issuer"] == OK


def test_text_output(env: dict[str, str], provider: TestProvider, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.discovery_overrides = {"issuer": "https://elsewhere.example.com/"}
    assert check.main(json_output=False) == 1
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if re.match(r"^(OK|WARN|FAIL) +\w+: ", line)]
    assert [r.split()[0] for r in rows][:3] == [OK, OK, FAIL]
    failing = lines.index(next(r for r in rows if r.startswith(FAIL)))
    assert lines[failing + 1].startswith("      hint: ")


# -- broken configurations ------------------------------------------------------------------------


def test_wrong_issuer(env: dict[str, str], provider: TestProvider, capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.discovery_overrides = {"issuer": "https://elsewhere.example.com/"}
    code, statuses, data = run(capsys)
    assert code == 1
    assert statuses["discovery"] == OK
    assert statuses["issuer"] == FAIL
    assert provider.issuer in detail(data, "issuer")
    assert "https://elsewhere.example.com/" in detail(data, "issuer")
    assert statuses["jwks"] == OK  # later checks still run on the served document


def test_issuer_differing_by_trailing_slash(env: dict[str, str], provider: TestProvider,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.discovery_overrides = {"issuer": provider.issuer + "/"}
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["issuer"] == FAIL


def test_jwks_500(env: dict[str, str], provider: TestProvider, capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.fail = {"jwks": 500}
    code, statuses, data = run(capsys)
    assert code == 1
    assert statuses["discovery"] == OK and statuses["jwks"] == FAIL
    assert "500" in detail(data, "jwks")
    assert hint(data, "jwks")


def test_jwks_without_usable_key_for_advertised_alg(env: dict[str, str], provider: TestProvider,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.discovery_overrides = {"id_token_signing_alg_values_supported": ["HS256"]}
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["jwks"] == FAIL


def test_missing_token_endpoint(env: dict[str, str], provider: TestProvider,
                                capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.discovery_overrides = {"token_endpoint": None}
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["endpoints"] == FAIL


def test_no_s256(env: dict[str, str], provider: TestProvider, capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.code_challenge_methods_supported = ["plain"]
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["pkce"] == FAIL


def test_pkce_methods_not_advertised_is_a_warning(env: dict[str, str], provider: TestProvider,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.discovery_overrides = {"code_challenge_methods_supported": None}
    code, statuses, _ = run(capsys)
    assert code == 0 and statuses["pkce"] == WARN


def test_provider_down(env: dict[str, str], provider: TestProvider, capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.down = True
    code, statuses, _ = run(capsys)
    assert code == 1
    assert statuses["discovery"] == FAIL
    # what needs the document is not reported; what does not, still is
    assert not {"issuer", "jwks", "endpoints", "pkce"} & set(statuses)
    assert statuses["callback_url"] == OK and statuses["session_secret"] == OK


def test_provider_stopped(env: dict[str, str], provider: TestProvider, capsys: pytest.CaptureFixture[str]) -> None:
    provider.stop()  # the fixture restarts it
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["discovery"] == FAIL


def test_discovery_404(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, provider: TestProvider,
                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENID_ISSUER", provider.issuer + "/wrong/path")
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["discovery"] == FAIL


def test_offline_access_requested_but_not_supported(env: dict[str, str], provider: TestProvider,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENID_SCOPE", "openid profile email offline_access")
    provider.config.scopes_supported = ["openid", "profile", "email"]
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["offline_access"] == FAIL


def test_offline_access_not_requested_is_not_checked(env: dict[str, str], provider: TestProvider,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.scopes_supported = ["openid", "profile", "email"]
    code, statuses, _ = run(capsys)
    assert code == 0 and "offline_access" not in statuses


def test_reuse_without_offline_access_in_scope(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENID_REUSE_TOKENS", "true")
    monkeypatch.setenv("OPENID_AUDIENCE", "https://api.example.com")
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses["offline_access"] == FAIL


def _auth0_at_test_provider(provider: TestProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """The auth0 preset pointed at the local provider: its issuer gets Auth0's trailing slash."""
    monkeypatch.setenv("OPENID_PROVIDER", "auth0")
    monkeypatch.setenv("OPENID_ISSUER", provider.issuer)
    provider.config.discovery_overrides = {"issuer": provider.issuer + "/"}
    monkeypatch.setenv("OPENID_REUSE_TOKENS", "true")
    monkeypatch.setenv("OPENID_SCOPE", "openid profile email offline_access")


def test_auth0_reuse_without_audience(env: dict[str, str], provider: TestProvider,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _auth0_at_test_provider(provider, monkeypatch)
    code, statuses, data = run(capsys)
    assert code == 1
    assert statuses["issuer"] == OK  # the override works: only the audience is wrong
    assert statuses["access_token_audience"] == FAIL
    assert hint(data, "access_token_audience") == PRESETS["auth0"].hints["OPAQUE_ACCESS_TOKEN"]


def test_auth0_reuse_with_audience(env: dict[str, str], provider: TestProvider,
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    _auth0_at_test_provider(provider, monkeypatch)
    monkeypatch.setenv("OPENID_AUDIENCE", "https://api.example.com")
    code, statuses, _ = run(capsys)
    assert code == 0 and set(statuses.values()) == {OK}


def test_custom_reuse_without_audience_warns(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENID_REUSE_TOKENS", "true")
    monkeypatch.setenv("OPENID_SCOPE", "openid offline_access")
    code, statuses, _ = run(capsys)
    assert code == 0 and statuses["access_token_audience"] == WARN


def test_okta_custom_authorization_server(env: dict[str, str], provider: TestProvider,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    provider.config.issuer_suffix = "/oauth2/default"
    monkeypatch.setenv("OPENID_PROVIDER", "okta")
    monkeypatch.setenv("OPENID_ISSUER", f" {provider.issuer}/ ")  # pasted with slash and spaces
    code, statuses, _ = run(capsys)
    assert code == 0 and statuses["issuer"] == OK


def test_workos_with_overrides(env: dict[str, str], provider: TestProvider,
                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENID_PROVIDER", "workos")
    monkeypatch.setenv("OPENID_JWKS_URI", provider.url("/jwks"))
    provider.config.discovery_overrides = {"jwks_uri": "https://api.workos.com/unreachable"}
    code, statuses, data = run(capsys)
    assert code == 0 and statuses["jwks"] == OK
    assert provider.url("/jwks") in detail(data, "jwks")


def test_weak_secret(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENID_SESSION_SECRET", "a" * 40)
    code, statuses, data = run(capsys)
    assert code == 1 and statuses["session_secret"] == FAIL
    assert "a" * 40 not in json.dumps(data)


def test_short_secret_is_a_settings_failure(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OPENID_SESSION_SECRET", "short")
    code, statuses, _ = run(capsys)
    assert code == 1 and statuses == {"settings": FAIL}  # and nothing else is checked


def test_settings_failure_lists_every_problem(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OPENID_CLIENT_ID")
    monkeypatch.setenv("OPENID_PROVIDER", "nope")
    monkeypatch.setenv("OPENID_SESSION_SECRET", "short")
    code, statuses, data = run(capsys)
    assert code == 1 and statuses == {"settings": FAIL}
    text = detail(data, "settings")
    for name in ("OPENID_CLIENT_ID", "OPENID_PROVIDER", "OPENID_SESSION_SECRET"):
        assert name in text


def test_http_callback_on_public_host(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOMAIN_SERVER", "http://chat.example.com")
    monkeypatch.setenv("DOMAIN_CLIENT", "http://chat.example.com")
    code, statuses, data = run(capsys)
    assert code == 1 and statuses["callback_url"] == FAIL
    assert "http://chat.example.com/oauth/openid/callback" in detail(data, "callback_url")


def test_https_callback_on_public_host(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOMAIN_SERVER", "https://chat.example.com")
    code, statuses, _ = run(capsys)
    assert code == 0 and statuses["callback_url"] == OK


def test_redis_unreachable(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REDIS_URI", f"redis://:hunter2-password@127.0.0.1:{closed_port()}/0")
    code, statuses, data = run(capsys)
    assert code == 1 and statuses["redis"] == FAIL
    assert "hunter2-password" not in json.dumps(data)


@pytest.mark.skipif(not redis_available(), reason="redis-server not installed")
def test_redis_reachable(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    with RedisServer() as server:
        monkeypatch.setenv("REDIS_URI", server.uri)
        code, statuses, _ = run(capsys)
    assert code == 0 and statuses["redis"] == OK


def test_nothing_secret_in_output(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    for json_output in (False, True):
        check.main(json_output=json_output)
        out = capsys.readouterr().out
        assert STRONG not in out and CLIENT_SECRET not in out


# -- the command itself, as a process --------------------------------------------------------------


def _subprocess_env(values: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not _ours(k)}
    return {**base, **values}


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


@pytest.mark.parametrize("broken", [False, True])
def test_cli_exit_code(env: dict[str, str], provider: TestProvider, tmp_path: Path, broken: bool) -> None:
    if broken:
        provider.config.code_challenge_methods_supported = ["plain"]
    done = subprocess.run(
        [_python(), "-m", "app.cli", "check", "--json"],
        cwd=tmp_path,
        env=_subprocess_env({**env, "PYTHONPATH": str(ROOT)}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    data = json.loads(done.stdout)
    assert done.returncode == (1 if broken else 0), done.stderr
    assert data["ok"] is (not broken)
    assert {c["name"]: c["status"] for c in data["checks"]}["pkce"] == (FAIL if broken else OK)


# -- the secret estimate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "status"),
    [
        ("0f" * 16, FAIL),  # 32 chars, 2 distinct
        ("abcdefgh" * 5, FAIL),  # a pattern repeated
        ("abcdefghij" * 4, FAIL),
        ("x" * 64, FAIL),
        ("short", FAIL),
        ("3f9c1a7e5b2d4c6a8e0f1b3d5a7c9e2f", OK),  # openssl rand -hex 16
        ("9b1e5c0f3a7d2e8b6c4a1f0e9d8c7b6a5f4e3d2c1b0a99887766554433221100", OK),
        ("Zq8v3LkP0xWm7RtY2bN5cJ9hF4sD6gA1eUoI", OK),
        ("changeme-changeme-please-now-1234567", WARN),
    ],
)
def test_secret_strength(secret: str, status: str) -> None:
    assert secret_strength(secret)[0] == status


# -- logout everywhere ---------------------------------------------------------------------------


def test_backchannel_logout_names_the_url_to_register(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, statuses, data = run(capsys)
    assert statuses["backchannel_logout"] == OK
    assert "http://127.0.0.1:3080/oauth/openid/backchannel-logout" in detail(data, "backchannel_logout")
    assert statuses["revocation_endpoint"] == OK and "/revoke" in detail(data, "revocation_endpoint")


def test_backchannel_logout_not_advertised_warns_with_the_url(
    env: dict[str, str], provider: TestProvider, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    provider.config.discovery_overrides = {"backchannel_logout_supported": None, "revocation_endpoint": None}
    monkeypatch.setenv("OPENID_SCOPE", "openid offline_access")
    _, statuses, data = run(capsys)
    assert statuses["backchannel_logout"] == WARN
    assert "/oauth/openid/backchannel-logout" in (hint(data, "backchannel_logout") or "")
    assert statuses["revocation_endpoint"] == WARN
