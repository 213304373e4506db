"""Provider calls through the company's proxy (Debian's tinyproxy on loopback) and with the
company's CA (OPENID_CA_BUNDLE), for our requests sessions and authlib's token call alike."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.oidc.http import ProviderHttp, ssl_context
from tests.conftest import CLIENT_ID, CLIENT_SECRET
from tests.processes import stop
from tests.provider import TestProvider
from tests.tls import TestCA

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TinyProxy:
    """tinyproxy in the foreground on a free loopback port; `.requests()` reads its log."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.log = folder / "tinyproxy.log"
        conf = folder / "tinyproxy.conf"
        conf.write_text(
            f"Port {self.port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{self.log}\"\nLogLevel Info\n"
            "MaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n"
        )
        self.proc = subprocess.Popen([TINYPROXY, "-d", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "tinyproxy did not start"
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> list[str]:
        """The request lines tinyproxy logged (`GET http://... HTTP/1.1`, `CONNECT ...`)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line.split("): ", 1)[1] for line in text.splitlines() if "Request (file descriptor" in line]

    def close(self) -> None:
        stop(self.proc)


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[TinyProxy]:
    if not os.path.exists(TINYPROXY):
        pytest.skip("tinyproxy is not installed (apt-get install tinyproxy)")
    proxy = TinyProxy(tmp_path)
    yield proxy
    proxy.close()


def _paths(lines: list[str]) -> list[str]:
    return [line.split()[1].split("?")[0] for line in lines]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "PROXY"])
def test_every_provider_call_goes_through_the_proxy(make_app, provider, tinyproxy, variable):
    app = make_app(**{variable: tinyproxy.url})
    app.login()
    seen = _paths(tinyproxy.requests())
    base = provider.base_url
    assert base + "/.well-known/openid-configuration" in seen
    assert base + "/jwks" in seen
    assert base + "/token" in seen  # authlib's code grant too
    assert provider.calls["token"] == 1


def test_no_proxy_bypasses_it(make_app, provider, tinyproxy):
    app = make_app(HTTP_PROXY=tinyproxy.url, NO_PROXY="127.0.0.1")
    app.login()
    assert tinyproxy.requests() == []
    assert provider.calls["token"] == 1


def test_refresh_grants_go_through_the_proxy(make_app, provider, tinyproxy):
    from tests.conftest import REUSE

    app = make_app(**REUSE, HTTP_PROXY=tinyproxy.url)
    http = app.login()
    response = app.post(http, "/api/auth/refresh", json={}, headers={"Origin": app.url})
    assert response.status_code == 200
    assert _paths(tinyproxy.requests()).count(provider.base_url + "/token") == 2


def test_https_through_the_proxy_uses_connect_and_the_bundle(tmp_path, tinyproxy):
    ca = TestCA("proxy test CA")
    files = ca.issue(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    with TestProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tls=context) as https_provider:
        http = ProviderHttp(proxies={"https": tinyproxy.url}, ca_bundle=files.ca)
        assert http.get(https_provider.discovery_url).status_code == 200
    assert any(line.startswith(f"CONNECT 127.0.0.1:{https_provider.port}") for line in tinyproxy.requests())


# -- OPENID_CA_BUNDLE -----------------------------------------------------------------------------


@pytest.fixture
def https_provider(tmp_path: Path) -> Iterator[tuple[TestProvider, str]]:
    """A provider over https whose certificate a test CA signed; yields it and the CA's PEM."""
    files = TestCA("company CA").issue(tmp_path / "company")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    with TestProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tls=context) as provider:
        yield provider, files.ca


def _https_app(make_app, provider: TestProvider, **extra: str):
    return make_app(OPENID_ISSUER=provider.issuer, **extra)


def test_private_ca_refused_without_the_bundle(make_app, https_provider):
    provider, _ = https_provider
    app = _https_app(make_app, provider)
    response = app.get(app.session(), "/oauth/openid", allow_redirects=False)
    assert response.status_code == 502
    assert "DISCOVERY_FAILED" in response.text


def test_private_ca_accepted_with_the_bundle(make_app, https_provider):
    provider, ca = https_provider
    app = _https_app(make_app, provider, OPENID_CA_BUNDLE=ca)
    browser = requests.Session()
    browser.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over .verify
    browser.verify = ca  # the browser visits the provider's pages too
    app.login(browser)  # discovery, JWKS and authlib's token call over https
    assert provider.calls["token"] == 1


def test_the_bundle_adds_to_the_default_authorities(tmp_path, https_provider, monkeypatch):
    """A second local CA plays the system's store (OpenSSL reads SSL_CERT_FILE): with the
    bundle set, a server of the 'system' CA is still trusted, and the store holds both."""
    provider, company_ca = https_provider
    system = TestCA("system CA")
    system_files = system.issue(tmp_path / "system")
    monkeypatch.setenv("SSL_CERT_FILE", system_files.ca)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(system_files.cert, system_files.key)
    with TestProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tls=context) as public:
        http = ProviderHttp(ca_bundle=company_ca)
        assert http.get(public.discovery_url).status_code == 200  # the "system" CA still trusted
        assert http.get(provider.discovery_url).status_code == 200  # and the company's
        default = ssl.create_default_context().cert_store_stats()["x509_ca"]
        assert ssl_context(company_ca).cert_store_stats()["x509_ca"] == default + 1
        # Without the bundle the company's server is refused (so the success above is the bundle's).
        with pytest.raises(requests.exceptions.SSLError):
            ProviderHttp().get(provider.discovery_url)
    # With the bundle, verification is still on: a server of a CA nobody trusts is refused.
    stranger = TestCA("unknown CA").issue(tmp_path / "stranger")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(stranger.cert, stranger.key)
    with TestProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tls=context) as unknown:
        with pytest.raises(requests.exceptions.SSLError):
            ProviderHttp(ca_bundle=company_ca).get(unknown.discovery_url)


def test_an_unusable_bundle_is_named_at_start(tmp_path):
    from app.serving import preflight
    from app.settings import load_settings
    from tests.conftest import SECRET

    bad = tmp_path / "not-a-pem.pem"
    bad.write_text("hello")
    settings = load_settings({"OPENID_ISSUER": "https://idp.example.com", "OPENID_CLIENT_ID": "c",
                              "OPENID_SESSION_SECRET": SECRET, "INSTANCE_PATH": str(tmp_path / "i"),
                              "OPENID_CA_BUNDLE": str(bad)}, use_dotenv=False)
    assert any("OPENID_CA_BUNDLE" in problem for problem in preflight(settings))
