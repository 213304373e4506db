"""``oidc-login demo``: orchestration with a stub server, port clashes, and (when the real
``serve`` is present) a whole login through the demo."""

from __future__ import annotations

import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
STUB = Path(__file__).with_name("stub_server.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "INSTANCE_PATH": str(tmp_path / "instance")}
    env["OPENID_REQUIRED_ROLE"] = "not-a-demo-role"  # a stray shell setting must not reach the demo
    return env


def start_stub_demo(tmp_path: Path, port: int, idp_port: int) -> tuple[subprocess.Popen, Path]:
    record = tmp_path / "stub-env.json"
    code = (
        "import sys; from app.devidp.demo import main; "
        f"sys.exit(main(sys.argv[1:], server_command=[sys.executable, {str(STUB)!r}, {str(record)!r}]))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", str(port), "--idp-port", str(idp_port)],
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return proc, record


def wait_for_output(proc: subprocess.Popen, needle: str, timeout: float = 30) -> str:
    """Read stdout lines until ``needle`` shows (bounded)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if needle in line:
            return "".join(seen)
    proc.kill()
    raise AssertionError(f"{needle!r} not printed; stdout: {''.join(seen)} stderr: {proc.stderr.read()}")  # type: ignore[union-attr]


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 30) -> tuple[int, str, str]:
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"demo did not stop within {timeout} s: {err}")
    return proc.returncode, out, err


@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_starts_both_prints_login_and_stops_cleanly(tmp_path: Path, sig: int) -> None:
    port, idp_port = free_port(), free_port()
    proc, record = start_stub_demo(tmp_path, port, idp_port)
    out = wait_for_output(proc, "Ctrl-C")
    assert f"http://localhost:{port}/" in out and "demo / demo" in out

    meta = requests.get(f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == f"http://127.0.0.1:{idp_port}"
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200

    given = json.loads(record.read_text())
    env = given["env"]
    assert env["HOST"] == "127.0.0.1" and env["PORT"] == str(port)
    assert env["OPENID_ISSUER"] == f"http://127.0.0.1:{idp_port}"
    assert env["OPENID_SCOPE"].split() == ["openid", "profile", "email", "offline_access"]
    assert env["OPENID_AUDIENCE"].startswith("https://")
    assert env["OPENID_REUSE_TOKENS"] == "true" and env["OPENID_USE_END_SESSION_ENDPOINT"] == "true"
    assert env["OPENID_REQUIRED_ROLE_PARAMETER_PATH"] == "roles"
    assert len(env["OPENID_SESSION_SECRET"]) >= 32
    assert env["DOMAIN_SERVER"] == env["DOMAIN_CLIENT"] == f"http://localhost:{port}"
    assert "OPENID_REQUIRED_ROLE" not in env, "stray OPENID_* settings must not leak into the demo"
    assert not Path(given["cwd"], ".env").exists()

    # The provider knows the client with the secret the server was given.
    tok = requests.post(meta["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": "x"},
                        auth=(env["OPENID_CLIENT_ID"], env["OPENID_CLIENT_SECRET"]), timeout=5)
    assert tok.status_code == 400 and tok.json()["error"] == "invalid_grant"  # authenticated, bad grant

    code, out, err = stop(proc, sig)
    assert code == 0, err
    assert "Traceback" not in err
    assert port_is_free(port) and port_is_free(idp_port)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("which", ["idp", "server"])
def test_demo_reports_a_taken_port(tmp_path: Path, which: str) -> None:
    port, idp_port = free_port(), free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", idp_port if which == "idp" else port))
        blocker.listen()
        proc, _ = start_stub_demo(tmp_path, port, idp_port)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    taken, option = (idp_port, "--idp-port") if which == "idp" else (port, "--port")
    assert f"port {taken}" in err and "already in use" in err and option in err
    assert "Traceback" not in err
    assert port_is_free(port) and port_is_free(idp_port)


def _form(page: str) -> tuple[str, dict[str, str]]:
    action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    fields = {n: html.unescape(v) for n, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)}
    return action, fields


def _serve_exists() -> bool:
    return (ROOT / "app" / "cli.py").exists() and (ROOT / "app" / "__init__.py").exists()


@pytest.mark.timeout(120)
@pytest.mark.skipif(not _serve_exists(), reason="oidc-login serve is not there yet")
def test_real_demo_login_shows_jwt_session_and_sigint_frees_ports(tmp_path: Path) -> None:
    port, idp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "demo", "--port", str(port), "--idp-port", str(idp_port)],
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        out = wait_for_output(proc, "Ctrl-C", timeout=60)
        user, password = re.search(r"Login\s+(\S+) / (\S+)", out).groups()  # type: ignore[union-attr]
        browser = requests.Session()
        login_page = browser.get(f"http://localhost:{port}/login", timeout=10)
        assert login_page.status_code == 200 and "Continue with Dev IdP" in login_page.text
        resp = browser.get(f"http://localhost:{port}/oauth/openid?return_to=/", timeout=10)
        assert resp.url.startswith(f"http://127.0.0.1:{idp_port}/login")
        action, fields = _form(resp.text)
        resp = browser.post(urljoin(resp.url, action), data={**fields, "username": user, "password": password,
                                                             "action": "login"}, timeout=10)
        assert "/consent" in resp.url, resp.url
        action, fields = _form(resp.text)
        resp = browser.post(urljoin(resp.url, action), data={**fields, "decision": "allow"}, timeout=10)
        assert resp.url == f"http://localhost:{port}/", resp.url
        info = browser.get(f"http://localhost:{port}/api/user", headers={"Accept": "application/json"}, timeout=10)
        assert info.status_code == 200, info.text
        body = info.json()
        assert body["sub"] == "devidp|demo" and body["roles"] == ["user", "admin"]
        assert body["session"]["reuse_tokens"] is True
        assert body["session"]["access_token_format"] == "jwt"
        assert body["session"]["has_refresh_token"] is True
    finally:
        code, out, err = stop(proc, signal.SIGINT, timeout=40)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert port_is_free(port) and port_is_free(idp_port)
