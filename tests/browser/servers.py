"""Processes for the browser tests: our server started the way an admin starts it, and the
bundled development provider. Both on loopback, on free ports, stopped at the end.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.interop.harness import free_port

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))


def random_secret(n: int = 40) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _base_env() -> dict[str, str]:
    """A clean environment: no OPENID_* / DEVIDP_* leaking in from the caller's shell."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ManagedProcess:
    """A subprocess in its own session with output in a log file, stopped by its id."""

    name = "process"

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix=f"oidc-login-{self.name}-"))
        self.log_path = self.workdir / "output.log"

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=str(self.workdir),  # no stray .env is read from the repo
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"{self.name} exited with {code}:\n{self.logs()}")
            try:
                r = requests.get(url, timeout=2, allow_redirects=False)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout}s ({last}):\n{self.logs()}")

    def logs(self, tail: int = 80) -> str:
        if self.proc is None and getattr(self, "final_logs", None) is not None:
            return self.final_logs
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            # The process group we created (gunicorn master + its workers), by its id.
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
            self.final_logs = self.logs(tail=200)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class LoginServer(ManagedProcess):
    """``python -m app.cli serve`` configured from environment variables, like an admin does.

    ``settings`` are extra/override environment variables (``OPENID_AUDIENCE`` etc.).
    """

    name = "server"

    def __init__(self, *, issuer: str, client_id: str, client_secret: str | None,
                 port: int | None = None, settings: dict[str, str] | None = None) -> None:
        super().__init__()
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.instance_path = self.workdir / "instance"
        self.instance_path.mkdir()
        env = _base_env()
        env.update({
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DOMAIN_SERVER": self.base_url,
            "DOMAIN_CLIENT": self.base_url,
            "OPENID_ISSUER": issuer,
            "OPENID_CLIENT_ID": client_id,
            "OPENID_SCOPE": "openid profile email offline_access",
            "OPENID_SESSION_SECRET": random_secret(40),
            "INSTANCE_PATH": str(self.instance_path),
        })
        if client_secret:
            env["OPENID_CLIENT_SECRET"] = client_secret
        for key, value in (settings or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        self.env = env

    @property
    def callback_url(self) -> str:
        return self.base_url + self.env.get("OPENID_CALLBACK_URL", "/oauth/openid/callback")

    def start(self) -> "LoginServer":
        self._spawn([PYTHON, "-m", "app.cli", "serve"], self.env)
        self._wait_http(self.base_url + "/healthz", timeout=30)
        return self


class DevIdp(ManagedProcess):
    """The bundled development provider, ``python -m app.devidp``, on a free loopback port."""

    name = "devidp"

    def __init__(self, *, redirect_uri: str, post_logout_redirect_uri: str,
                 access_token_ttl: int | None = None, port: int | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client_id = "oidc-login-browser-tests"
        self.client_secret = random_secret(32)
        env = _base_env()
        env.update({
            "DEVIDP_HOST": "127.0.0.1",
            "DEVIDP_PORT": str(self.port),
            "DEVIDP_INSTANCE_DIR": str(self.workdir / "instance"),
            "DEVIDP_CLIENT_ID": self.client_id,
            "DEVIDP_CLIENT_SECRET": self.client_secret,
            "DEVIDP_REDIRECT_URIS": redirect_uri,
            "DEVIDP_POST_LOGOUT_REDIRECT_URIS": post_logout_redirect_uri,
        })
        if access_token_ttl:
            env["DEVIDP_ACCESS_TOKEN_TTL"] = str(access_token_ttl)
        env.update(extra_env or {})
        self.env = env

    def start(self) -> "DevIdp":
        self._spawn([PYTHON, "-m", "app.devidp", "--host", "127.0.0.1", "--port", str(self.port)],
                    self.env)
        self._wait_http(self.issuer + "/.well-known/openid-configuration", timeout=20)
        return self
