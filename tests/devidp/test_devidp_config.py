"""Settings of the development provider and its loopback-only rule."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from app.devidp import NonLoopbackError, create_devidp, is_loopback_host, make_devidp_server
from app.devidp.config import ConfigError, EnvSettings, parse_users

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "", "localhost.evil.com"])
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback_host(host)


def test_server_refuses_to_bind_non_loopback(tmp_path: Path) -> None:
    app = create_devidp("http://127.0.0.1:1", str(tmp_path), client_id="c", client_secret="s",
                        redirect_uris=["http://localhost:1/cb"], post_logout_redirect_uris=[])
    with pytest.raises(NonLoopbackError, match="loopback"):
        make_devidp_server(app, "0.0.0.0", 0)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_cli_refuses_non_loopback_with_clear_error(tmp_path: Path, host: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "app.devidp", "--host", host, "--port", "0", "--instance-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode != 0
    assert "loopback" in proc.stderr and "Traceback" not in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_runs_standalone_with_env_settings(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEVIDP_INSTANCE_DIR": str(tmp_path),
           "DEVIDP_CLIENT_ID": "standalone", "DEVIDP_USERS": "alice:wonder:Alice Liddell:alice@example.com:reader"}
    proc = subprocess.Popen([sys.executable, "-m", "app.devidp", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                meta = requests.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=1).json()
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "provider did not start"
                time.sleep(0.1)
        assert meta["issuer"] == f"http://127.0.0.1:{port}"
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=5).text
        assert "<kbd>alice</kbd>" in login and "<kbd>wonder</kbd>" in login
        assert (tmp_path / "devidp" / "signing-key.json").exists()
    finally:
        proc.terminate()
        proc.wait(10)


def test_parse_users() -> None:
    users = parse_users("demo:demo:Demo User:demo@example.com:user|admin, bob:pw")
    assert users[0] == {"username": "demo", "password": "demo", "name": "Demo User",
                        "email": "demo@example.com", "roles": ["user", "admin"]}
    assert users[1]["name"] == "bob" and users[1]["roles"] == [] and users[1]["email"] == "bob@example.com"
    with pytest.raises(ConfigError):
        parse_users("just-a-name")
    with pytest.raises(ConfigError):
        parse_users(" , ")


def test_env_settings_defaults_and_overrides() -> None:
    s = EnvSettings.from_env({})
    assert (s.host, s.port, s.client_secret) == ("127.0.0.1", 3081, "oidc-login-dev-secret")
    assert s.users[0]["username"] == "demo" and s.users[0]["roles"] == ["user", "admin"]
    assert "http://localhost:3080/oauth/openid/callback" in s.redirect_uris
    assert "http://127.0.0.1:3080/oauth/openid/callback" in s.redirect_uris
    s = EnvSettings.from_env({"DEVIDP_CLIENT_SECRET": "", "DEVIDP_ACCESS_TOKEN_TTL": "60",
                              "DEVIDP_REDIRECT_URIS": "http://localhost:1/a, http://localhost:1/b"})
    assert s.client_secret is None and s.access_token_ttl == 60
    assert s.redirect_uris == ["http://localhost:1/a", "http://localhost:1/b"]
    with pytest.raises(ConfigError, match="DEVIDP_ACCESS_TOKEN_TTL"):
        EnvSettings.from_env({"DEVIDP_ACCESS_TOKEN_TTL": "soon"})


def test_bad_issuer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        create_devidp("127.0.0.1:3081", str(tmp_path), client_id="c", client_secret=None,
                      redirect_uris=["http://localhost/cb"], post_logout_redirect_uris=[])


def test_issuer_with_trailing_slash_like_auth0(tmp_path: Path) -> None:
    """The issuer string is kept exactly (Auth0 ends it with a slash); endpoints hang below it."""
    app = create_devidp("http://127.0.0.1:3081/", str(tmp_path), client_id="c", client_secret=None,
                        redirect_uris=["http://localhost/cb"], post_logout_redirect_uris=[])
    meta = app.test_client().get("/.well-known/openid-configuration").get_json()
    assert meta["issuer"] == "http://127.0.0.1:3081/"
    assert meta["token_endpoint"] == "http://127.0.0.1:3081/oauth/token"


def test_access_log_redacts_tokens_in_query_strings() -> None:
    from app.devidp.server import _SECRET_PARAMS

    line = '"GET /oidc/logout?id_token_hint=eyJ.abc.def&state=s&post_logout_redirect_uri=x HTTP/1.1"'
    out = _SECRET_PARAMS.sub(r"\1[redacted]", line)
    assert "eyJ" not in out and "id_token_hint=[redacted]&state=s" in out
