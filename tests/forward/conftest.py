"""Fixtures for forward auth through real proxies: the sample chat app, `oidc-login serve`
(several workers, TRUST_PROXY=1, DOMAIN_SERVER = the proxy's https URL) and nginx or Caddy
running the shipped configuration in front of both, over TLS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.servers import LoginServer
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.forward.certs import make_certificate
from tests.forward.chat_app import ChatApp
from tests.forward.proxies import PROXIES, Proxy
from tests.interop.harness import free_port

NAVIGATE = {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,application/xhtml+xml"}
FETCH = {"Sec-Fetch-Mode": "cors", "Accept": "application/json"}


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def chat_app() -> Iterator[ChatApp]:
    with ChatApp() as app:
        yield app


@dataclass
class Guarded:
    """One origin: the proxy in front of the login server and the chat app."""

    proxy: Proxy
    server: LoginServer
    cert: Path

    @property
    def url(self) -> str:
        return self.proxy.url

    def client(self) -> requests.Session:
        http = requests.Session()
        http.trust_env = False  # no CA bundle or proxy from the environment: this cert, direct
        http.verify = str(self.cert)
        return http

    def get(self, http: requests.Session, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 20)
        kwargs.setdefault("allow_redirects", False)
        return http.get(self.url + path, **kwargs)

    def login(self, http: requests.Session | None = None, path: str = "/c/start?x=1") -> requests.Session:
        """A browser-like login with the test provider (which approves at once): the app's
        page -> /login -> the provider -> back on the app's page."""
        http = http or self.client()
        first = self.get(http, path, headers=NAVIGATE)
        assert first.status_code == 302, (first.status_code, first.text[:300])
        login_page = first.headers["Location"]
        assert login_page.startswith("/login?return_to=")
        start = login_page.replace("/login?", "/oauth/openid?", 1)
        landed = http.get(self.url + start, headers=NAVIGATE, timeout=20)
        assert landed.status_code == 200, (landed.status_code, landed.url, landed.text[:300])
        assert landed.url == self.url + path, landed.url
        return http

    def logs(self) -> str:
        return f"--- {self.proxy.name} ---\n{self.proxy.logs()}\n--- server ---\n{self.server.logs()}"


@pytest.fixture
def make_guarded(request: pytest.FixtureRequest, tls_files: tuple[Path, Path], chat_app: ChatApp
                 ) -> Iterator[Callable[..., Guarded]]:
    """make_guarded("nginx" | "caddy", issuer=..., **settings) -> a running Guarded."""
    started: list[Any] = []

    def make(kind: str, *, issuer: str | None = None, idp: Callable[[str], Any] | None = None,
             client_id: str = CLIENT_ID, client_secret: str | None = CLIENT_SECRET,
             **settings: str) -> Guarded:
        """`issuer`: a running provider's; or `idp(proxy_url)` starts one that must know the
        proxy's URL (its redirect URIs) and returns it (with issuer, client_id, client_secret)."""
        cert, key = tls_files
        server_port = free_port()
        proxy = PROXIES[kind](cert=cert, key=key, oidc_login=f"127.0.0.1:{server_port}",
                              app=f"127.0.0.1:{chat_app.port}")
        if idp is not None:
            provider = idp(proxy.url)
            started.append(provider)
            issuer, client_id, client_secret = provider.issuer, provider.client_id, provider.client_secret
        env = {"DOMAIN_SERVER": proxy.url, "DOMAIN_CLIENT": proxy.url, "TRUST_PROXY": "1",
               "OPENID_BUTTON_LABEL": "Continue with Test SSO", **settings}
        server = LoginServer(port=server_port, issuer=issuer or "", client_id=client_id,
                             client_secret=client_secret, settings=env)
        started.append(server)
        server.start()
        started.append(proxy)
        proxy.start()
        guarded = Guarded(proxy=proxy, server=server, cert=cert)
        request.node.guarded = guarded
        return guarded

    yield make
    guarded = getattr(request.node, "guarded", None)
    logs = guarded.logs() if guarded is not None else ""
    for process in reversed(started):
        process.stop()
    if logs:
        print(logs)  # shown by pytest only when the test failed
