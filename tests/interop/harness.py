"""Run panva's ``oidc-provider`` (npm) on loopback for the interop tests.

``tests/interop/provider.mjs`` configures it like Auth0 (``audience`` -> JWT access tokens,
opaque ones otherwise, ``offline_access`` refresh tokens, RP-initiated logout, PKCE S256).
Install it with ``npm ci --prefix tests/interop``.

    with OidcProviderProcess(redirect_uri="http://127.0.0.1:5000/oauth/openid/callback",
                             audience="https://api.example.test", access_token_ttl=20) as op:
        op.issuer, op.client_id, op.client_secret
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
import time
from pathlib import Path

import requests

from tests.processes import stop as stop_process

INTEROP_DIR = Path(__file__).resolve().parent
PROVIDER_SCRIPT = INTEROP_DIR / "provider.mjs"
NODE_MODULES = INTEROP_DIR / "node_modules"

DEFAULT_USER = {
    "login": "alice",
    "password": "alice-password",
    "sub": "auth0|alice",
    "email": "alice@example.test",
    "name": "Alice Interop",
    "roles": ["user"],
}


def node_binary() -> str | None:
    return shutil.which("node")


def node_modules_ready() -> bool:
    """True when ``npm ci --prefix tests/interop`` has installed oidc-provider and node exists."""
    return (
        node_binary() is not None
        and (NODE_MODULES / "oidc-provider" / "package.json").is_file()
    )


def installed_version() -> str | None:
    try:
        return json.loads((NODE_MODULES / "oidc-provider" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the OS picks it; a tiny race remains for the caller)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProviderStartError(RuntimeError):
    pass


class OidcProviderProcess:
    """Context manager: ``node provider.mjs`` on 127.0.0.1, stopped on exit.

    ``port=0`` (default) lets the provider bind a free port itself (no race); the issuer is
    read from its first stdout line. Keyword options map to the env vars documented in
    provider.mjs: ``client_id``, ``client_secret``, ``redirect_uri`` (str or list),
    ``post_logout_redirect_uri`` (str or list), ``audience``, ``access_token_ttl``,
    ``id_token_ttl``, ``refresh_token_ttl``, ``rotate_refresh_token``,
    ``token_endpoint_auth_method``, ``user`` (dict overriding DEFAULT_USER), ``debug``,
    ``expose_tokens`` (collect every token response in ``.token_responses``),
    ``backchannel_logout_uri``, ``backchannel_logout_session_required``, ``revocation``,
    ``extra_accounts`` (list of account dicts).
    """

    def __init__(self, port: int = 0, *, startup_timeout: float = 20.0, **options):
        self.port = port
        self.startup_timeout = startup_timeout
        self.client_id: str = options.pop("client_id", "interop-client")
        self.client_secret: str = options.pop("client_secret", None) or secrets.token_urlsafe(32)
        self.user = {**DEFAULT_USER, **options.pop("user", {})}
        self.options = options
        self.issuer: str | None = None
        self.proc: subprocess.Popen | None = None
        self._stderr: list[str] = []
        self._stdout: list[str] = []
        #: every successful /token response (with ``expose_tokens=True``), oldest first
        self.token_responses: list[dict] = []

    # -- environment ---------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        def csv(v):
            return ",".join(v) if isinstance(v, (list, tuple)) else str(v)

        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "NODE_ENV": "development",
            "PORT": str(self.port),
            "CLIENT_ID": self.client_id,
            "CLIENT_SECRET": self.client_secret,
            "USER_LOGIN": self.user["login"],
            "USER_PASSWORD": self.user["password"],
            "ACCOUNT_SUB": self.user["sub"],
            "ACCOUNT_EMAIL": self.user["email"],
            "ACCOUNT_NAME": self.user["name"],
            "ACCOUNT_ROLES": csv(self.user["roles"]),
        }
        mapping = {
            "redirect_uri": "REDIRECT_URI",
            "post_logout_redirect_uri": "POST_LOGOUT_REDIRECT_URI",
            "audience": "AUDIENCE",
            "access_token_ttl": "ACCESS_TOKEN_TTL",
            "id_token_ttl": "ID_TOKEN_TTL",
            "refresh_token_ttl": "REFRESH_TOKEN_TTL",
            "rotate_refresh_token": "ROTATE_REFRESH_TOKEN",
            "token_endpoint_auth_method": "TOKEN_ENDPOINT_AUTH_METHOD",
            "force_consent_for_offline": "FORCE_CONSENT_FOR_OFFLINE",
            "debug": "DEBUG_PROVIDER",
            "expose_tokens": "EXPOSE_TOKENS",
            "backchannel_logout_uri": "BACKCHANNEL_LOGOUT_URI",
            "backchannel_logout_session_required": "BACKCHANNEL_LOGOUT_SESSION_REQUIRED",
            "revocation": "REVOCATION",
            "extra_accounts": "EXTRA_ACCOUNTS",
        }
        for key, value in self.options.items():
            if key not in mapping:
                raise TypeError(f"unknown oidc-provider option {key!r}")
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            if key == "extra_accounts":
                value = json.dumps(value)
            env[mapping[key]] = csv(value)
        if "REDIRECT_URI" not in env:
            raise TypeError("redirect_uri is required")
        return env

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> "OidcProviderProcess":
        node = node_binary()
        if node is None or not node_modules_ready():
            raise ProviderStartError(
                "oidc-provider is not installed: run `npm ci --prefix tests/interop`"
            )
        self.proc = subprocess.Popen(
            [node, str(PROVIDER_SCRIPT)],
            cwd=str(INTEROP_DIR),
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        ready = threading.Event()

        def pump_stdout():
            for line in self.proc.stdout:
                try:
                    msg = json.loads(line)
                except ValueError:
                    msg = None
                if isinstance(msg, dict) and "token_response" in msg:
                    self.token_responses.append(msg["token_response"])
                    continue  # never keep tokens in the printable log
                self._stdout.append(line.rstrip("\n"))
                if self.issuer is None and isinstance(msg, dict):
                    if msg.get("ready"):
                        self.issuer = msg["issuer"]
                        self.port = msg["port"]
                        ready.set()

        def pump_stderr():
            for line in self.proc.stderr:
                self._stderr.append(line.rstrip("\n"))

        threading.Thread(target=pump_stdout, daemon=True).start()
        threading.Thread(target=pump_stderr, daemon=True).start()

        deadline = time.monotonic() + self.startup_timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ProviderStartError(f"oidc-provider did not start: {self.logs()}")
        while True:
            try:
                r = requests.get(self.discovery_url, timeout=2)
                if r.status_code == 200 and r.json().get("issuer") == self.issuer:
                    return self
            except (requests.RequestException, ValueError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ProviderStartError(f"oidc-provider discovery never answered: {self.logs()}")
            time.sleep(0.1)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_process(proc)
        for stream in (proc.stdout, proc.stderr):
            try:
                stream.close()
            except Exception:
                pass

    def __enter__(self) -> "OidcProviderProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers -------------------------------------------------------------------------
    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def discovery(self) -> dict:
        return requests.get(self.discovery_url, timeout=5).json()

    def issued_tokens(self) -> list[str]:
        """Every access, refresh and ID token issued so far (needs ``expose_tokens=True``)."""
        out = []
        for resp in self.token_responses:
            for key in ("access_token", "refresh_token", "id_token"):
                if resp.get(key):
                    out.append(resp[key])
        return out

    def logs(self) -> str:
        return "\n".join(["stdout:", *self._stdout[-30:], "stderr:", *self._stderr[-60:]])
