"""Logout everywhere against panva's oidc-provider 9.13.3 (backchannelLogout and revocation on),
with real Chromium contexts as separate browsers: ending one provider session signs out exactly
the product sessions it covers, and logout revokes the refresh token at the provider."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from tests.browser.conftest import Stack
from tests.browser.test_login_flows import api_user, login

pytestmark = [pytest.mark.browser, pytest.mark.interop, pytest.mark.timeout(180)]

BOB = {"login": "bob", "password": "bob-password", "sub": "auth0|bob", "email": "bob@example.test",
       "name": "Bob Interop", "roles": ["user"]}


@pytest.fixture
def bcl_stack(make_stack):
    """make(with_sid=True|False) -> a Stack whose provider sends logout tokens to our server."""

    def make(*, with_sid: bool = True, reuse: bool = False) -> Stack:
        def options(base: str) -> dict:
            return {
                "revocation": True, "extra_accounts": [BOB],
                "backchannel_logout_uri": f"{base}/oauth/openid/backchannel-logout",
                "backchannel_logout_session_required": with_sid,
            }

        return make_stack("oidc-provider", reuse=reuse, audience=reuse, provider_options=options)

    return make


def signed_in_browser(chromium, stack: Stack, user: dict | None = None):
    """A fresh browser context (its own cookies: its own provider session) that has logged in."""
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(15_000)
    page = context.new_page()
    login(page, dataclasses.replace(stack, user=user or stack.user))
    assert api_user(context, stack).status == 200
    return context, page


def end_provider_session(page, stack: Stack) -> None:
    """The provider's own end-session page (its form submits itself), as a user signing out there."""
    page.goto(stack.idp.issuer + "/session/end")
    page.wait_for_selector("text=You are signed out", timeout=15_000)


@contextmanager
def three_browsers_first_signs_out(chromium, stack: Stack) -> Iterator[tuple]:
    """Two browsers of the stack's user and one of Bob's, signed in; then the first ends its
    provider session. Yields the three contexts, closed afterwards."""
    first, first_page = signed_in_browser(chromium, stack)
    second, _ = signed_in_browser(chromium, stack)
    other, _ = signed_in_browser(chromium, stack, BOB)
    try:
        end_provider_session(first_page, stack)
        yield first, second, other
    finally:
        for context in (first, second, other):
            context.close()


def test_ending_one_provider_session_signs_out_that_product_session_only(chromium, bcl_stack):
    stack = bcl_stack(with_sid=True)
    with three_browsers_first_signs_out(chromium, stack) as (first, second, other):
        assert api_user(first, stack).status == 401
        assert api_user(second, stack).status == 200
        assert api_user(other, stack).status == 200
        assert "backchannel.success" in stack.idp.logs()


def test_sub_only_logout_tokens_end_every_session_of_that_user(chromium, bcl_stack):
    stack = bcl_stack(with_sid=False)
    with three_browsers_first_signs_out(chromium, stack) as (first, second, other):
        assert api_user(first, stack).status == 401
        assert api_user(second, stack).status == 401
        assert api_user(other, stack).status == 200


def test_logout_revokes_the_refresh_token_at_the_provider(chromium, bcl_stack):
    stack = bcl_stack(reuse=True)
    context, _ = signed_in_browser(chromium, stack)
    try:
        deadline = time.monotonic() + 5
        while not stack.idp.token_responses and time.monotonic() < deadline:
            time.sleep(0.05)
        refresh_token = stack.idp.token_responses[-1]["refresh_token"]
        response = context.request.post(stack.base_url + "/api/auth/logout", data="{}", headers={
            "Origin": stack.base_url, "Content-Type": "application/json"})
        assert response.status == 200, response.text()
        token_endpoint = stack.idp.discovery()["token_endpoint"]
        refused = requests.post(token_endpoint, data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                                auth=(stack.idp.client_id, stack.idp.client_secret), timeout=10)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
        assert "refresh token revocation: revoked" in stack.server.logs()
    finally:
        context.close()
