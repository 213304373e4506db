"""Real logins in a real browser (Debian's chromium through Playwright) against panva's certified
``oidc-provider`` configured like Auth0, and against the bundled development provider.

Run alone with ``pytest -m browser``; the oidc-provider half also carries ``-m interop``.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
COOKIE_NAME = "oidc_login"


def provider_params():
    return [
        pytest.param("oidc-provider", marks=[pytest.mark.interop], id="oidc-provider"),
        pytest.param("devidp", id="devidp"),
    ]



pytestmark = [pytest.mark.browser]


# -- helpers ------------------------------------------------------------------------------

class Navigations:
    """Every main-frame document request and response of a page, redirects included."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.responses: list[tuple[str, int]] = []
        self.posts: list[tuple[str, dict]] = []
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        self._page = page

    def _on_request(self, req):
        if req.is_navigation_request() and req.frame == self._page.main_frame:
            self.requests.append(req.url)
            if req.method == "POST":
                keep = ("origin", "referer", "sec-fetch-site", "content-type")
                self.posts.append((req.url, {k: v for k, v in req.headers.items() if k in keep}))

    def _on_response(self, resp):
        req = resp.request
        if req.is_navigation_request() and req.frame == self._page.main_frame:
            self.responses.append((resp.url, resp.status))

    def count(self, base: str, path: str) -> int:
        return sum(1 for u in self.requests if u.startswith(base) and urlparse(u).path == path)

    def last_status_for(self, base: str, path: str) -> int | None:
        for url, status in reversed(self.responses):
            if url.startswith(base) and urlparse(url).path == path:
                return status
        return None


def click_continue(page, stack, screenshots=None):
    """Open /login, check the "Continue with …" control, click it."""
    resp = page.goto(stack.base_url + "/login")
    assert resp is not None and resp.status == 200, f"/login answered {resp and resp.status}"
    page.wait_for_load_state("load")
    control = page.get_by_role("link", name=stack.button_label).or_(
        page.get_by_role("button", name=stack.button_label)
    )
    assert control.count() == 1, (
        f"expected one link/button named {stack.button_label!r} on /login; page text:\n"
        + page.inner_text("body")[:2000]
    )
    assert control.first.inner_text().strip() == stack.button_label
    if screenshots is not None:
        page.screenshot(path=str(screenshots / f"login-{stack.kind}.png"), full_page=True)
    control.first.click()
    page.wait_for_url(lambda u: not u.startswith(stack.base_url + "/login"), timeout=15_000)


CONSENT_BUTTON = re.compile(r"^\s*(accept|allow|authori[sz]e|consent|continue|yes|grant)\b", re.I)


def complete_provider_login(page, stack, *, deadline_s: float = 30.0) -> dict:
    """Log in and consent at the provider until the browser is back on our server."""
    seen = {"login_form": False, "consent": False, "pages": []}
    deadline = time.monotonic() + deadline_s
    for _ in range(12):
        page.wait_for_load_state("load")
        if page.url.startswith(stack.base_url):
            return seen
        assert time.monotonic() < deadline, f"stuck at the provider: {page.url}"
        seen["pages"].append(page.url)
        password = page.locator("input[type=password]")
        current = page.url
        if password.count():
            seen["login_form"] = True
            username = page.locator(
                "input[name=login], input[name=username], input[name=email], "
                "input[type=email], input[type=text]"
            ).first
            username.fill(stack.user["login"])
            password.first.fill(stack.user["password"])
            password.first.press("Enter")
        else:
            button = page.get_by_role("button", name=CONSENT_BUTTON)
            assert button.count() >= 1, (
                f"neither a login form nor a consent button at {page.url}:\n"
                + page.inner_text("body")[:1500]
            )
            seen["consent"] = True
            button.first.click()
        page.wait_for_url(lambda u: u != current, timeout=15_000)
    pytest.fail(f"login at the provider did not finish; pages: {seen['pages']}")


def api_user(context, stack):
    resp = context.request.get(stack.base_url + "/api/user",
                               headers={"Accept": "application/json"}, max_redirects=0)
    return resp


def assert_no_raw_tokens(stack, *texts):
    for text in texts:
        m = JWT_RE.search(text)
        assert m is None, f"a JWT reached the browser: {m.group(0)[:40]}…"
        for token in stack.issued_tokens():
            assert token not in text, "a raw provider token reached the browser"


def login(page, stack, screenshots=None) -> dict:
    click_continue(page, stack, screenshots)
    seen = complete_provider_login(page, stack)
    return seen


def session_cookie(context, stack):
    host = urlparse(stack.base_url).hostname
    cookies = [c for c in context.cookies(stack.base_url) if c["name"] == COOKIE_NAME]
    assert cookies, (
        f"no {COOKIE_NAME!r} cookie for {host}; cookies: "
        f"{[c['name'] for c in context.cookies(stack.base_url)]}"
    )
    return cookies[0]


def wait_for_tokens(stack, n: int, timeout: float = 3.0) -> int:
    deadline = time.monotonic() + timeout
    while len(stack.idp.token_responses) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(stack.idp.token_responses)


# -- scenarios ----------------------------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", provider_params())
def test_login_reuse_with_audience_then_transparent_refresh(kind, make_stack, page, browser_context,
                                                          screenshots):
    ttl = 20
    stack = make_stack(kind, reuse=True, audience=True, access_token_ttl=ttl)
    nav = Navigations(page)

    seen = login(page, stack, screenshots)
    assert seen["login_form"], "the provider's login form was not shown"
    assert nav.count(stack.base_url, "/oauth/openid") == 1
    assert nav.count(stack.base_url, "/oauth/openid/callback") == 1
    assert urlparse(page.url).path == "/", f"not on the home page after login: {page.url}\n" + \
        page.inner_text("body")[:1500]
    assert nav.last_status_for(stack.base_url, "/") == 200
    page.wait_for_load_state("load")
    home_html = page.content()
    home_text = page.inner_text("body")
    assert stack.user["name"] in home_text or stack.user["sub"] in home_text
    page.screenshot(path=str(screenshots / f"home-{stack.kind}.png"), full_page=True)

    resp = api_user(browser_context, stack)
    assert resp.status == 200, resp.text()
    raw = resp.text()
    user = resp.json()
    assert user["sub"] == stack.user["sub"]
    assert user["email"] == stack.user["email"]
    assert user["name"] == stack.user["name"]
    assert user["iss"] == stack.idp.issuer
    assert "user" in user["roles"]
    s = user["session"]
    assert s["reuse_tokens"] is True
    assert s["access_token_format"] == "jwt"
    assert s["has_refresh_token"] is True
    e1 = s["access_token_expires_at"]
    assert isinstance(e1, int) and 0 < e1 - time.time() <= ttl + 2, e1
    assert_no_raw_tokens(stack, home_html, raw, *[c["value"] for c in browser_context.cookies()])

    cookie = session_cookie(browser_context, stack)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"

    # Let the access token expire, then a plain page load must refresh it transparently.
    n_before = wait_for_tokens(stack, 1) if stack.kind == "oidc-provider" else None
    page.goto("about:blank")  # no home-page script may refresh while we wait
    time.sleep(max(0.0, e1 + 1.5 - time.time()))
    resp = page.goto(stack.base_url + "/")
    assert resp is not None
    assert urlparse(page.url).path == "/", (
        f"page load after expiry left the home page: {page.url}\n" + page.inner_text("body")[:1500]
    )
    assert resp.status == 200
    if stack.kind == "oidc-provider":
        assert wait_for_tokens(stack, n_before + 1) == n_before + 1, \
            "the page load after expiry did not refresh (exactly once)"
    resp = api_user(browser_context, stack)
    assert resp.status == 200, resp.text()
    s2 = resp.json()["session"]
    assert s2["access_token_expires_at"] > e1, (e1, s2)
    assert s2["access_token_format"] == "jwt" and s2["has_refresh_token"] is True
    assert resp.json()["sub"] == stack.user["sub"]
    assert_no_raw_tokens(stack, page.content(), resp.text())


@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", provider_params())
def test_reuse_without_audience_ends_on_opaque_token_page(kind, make_stack, page, browser_context,
                                                          screenshots):
    stack = make_stack(kind, reuse=True, audience=False)
    nav = Navigations(page)

    login(page, stack)
    page.wait_for_load_state("load")
    time.sleep(1.5)  # a redirect loop would keep navigating: give it room to show
    callback = "/oauth/openid/callback"
    assert nav.count(stack.base_url, "/oauth/openid") == 1, nav.requests
    assert nav.count(stack.base_url, callback) == 1, nav.requests
    assert len(nav.requests) < 15, f"too many navigations: {nav.requests}"
    status = nav.last_status_for(stack.base_url, callback)
    assert urlparse(page.url).path == callback, f"ended at {page.url}, not on the callback page"
    assert status is not None and 400 <= status < 500, f"callback answered {status}"
    text = page.inner_text("body")
    assert "OPAQUE_ACCESS_TOKEN" in text, text[:1500]
    assert "OPENID_AUDIENCE" in text, f"the hint must name OPENID_AUDIENCE:\n{text[:1500]}"
    page.screenshot(path=str(screenshots / f"error-opaque-{stack.kind}.png"), full_page=True)
    assert_no_raw_tokens(stack, page.content())

    # No session was created.
    resp = api_user(browser_context, stack)
    assert resp.status == 401, resp.text()
    resp = page.goto(stack.base_url + "/")
    assert urlparse(page.url).path == "/login", page.url


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", provider_params())
def test_logout_ends_provider_session_too(kind, make_stack, page, browser_context):
    stack = make_stack(kind, reuse=False, audience=False, end_session=True)

    seen = login(page, stack)
    assert seen["login_form"]
    assert urlparse(page.url).path == "/", page.url
    resp = api_user(browser_context, stack)
    assert resp.status == 200, resp.text()
    assert resp.json()["sub"] == stack.user["sub"]
    assert resp.json()["session"]["reuse_tokens"] is False

    # Our cookie and the provider's cookies live side by side on 127.0.0.1 (cookies ignore ports).
    names = [c["name"] for c in browser_context.cookies(stack.base_url)]
    assert names.count(COOKIE_NAME) == 1, names

    # Control: without a provider logout the provider keeps its session (silent SSO), so the
    # check after logout below means something.
    browser_context.clear_cookies(name=COOKIE_NAME)
    assert api_user(browser_context, stack).status == 401
    seen = login(page, stack)
    assert not seen["login_form"], "the provider asked for the password without a logout"
    assert urlparse(page.url).path == "/", page.url
    old_cookie = session_cookie(browser_context, stack)["value"]

    # Log out with the home page's button (a form POST to /api/auth/logout).
    button = page.locator(
        "form[action$='/api/auth/logout'] button, form[action$='/api/auth/logout'] [type=submit]"
    )
    assert button.count() >= 1, "no logout form posting to /api/auth/logout on the home page"
    nav = Navigations(page)
    button.first.click()
    try:
        page.wait_for_url(lambda u: urlparse(u).path == "/login" and u.startswith(stack.base_url),
                          timeout=15_000)
    except PlaywrightTimeoutError:
        logout_post = [(m, h) for m, h in nav.posts if urlparse(m).path == "/api/auth/logout"]
        pytest.fail(
            f"logout did not end on /login; at {page.url} after {nav.responses}; logout POST "
            f"request headers {logout_post}; page text:\n{page.inner_text('body')[:800]}"
        )

    # The old session is dead server-side, and / sends us to /login.
    r = requests.get(stack.base_url + "/api/user", cookies={COOKIE_NAME: old_cookie},
                     headers={"Accept": "application/json"}, timeout=5, allow_redirects=False)
    assert r.status_code == 401, (r.status_code, r.text[:300])
    page.goto(stack.base_url + "/")
    assert urlparse(page.url).path == "/login", page.url

    # A new login must show the provider's login form again: no silent SSO.
    seen = login(page, stack)
    assert seen["login_form"], (
        "after logout with OPENID_USE_END_SESSION_ENDPOINT=true the provider signed us in "
        f"silently; provider pages: {seen['pages']}"
    )
    assert urlparse(page.url).path == "/", page.url
    assert api_user(browser_context, stack).status == 200


@pytest.mark.timeout(90)
def test_home_page_script_runs_under_the_content_security_policy(make_stack, page):
    """The countdown is our only script: its nonce must let it run, and nothing may be
    blocked by the policy (a CSP violation shows up as a console error)."""
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    stack = make_stack("devidp", reuse=True, audience=True, access_token_ttl=60)
    login(page, stack)
    assert urlparse(page.url).path == "/"
    page.wait_for_function("document.getElementById('left').textContent.startsWith('in ')", timeout=5000)
    assert re.match(r"in \d+ s", page.inner_text("#left"))
    assert [p for p in problems if "Content Security Policy" in p] == []
