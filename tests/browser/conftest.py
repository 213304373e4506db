"""Fixtures for the browser tests: Debian's chromium through Playwright, and a "stack" made of an
identity provider (panva's oidc-provider or the bundled development provider) plus our server
started as ``python -m app.cli serve``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.servers import REPO, DevIdp, LoginServer
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - the browser itself is tests/conftest.py's
from tests.interop.harness import OidcProviderProcess, free_port, node_modules_ready

SCREENSHOTS = REPO / "artifacts" / "screenshots"
AUDIENCE = "https://api.oidc-login.test"



@pytest.fixture
def browser_context(chromium):
    """A fresh context (no cookies) per test, with every wait bounded."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@dataclass
class Stack:
    kind: str
    idp: object
    server: LoginServer
    user: dict
    button_label: str
    audience: str | None
    settings: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def issued_tokens(self) -> list[str]:
        """Every token the provider issued, when the provider can tell (oidc-provider only)."""
        if isinstance(self.idp, OidcProviderProcess):
            return self.idp.issued_tokens()
        return []

    def logs(self) -> str:
        idp_logs = self.idp.logs() if self.idp is not None else ""
        return f"--- {self.kind} ---\n{idp_logs}\n--- server ---\n{self.server.logs()}"


@pytest.fixture
def make_stack(request):
    """``make_stack(kind, reuse=..., audience=..., access_token_ttl=..., end_session=...,
    provider_options=...)``; ``provider_options(base_url)`` gives oidc-provider more options
    that name the login server's URL (e.g. its back-channel logout endpoint)."""
    started: list = []

    def make(kind: str, *, reuse: bool, audience: bool, access_token_ttl: int | None = None,
             end_session: bool = False,
             provider_options: Callable[[str], dict[str, Any]] | None = None) -> Stack:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        redirect_uri = f"{base}/oauth/openid/callback"
        post_logout = f"{base}/login"
        if kind == "oidc-provider":
            if not node_modules_ready():
                pytest.skip("oidc-provider is not installed: run `npm ci --prefix tests/interop`")
            idp = OidcProviderProcess(
                redirect_uri=redirect_uri, post_logout_redirect_uri=post_logout,
                audience=AUDIENCE, access_token_ttl=access_token_ttl, expose_tokens=True,
                **(provider_options(base) if provider_options else {}),
            )
            idp.start()
            started.append(idp)
            user = dict(idp.user)
            label = "Continue with Acme SSO"
        elif kind == "devidp":
            idp = DevIdp(redirect_uri=redirect_uri, post_logout_redirect_uri=post_logout,
                         access_token_ttl=access_token_ttl)
            idp.start()
            started.append(idp)
            user = {"login": "demo", "password": "demo", "sub": "devidp|demo",
                    "email": "demo@example.com", "name": "Demo User"}
            label = "Continue with Dev Login"
        else:
            raise ValueError(kind)
        settings = {
            "OPENID_REUSE_TOKENS": "true" if reuse else "false",
            "OPENID_USE_END_SESSION_ENDPOINT": "true" if end_session else "false",
            "OPENID_BUTTON_LABEL": label,
        }
        if audience:
            settings["OPENID_AUDIENCE"] = AUDIENCE
        server = LoginServer(port=port, issuer=idp.issuer, client_id=idp.client_id,
                             client_secret=idp.client_secret, settings=settings)
        started.append(server)
        server.start()
        stack = Stack(kind=kind, idp=idp, server=server, user=user, button_label=label,
                      audience=AUDIENCE if audience else None, settings=settings)
        request.node.stack = stack
        return stack

    yield make
    for proc in reversed(started):
        proc.stop()
    stack = getattr(request.node, "stack", None)
    if stack is not None:
        # Shown by pytest only when the test failed ("Captured stdout teardown").
        print(stack.logs())
