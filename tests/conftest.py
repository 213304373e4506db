"""Fixtures: the controllable test provider, and our server on a real loopback port."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from app import create_app
from app.settings import load_settings
from tests.provider import TestProvider

# Under CI=true a skip (a missing service or browser) is a failure: see tests/ci_strict.py.
pytest_plugins = ["tests.ci_strict"]

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
SECRET = "a-session-secret-that-is-long-enough-1234"


@pytest.fixture(scope="session")
def _provider() -> Iterator[TestProvider]:
    with TestProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as provider:
        yield provider


@pytest.fixture
def provider(_provider: TestProvider) -> Iterator[TestProvider]:
    """One provider for the session (keys are costly), reset before every test."""
    _provider.reset()
    if not _provider.running:
        _provider.start()
    yield _provider
    _provider.reset()
    if not _provider.running:
        _provider.start()


@dataclass
class LiveApp:
    """Our server on 127.0.0.1:<port>, serving one Flask app in a thread."""

    url: str
    app: Any
    server: Any

    def session(self) -> requests.Session:
        return requests.Session()

    def get(self, http: requests.Session, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return http.get(self.url + path, **kwargs)

    def post(self, http: requests.Session, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return http.post(self.url + path, **kwargs)

    def login(self, http: requests.Session | None = None, return_to: str = "/") -> requests.Session:
        """A full login through the provider; asserts it lands on return_to."""
        http = http or self.session()
        response = self.get(http, "/oauth/openid", params={"return_to": return_to})
        assert response.status_code == 200, (response.status_code, response.text[:500])
        return http

    def start_login(self, http: requests.Session) -> dict[str, str]:
        """Starts a login and stops at the provider's redirect back: the callback's params."""
        response = self.get(http, "/oauth/openid", allow_redirects=False)
        assert response.status_code == 302
        at_provider = http.get(response.headers["Location"], allow_redirects=False, timeout=15)
        assert at_provider.status_code == 302, at_provider.text
        from urllib.parse import parse_qsl, urlsplit

        return dict(parse_qsl(urlsplit(at_provider.headers["Location"]).query))

    @property
    def services(self) -> Any:
        return self.app.extensions["oidc_login"]

    def vault(self, http: requests.Session) -> Any:
        """This browser's session vault (hashed keys, sealed values), as the server opens it."""
        return self.app.session_interface.vault(self.cookie(http))

    def cookie(self, http: requests.Session) -> str | None:
        return http.cookies.get(self.services.settings.cookie_name)


def base_env(provider: TestProvider, port: int, instance: str) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}"
    return {
        "OPENID_ISSUER": provider.issuer,
        "OPENID_CLIENT_ID": CLIENT_ID,
        "OPENID_CLIENT_SECRET": CLIENT_SECRET,
        "OPENID_SESSION_SECRET": SECRET,
        "DOMAIN_SERVER": url,
        "DOMAIN_CLIENT": url,
        "INSTANCE_PATH": instance,
    }


@pytest.fixture
def make_app(provider: TestProvider, tmp_path: Any) -> Iterator[Callable[..., LiveApp]]:
    """make_app(OPENID_REUSE_TOKENS="true", ...) -> a running LiveApp against `provider`."""
    servers: list[Any] = []

    def factory(**overrides: str | None) -> LiveApp:
        server = make_server("127.0.0.1", 0, None, threaded=True)
        env = base_env(provider, server.server_port, str(tmp_path / f"instance{len(servers)}"))
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        app = create_app(load_settings(env, use_dotenv=False))
        server.app = app
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        return LiveApp(url=f"http://127.0.0.1:{server.server_port}", app=app, server=server)

    yield factory
    for server in servers:
        server.shutdown()
        server.server_close()


REUSE = {
    "OPENID_REUSE_TOKENS": "true",
    "OPENID_SCOPE": "openid profile email offline_access",
    "OPENID_AUDIENCE": "https://api.example.com",
}


# -- the one browser of the session (tests/browser, tests/forward): Debian's chromium --------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium():
    """One Playwright and one chromium for the whole run: Playwright's sync API cannot run two
    at once in one process, so every browser test shares this one."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                    timeout=30_000)
        try:
            yield browser
        finally:
            browser.close()
