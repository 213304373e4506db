"""A real browser (Debian's chromium through Playwright) in front of nginx and Caddy running the
shipped configurations: the app's page -> the login page -> the provider (the bundled
development provider; panva's oidc-provider in the interop variant) -> back on the app's page
with the right identity; a server-sent-event stream arrives event by event; the access token
expires and the next page is served after exactly one refresh grant; logout; then the app's
page goes to the login page again."""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
import requests

from tests.browser.servers import DevIdp
from tests.browser.test_login_flows import complete_provider_login
from tests.forward.chat_app import EVENTS
from tests.interop.harness import OidcProviderProcess, node_modules_ready

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]
AUDIENCE = "https://api.oidc-login.test"
TTL = 12  # access-token lifetime: longer than a login in the browser, short enough to wait for


class Idp:
    """What the login helper needs to know of a provider: its user and a way to count grants."""

    def __init__(self, kind: str, proxy_url: str) -> None:
        self.kind = kind
        redirect, post_logout = proxy_url + "/oauth/openid/callback", proxy_url + "/login"
        if kind == "devidp":
            self.process = DevIdp(redirect_uri=redirect, post_logout_redirect_uri=post_logout,
                                  access_token_ttl=TTL)
            self.user = {"login": "demo", "password": "demo", "sub": "devidp|demo", "name": "Demo User"}
        else:
            if not node_modules_ready():
                message = "oidc-provider is not installed: run `npm ci --prefix tests/interop`"
                pytest.fail(message) if _ci() else pytest.skip(message)
            self.process = OidcProviderProcess(redirect_uri=redirect, post_logout_redirect_uri=post_logout,
                                               audience=AUDIENCE, access_token_ttl=TTL, expose_tokens=True)
            self.user = dict(self.process.user)
        self.process.start()
        self.issuer = self.process.issuer
        self.client_id = self.process.client_id
        self.client_secret = self.process.client_secret

    def token_grants(self) -> int:
        """Successful token-endpoint calls so far (code exchange and refreshes)."""
        if isinstance(self.process, OidcProviderProcess):
            return len(self.process.token_responses)
        token_path = urlparse(requests.get(self.issuer + "/.well-known/openid-configuration",
                                           timeout=5).json()["token_endpoint"]).path
        pattern = re.compile(rf'"POST {re.escape(token_path)}\S* HTTP/[\d.]+" 200')
        return len(pattern.findall(self.process.log_path.read_text(errors="replace")))

    def stop(self) -> None:
        self.process.stop()


def _ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() == "true"


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def proxied_context(chromium):
    """A fresh browser context that trusts nothing but accepts the test certificate."""
    context = chromium.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 800})
    context.set_default_timeout(15_000)
    context.set_default_navigation_timeout(20_000)
    try:
        yield context
    finally:
        context.close()


def idp_params():
    return [
        pytest.param("devidp", id="devidp"),
        pytest.param("oidc-provider", marks=[pytest.mark.interop], id="oidc-provider"),
    ]


@pytest.mark.parametrize("idp_kind", idp_params())
@pytest.mark.parametrize("kind", ["nginx", "caddy"])
def test_browser_through_the_proxy(make_guarded, proxied_context, kind, idp_kind):
    idps: list[Idp] = []

    def start_idp(proxy_url: str) -> Idp:
        idps.append(Idp(idp_kind, proxy_url))
        return idps[0]

    guarded = make_guarded(kind, idp=start_idp, OPENID_REUSE_TOKENS="true", OPENID_AUDIENCE=AUDIENCE,
                           OPENID_REFRESH_MARGIN="1")
    idp = idps[0]
    page = proxied_context.new_page()

    # The app's page -> the login page (with the way back) -> the provider -> the app's page.
    response = page.goto(guarded.url + "/c/hello?x=1")
    assert response is not None and urlparse(page.url).path == "/login", page.url
    assert "return_to=%2Fc%2Fhello%3Fx%3D1" in page.url
    page.get_by_role("link", name="Continue with Test SSO").or_(
        page.get_by_role("button", name="Continue with Test SSO")).first.click()
    page.wait_for_url(lambda u: not u.startswith(guarded.url + "/login"))
    seen = complete_provider_login(page, _StackView(guarded.url, idp.user))
    assert seen["login_form"]
    page.wait_for_url(guarded.url + "/c/hello?x=1")
    assert page.inner_text("#user") == idp.user["sub"]
    assert page.inner_text("#name") == idp.user["name"]
    assert wait_for(lambda: idp.token_grants() == 1), idp.token_grants()

    # Server-sent events through the proxy arrive one by one, not when the stream ends.
    events = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const got = [];
            const source = new EventSource('/api/stream');
            source.onmessage = (e) => {
                got.push({at: Date.now() / 1000, data: JSON.parse(e.data)});
                if (got.length === %d) { source.close(); resolve(got); }
            };
            source.onerror = () => { source.close(); reject(new Error('stream failed')); };
        })""" % EVENTS
    )
    assert [e["data"]["n"] for e in events] == list(range(EVENTS))
    assert events[0]["data"]["user"] == idp.user["sub"]
    assert events[0]["at"] < events[-1]["data"]["sent"], events

    # The access token expires; the next page is served after exactly one refresh grant.
    status = page.request.get(guarded.url + "/api/user", headers={"Accept": "application/json"}).json()
    expires_at = status["session"]["access_token_expires_at"]
    page.goto("about:blank")
    time.sleep(max(0.0, expires_at + 0.5 - time.time()))
    response = page.goto(guarded.url + "/c/after-expiry")
    assert response is not None and response.status == 200, page.url
    assert page.inner_text("#user") == idp.user["sub"]
    assert wait_for(lambda: idp.token_grants() == 2), idp.token_grants()
    time.sleep(0.5)
    assert idp.token_grants() == 2  # exactly one refresh grant

    # Logout (the app's own button would post this), then the app's page goes to login.
    result = page.evaluate(
        """() => fetch('/api/auth/logout', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                           body: '{}'}).then(r => r.status)"""
    )
    assert result == 200
    page.goto(guarded.url + "/c/again")
    assert urlparse(page.url).path == "/login" and "return_to=%2Fc%2Fagain" in page.url


class _StackView:
    """The two things complete_provider_login reads of a stack."""

    def __init__(self, base_url: str, user: dict) -> None:
        self.base_url = base_url
        self.user = user
