"""Holes a security review found, each provoked: clock skew at refresh, hostile JOSE headers,
token kinds, roles of existing sessions, a second login, cross-site refresh, the demo's
environment, the placeholder secret, and a stray FLASK_DEBUG."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.check import secret_strength
from app.devidp import demo
from app.settings import PLACEHOLDER_SECRET, SettingsError, load_settings
from tests.conftest import REUSE, SECRET
from tests.web.test_auth import assert_no_session, error_code
from tests.web.test_reuse import FAST, TTL, status, wait_until_refresh_due

ROOT = Path(__file__).resolve().parents[2]


def b64(data: bytes | str | dict) -> str:
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_provider_clock_ahead_fails_neither_login_nor_refresh(make_app, provider):
    provider.config.clock_skew = 5
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    assert status(live, http)["has_refresh_token"]
    wait_until_refresh_due(live, http, TTL + provider.config.clock_skew)  # its exp is 5 s later too
    assert status(live, http)["has_refresh_token"]  # refreshed, not signed out
    assert provider.grants["refresh_token"] == 1


def test_reused_access_token_exp_gets_no_leeway(make_app, provider):
    live = make_app(**REUSE)
    expired = provider.mint_access_token(aud="https://api.example.com", exp=int(time.time()) - 5)
    with pytest.raises(Exception) as caught:
        live.services.verifier.verify_access_token(expired)
    assert getattr(caught.value, "code", None) == "TOKEN_EXPIRED"


def hostile_tokens(provider) -> dict[str, str]:
    payload = b64(provider.decode(provider.mint_id_token())[1])
    deep = "[" * 1000 + "]" * 1000
    return {
        "crit not a list": b64({"alg": "RS256", "crit": "exp"}) + "." + payload + ".c2ln",
        "crit of numbers": b64({"alg": "RS256", "crit": [1, 2]}) + "." + payload + ".c2ln",
        "crit empty": b64({"alg": "RS256", "crit": []}) + "." + payload + ".c2ln",
        "nested header": b64('{"alg":"RS256","x":' + deep + "}") + "." + payload + ".c2ln",
        "nested payload": b64({"alg": "RS256"}) + "." + b64('{"a":' + deep + "}") + ".c2ln",
        "kid a number": b64({"alg": "RS256", "kid": 5}) + "." + payload + ".c2ln",
        "kid an object": b64({"alg": "RS256", "kid": {"a": 1}}) + "." + payload + ".c2ln",
        "alg a list": b64({"alg": ["RS256"]}) + "." + payload + ".c2ln",
        "typ a list": b64({"alg": "RS256", "typ": ["JWT"]}) + "." + payload + ".c2ln",
        "header not an object": b64("[1,2]") + "." + payload + ".c2ln",
        "header not json": b64("{nope") + "." + payload + ".c2ln",
        "huge": b64({"alg": "RS256"}) + "." + "A" * 40_000 + ".c2ln",
        "huge header": b64({"alg": "RS256", "pad": "x" * 10_000}) + "." + payload + ".c2ln",
        "payload not an object": b64({"alg": "RS256"}) + "." + b64("[1]") + ".c2ln",
    }


def test_hostile_jose_headers_are_401_never_500(make_app, provider):
    live = make_app(OPENID_AUDIENCE="https://api.example.com")
    http = live.session()
    for name, token in hostile_tokens(provider).items():
        response = live.get(http, "/api/user", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (name, response.status_code, response.text[:200])
        assert error_code(response) in ("INVALID_SIGNATURE", "OPAQUE_ACCESS_TOKEN", "UNSUPPORTED_ALGORITHM"), name


def test_hostile_id_token_at_the_callback_is_a_login_error(make_app, provider):
    for name in ("crit not a list", "nested header", "kid an object"):
        provider.config.id_token_header = {}
        live = make_app()
        token = hostile_tokens(provider)[name]
        with pytest.raises(Exception) as caught:
            live.services.verifier.verify_id_token(token)
        assert getattr(caught.value, "code", None) == "INVALID_SIGNATURE", name


@pytest.mark.parametrize("header,claims", [
    ({"typ": "logout+jwt"}, {}),
    ({}, {"events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
    ({"typ": "secevent+jwt"}, {}),
    ({"typ": "dpop+jwt"}, {}),
])
def test_logout_and_other_typed_tokens_are_never_bearer_tokens(make_app, provider, header, claims):
    live = make_app(OPENID_AUDIENCE="https://api.example.com")
    token = provider.mint(provider.decode(provider.mint_id_token(**claims))[1], header=header)
    response = live.get(live.session(), "/api/user", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and error_code(response) == "INVALID_SIGNATURE"
    plain = provider.mint_id_token()
    ok = live.get(live.session(), "/api/user", headers={"Authorization": f"Bearer {plain}"})
    assert ok.status_code == 200  # the same token without the marker is accepted


@pytest.mark.parametrize("header,claims", [({"typ": "at+jwt"}, {}), ({}, {"scope": "openid"}), ({}, {"scp": ["a"]})])
def test_an_access_token_is_never_an_id_token_at_login(make_app, provider, header, claims):
    provider.config.id_token_header = header
    provider.config.id_token_claims = claims
    live = make_app()
    response = live.get(live.session(), "/oauth/openid")
    assert response.status_code == 401 and error_code(response) == "INVALID_SIGNATURE"


def test_required_role_holds_for_existing_sessions_without_reuse(make_app, provider, tmp_path):
    instance = str(tmp_path / "one-instance")
    provider.user["roles"] = ["user"]
    open_door = make_app(INSTANCE_PATH=instance)
    http = open_door.login()
    assert open_door.get(http, "/api/user").status_code == 200
    # The admin now requires a role this user lacks; the same store, the same cookie.
    strict = make_app(INSTANCE_PATH=instance, OPENID_REQUIRED_ROLE="admin")
    replay = strict.session()
    replay.cookies.set(strict.services.settings.cookie_name, open_door.cookie(http))
    first = strict.get(replay, "/api/user")
    assert first.status_code == 403 and error_code(first) == "ROLE_REQUIRED"
    assert_no_session(strict, replay)  # ended, not just refused once
    page = strict.get(strict.session(), "/", allow_redirects=False)
    assert page.status_code == 302


def test_a_new_login_in_the_same_browser_deletes_the_previous_token_record(make_app):
    live = make_app(**REUSE)
    http = live.login()
    first = live.vault(http)
    assert live.services.refresher.load(first) is not None
    live.login(http)
    assert live.services.refresher.load(first) is None
    assert live.vault(http).ticket != first.ticket
    assert live.get(http, "/api/user").status_code == 200


def test_cross_site_refresh_is_refused_and_the_session_survives(make_app, provider):
    live = make_app(**REUSE)
    http = live.login()
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        response = live.post(http, "/api/auth/refresh", data={"x": "1"}, headers=headers)
        assert response.status_code == 403, headers
    assert provider.grants["refresh_token"] == 0
    ok = live.post(http, "/api/auth/refresh", json={}, headers={"Origin": live.url})
    assert ok.status_code == 200 and provider.grants["refresh_token"] == 1


def test_the_demo_does_not_inherit_deployment_settings(monkeypatch, tmp_path):
    for name, value in {"REDIS_URI": "redis://prod:6379/0", "TRUST_PROXY": "2",
                        "SESSION_COOKIE_NAME": "prod", "SESSION_IDLE_TIMEOUT": "60",
                        "REDIS_KEY_PREFIX": "prod:", "DEBUG_OPENID_REQUESTS": "true"}.items():
        monkeypatch.setenv(name, value)
    import argparse

    args = argparse.Namespace(port=3080, idp_port=3081)
    env = demo.server_env(args, "client-secret", tmp_path)
    for name in ("REDIS_URI", "TRUST_PROXY", "SESSION_COOKIE_NAME", "SESSION_IDLE_TIMEOUT", "REDIS_KEY_PREFIX"):
        assert name not in env, name
    assert env["DEBUG_OPENID_REQUESTS"] == "true"  # a developer's switch, kept


def test_the_placeholder_secret_fails_check_and_public_serving(provider):
    assert secret_strength(PLACEHOLDER_SECRET)[0] == "FAIL"
    base = {"OPENID_ISSUER": provider.issuer, "OPENID_CLIENT_ID": "c", "OPENID_SESSION_SECRET": PLACEHOLDER_SECRET}
    assert load_settings(base, use_dotenv=False)  # loopback: a developer trying it out
    with pytest.raises(SettingsError) as caught:
        load_settings({**base, "DOMAIN_SERVER": "https://chat.example.com"}, use_dotenv=False)
    assert any("placeholder" in p for p in caught.value.problems)
    env_example = (ROOT / ".env.example").read_text()
    assert f"OPENID_SESSION_SECRET={PLACEHOLDER_SECRET}" in env_example


@pytest.mark.timeout(60)
def test_flask_run_ignores_a_stray_flask_debug_from_a_parent_folder(tmp_path, provider):
    (tmp_path / ".env").write_text("FLASK_DEBUG=1\n")
    work = tmp_path / "project"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "OPENID_"))}
    env.update(PYTHONPATH=str(ROOT), OPENID_ISSUER=provider.issuer, OPENID_CLIENT_ID="c",
               OPENID_SESSION_SECRET=SECRET, INSTANCE_PATH=str(tmp_path / "instance"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "run", "--port", "0"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = ""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
            if "Running on" in line or "Traceback" in line:
                break
    finally:
        proc.terminate()
        proc.wait(10)
    assert "Debug mode: off" in output, output
    assert "Debugger is active" not in output
    assert "ignoring FLASK_DEBUG" in output
