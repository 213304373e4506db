"""`oidc-login serve` as a service: metrics across 2 workers on their own listener, JSON logs,
checks before forking, SIGHUP, and the multi-host warning. Real gunicorn, real provider."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CLIENT_ID, CLIENT_SECRET, REUSE, SECRET
from tests.redis_server import RedisServer, redis_available
from tests.test_serve import ROOT, free_port, login, provider_env, serve


def scrape(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(f"http://{address}/metrics", timeout=5).text
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_exactly_across_two_workers_and_stay_off_the_public_port(tmp_path, provider):
    address = f"127.0.0.1:{free_port()}"
    env = provider_env(provider, tmp_path / "inst", **REUSE, WEB_WORKERS="2", METRICS_ADDRESS=address)
    with serve(env, tmp_path) as served:
        before = scrape(address)
        sessions = [login(served.url) for _ in range(3)]  # fresh connections: both workers serve
        refreshed = sessions[0].post(served.url + "/api/auth/refresh", json={},
                                     headers={"Origin": served.url}, timeout=10)
        assert refreshed.status_code == 200, refreshed.text
        failed = requests.get(served.url + "/oauth/openid/callback?state=forged&code=x", timeout=10)
        assert failed.status_code == 400
        out = sessions[1].post(served.url + "/api/auth/logout", json={}, headers={"Origin": served.url}, timeout=10)
        assert out.status_code == 200
        after = scrape(address)
        public = requests.get(served.url + "/metrics", timeout=5)

    assert delta(before, after, "oidc_login_logins_total", code="ok") == 3
    assert delta(before, after, "oidc_login_logins_total", code="INVALID_STATE") == 1
    assert delta(before, after, "oidc_login_refresh_grants_total", outcome="ok") == 1
    assert delta(before, after, "oidc_login_sessions_ended_total", reason="logout") == 1
    assert delta(before, after, "oidc_login_provider_calls_total", endpoint="token", status="2xx") == 4
    assert delta(before, after, "oidc_login_request_duration_seconds_count", route="auth.callback") == 4
    assert delta(before, after, "oidc_login_jwks_fetches_total", reason="initial") >= 1
    assert provider.grants["refresh_token"] == 1
    # Labels are names, never paths, users or tokens.
    for name, labels in after:
        for _, value in labels:
            assert "/" not in value and "user-123" not in value and "eyJ" not in value, (name, labels)
    assert public.status_code == 404
    assert "oidc_login_" not in public.text


def test_json_logs_one_object_per_line_with_request_ids_and_no_secrets(tmp_path, provider):
    env = provider_env(provider, tmp_path / "inst", **REUSE, LOG_FORMAT="json", TRUST_PROXY="1",
                       DEBUG_OPENID_REQUESTS="true")
    with serve(env, tmp_path) as served:
        http = requests.Session()
        response = http.get(served.url + "/oauth/openid", headers={"X-Request-ID": "login-trace-1"}, timeout=15)
        assert response.status_code == 200
        callback_id = response.history[-1].headers["X-Request-ID"]
        http.get(served.url + "/oauth/openid/callback?code=leaky-code-123&state=leaky-state-456", timeout=10)
        out = http.post(served.url + "/api/auth/logout", json={}, timeout=10,
                        headers={"Origin": served.url, "X-Request-ID": "logout-trace-2"})
        assert out.status_code == 200 and out.headers["X-Request-ID"] == "logout-trace-2"
        time.sleep(0.5)
        output = served.output()

    lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # every line parses
    for line in lines:
        assert {"ts", "level", "event", "request_id"} <= set(line), line
    access = [x for x in lines if "http" in x]
    assert any(x["request_id"] == "login-trace-1" and x["http"]["path"] == "/oauth/openid" for x in access)
    callback_lines = [x for x in lines if x["request_id"] == callback_id]
    assert any("login ok for u:" in x["event"] for x in callback_lines)
    assert any(x["event"].startswith("provider POST") for x in callback_lines)  # the token call
    logout = [x for x in lines if x["request_id"] == "logout-trace-2" and "logout for" in x["event"]]
    assert logout and logout[0]["user"].startswith("u:") and logout[0]["user"] in logout[0]["event"]

    secrets = {SECRET, CLIENT_SECRET, "leaky-code-123", "leaky-state-456"}
    secrets |= provider.secrets_seen()
    for secret in secrets:
        assert secret not in output, f"leaked {secret[:12]}..."
    assert "eyJ" not in output and "ada@example.com" not in output and "user-123" not in output


def _serve_once(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OPENID_", "DOMAIN_", "REDIS_"))}
    full.update({"PYTHONPATH": str(ROOT), "HOST": "127.0.0.1", "PORT": str(free_port()), **env})
    return subprocess.run([sys.executable, "-m", "app.cli", "serve"], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.redis
@pytest.mark.skipif(not redis_available(), reason="redis-server is not installed (apt-get install redis-server)")
def test_serve_names_every_problem_before_forking(tmp_path, provider):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    policy = tmp_path / "policy.yaml"
    policy.write_text("roles: [this is: not: a mapping")
    with RedisServer(password="right-password") as redis_server:
        wrong = redis_server.uri.replace("right-password", "wrong-password")
        env = provider_env(provider, blocker / "instance", REDIS_URI=wrong, OPENID_ROLE_POLICY=str(policy))
        result = _serve_once(env, tmp_path)
    assert result.returncode == 2, result.stderr
    err = result.stderr
    assert "INSTANCE_PATH" in err and "REDIS_URI" in err and "OPENID_ROLE_POLICY" in err, err
    assert "wrong-password" not in err and "right-password" not in err
    assert "Booting worker" not in err and "Traceback" not in err


def test_serve_refuses_an_unreachable_redis_naming_it(tmp_path, provider):
    env = provider_env(provider, tmp_path / "inst", REDIS_URI=f"redis://127.0.0.1:{free_port()}/0")
    result = _serve_once(env, tmp_path)
    assert result.returncode == 2
    assert "REDIS_URI=redis://127.0.0.1:" in result.stderr and "Booting worker" not in result.stderr


def test_sighup_rereads_dotenv(tmp_path, provider):
    dotenv = tmp_path / ".env"
    base = (f"OPENID_ISSUER={provider.issuer}\nOPENID_CLIENT_ID={CLIENT_ID}\n"
            f"OPENID_CLIENT_SECRET={CLIENT_SECRET}\nOPENID_SESSION_SECRET={SECRET}\n"
            f"INSTANCE_PATH={tmp_path / 'inst'}\n")
    dotenv.write_text(base + "OPENID_BUTTON_LABEL=Label before\n")
    with serve({}, tmp_path) as served:
        assert "Label before" in requests.get(served.url + "/login", timeout=5).text
        dotenv.write_text(base + "OPENID_BUTTON_LABEL=Label after\n")
        os.kill(served.process.pid, signal.SIGHUP)
        deadline = time.time() + 20
        while "Label after" not in requests.get(served.url + "/login", timeout=5).text:
            assert time.time() < deadline, served.output()
            time.sleep(0.2)
        # A broken .env on the next SIGHUP keeps the running settings.
        dotenv.write_text(base + "OPENID_BUTTON_LABEL=Label broken\nOPENID_REUSE_TOKENS=perhaps\n")
        os.kill(served.process.pid, signal.SIGHUP)
        time.sleep(2)
        assert "Label after" in requests.get(served.url + "/login", timeout=5).text
        assert served.process.poll() is None
        assert "SIGHUP ignored" in served.output()


def test_file_store_behind_a_proxy_warns_at_start_and_in_check(tmp_path, provider):
    env = provider_env(provider, tmp_path / "inst", TRUST_PROXY="1")
    with serve(env, tmp_path) as served:
        time.sleep(0.3)
        assert "REDIS_URI" in served.output() and "several hosts" in served.output()
    full = {k: v for k, v in os.environ.items() if not k.startswith(("OPENID_", "DOMAIN_", "REDIS_"))}
    full.update({"PYTHONPATH": str(ROOT), **env})
    check = subprocess.run([sys.executable, "-m", "app.cli", "check", "--json"], cwd=tmp_path, env=full,
                           capture_output=True, text=True, timeout=60)
    rows = json.loads(check.stdout)["checks"]
    store = [r for r in rows if r["name"] == "store"]
    assert store and store[0]["status"] == "WARN" and "REDIS_URI" in store[0]["hint"]


def test_graceful_timeout_covers_the_longest_request():
    from app.oidc.refresh import RefreshPolicy
    from app.serving import longest_request_wait
    from app.settings import load_settings

    settings = load_settings({"OPENID_ISSUER": "https://idp.example.com", "OPENID_CLIENT_ID": "c",
                              "OPENID_SESSION_SECRET": SECRET}, use_dotenv=False)
    assert longest_request_wait(settings) > RefreshPolicy().lock_wait + 3 * settings.http_timeout
