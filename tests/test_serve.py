"""`oidc-login serve` for real: gunicorn workers, several processes sharing one store
(files or Redis), settings errors, and what reaches the logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import CLIENT_ID, CLIENT_SECRET, REUSE, SECRET
from tests.redis_server import RedisServer, redis_available

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    def __init__(self, process: subprocess.Popen, url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(env: dict[str, str], tmp_path: Path, port: int | None = None) -> Iterator[Served]:
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENID_", "DOMAIN_", "REDIS_"))},
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DOMAIN_SERVER": url,
        "DOMAIN_CLIENT": url,
        "PYTHONPATH": str(ROOT),
        **env,
    }
    log = tmp_path / f"serve-{port}.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"], cwd=tmp_path, env=full,
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    served = Served(process, url, log)
    try:
        deadline = time.time() + 20
        while True:
            assert process.poll() is None, served.output()
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.time() < deadline, "server did not start:\n" + served.output()
            time.sleep(0.1)
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


def provider_env(provider, instance: Path, **extra: str) -> dict[str, str]:
    return {
        "OPENID_ISSUER": provider.issuer,
        "OPENID_CLIENT_ID": CLIENT_ID,
        "OPENID_CLIENT_SECRET": CLIENT_SECRET,
        "OPENID_SESSION_SECRET": SECRET,
        "INSTANCE_PATH": str(instance),
        **extra,
    }


def login(url: str) -> requests.Session:
    http = requests.Session()
    response = http.get(url + "/oauth/openid", timeout=15)
    assert response.status_code == 200, response.text[:500]
    return http


def race(urls: list[str], cookie: str, n: int = 50) -> list[int]:
    """n concurrent requests with the same session cookie, spread over the servers."""

    def hit(i: int) -> int:
        http = requests.Session()
        http.cookies.set("oidc_login", cookie)
        return http.get(urls[i % len(urls)] + "/api/user", timeout=30).status_code

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(hit, range(n)))


def test_bad_settings_exit_nonzero_naming_each(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENID_", "DOMAIN_"))}
    env.update({"OPENID_SESSION_SECRET": "short", "OPENID_REUSE_TOKENS": "perhaps", "PYTHONPATH": str(ROOT)})
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode != 0
    for name in ("OPENID_CLIENT_ID", "OPENID_ISSUER", "OPENID_SESSION_SECRET", "OPENID_REUSE_TOKENS"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr


def test_dotenv_is_read_from_the_working_directory(tmp_path, provider):
    (tmp_path / ".env").write_text(
        f"OPENID_ISSUER={provider.issuer}\nOPENID_CLIENT_ID={CLIENT_ID}\n"
        f"OPENID_CLIENT_SECRET={CLIENT_SECRET}\nOPENID_SESSION_SECRET={SECRET}\n"
        f"OPENID_BUTTON_LABEL=From dotenv\nINSTANCE_PATH={tmp_path / 'inst'}\n"
    )
    with serve({}, tmp_path) as served:
        assert "From dotenv" in requests.get(served.url + "/login", timeout=5).text


def test_two_workers_one_refresh_grant(tmp_path, provider):
    provider.config.access_token_ttl = 4  # refreshed when < 1 s is left (margin 1)
    provider.config.delay = {"token": 0.3}
    env = provider_env(provider, tmp_path / "inst", **REUSE, OPENID_REFRESH_MARGIN="1", WEB_WORKERS="2", WEB_THREADS="16")
    with serve(env, tmp_path) as served:
        http = login(served.url)
        time.sleep(3.1)
        codes = race([served.url], http.cookies["oidc_login"])
        assert codes == [200] * 50
        assert provider.grants["refresh_token"] == 1
        assert provider.revoked_families == 0


def test_two_processes_sharing_the_file_store(tmp_path, provider):
    provider.config.access_token_ttl = 4  # refreshed when < 1 s is left (margin 1)
    provider.config.delay = {"token": 0.3}
    env = provider_env(provider, tmp_path / "shared", **REUSE, OPENID_REFRESH_MARGIN="1")
    with serve(env, tmp_path) as a, serve(env, tmp_path) as b:
        http = login(a.url)
        assert requests.get(b.url + "/api/user", cookies={"oidc_login": http.cookies["oidc_login"]},
                            timeout=10).status_code == 200
        time.sleep(3.1)
        codes = race([a.url, b.url], http.cookies["oidc_login"])
        assert codes == [200] * 50
        assert provider.grants["refresh_token"] == 1
        assert provider.revoked_families == 0


@pytest.mark.redis
@pytest.mark.skipif(not redis_available(), reason="redis-server is not installed (apt-get install redis-server)")
def test_two_hosts_sharing_redis(tmp_path, provider):
    provider.config.access_token_ttl = 4  # refreshed when < 1 s is left (margin 1)
    provider.config.delay = {"token": 0.3}
    with RedisServer() as redis_server:
        # Separate instance folders: nothing but Redis is shared, as between two hosts.
        extra = {**REUSE, "OPENID_REFRESH_MARGIN": "1", "REDIS_URI": redis_server.uri}
        env_a = provider_env(provider, tmp_path / "host-a", **extra)
        env_b = provider_env(provider, tmp_path / "host-b", **extra)
        with serve(env_a, tmp_path) as a, serve(env_b, tmp_path) as b:
            http = login(a.url)
            cookie = http.cookies["oidc_login"]
            assert requests.get(b.url + "/api/user", cookies={"oidc_login": cookie}, timeout=10).status_code == 200
            time.sleep(3.1)
            codes = race([a.url, b.url], cookie)
            assert codes == [200] * 50
            assert provider.grants["refresh_token"] == 1
            assert provider.revoked_families == 0
            # Logout on one host kills the session on the other.
            out = requests.post(a.url + "/api/auth/logout", json={}, cookies={"oidc_login": cookie},
                                headers={"Origin": a.url}, timeout=10)
            assert out.status_code == 200
            assert requests.get(b.url + "/api/user", cookies={"oidc_login": cookie}, timeout=10).status_code == 401


def test_logs_never_hold_codes_tokens_or_secrets(tmp_path, provider):
    provider.config.access_token_ttl = 4
    env = provider_env(provider, tmp_path / "inst", **REUSE, OPENID_REFRESH_MARGIN="1", DEBUG_OPENID_REQUESTS="true")
    with serve(env, tmp_path) as served:
        http = login(served.url)
        time.sleep(3.1)
        assert http.get(served.url + "/api/user", timeout=10).status_code == 200  # refreshes
        http.get(served.url + "/oauth/openid/callback?code=leaky-code-123&state=leaky-state-456", timeout=10)
        http.get(served.url + "/api/user", headers={"Authorization": "Bearer leaky.bearer.token"}, timeout=10)
        time.sleep(0.5)
        output = served.output()
    assert provider.grants["refresh_token"] == 1
    assert "provider POST" in output and "/token -> 200" in output  # the debug log is on
    secrets = {SECRET, CLIENT_SECRET, "leaky-code-123", "leaky-state-456", "leaky.bearer.token"}
    secrets |= provider.secrets_seen()
    for secret in secrets:
        assert secret not in output, f"leaked {secret[:12]}..."
    assert "eyJ" not in output
    assert "ada@example.com" not in output and "user-123" not in output  # users are pseudonymous
    assert "u:" in output
