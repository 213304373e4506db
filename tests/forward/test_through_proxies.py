"""Forward auth through Debian's nginx and Caddy running the shipped configurations, over TLS,
with `oidc-login serve` and the in-process test provider (whose grants can be counted and
which can be taken down): what the browser and the app behind the proxy really get."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import REUSE
from tests.forward.chat_app import EVENTS
from tests.forward.conftest import FETCH, NAVIGATE

pytestmark = [pytest.mark.timeout(120)]
PROXY_KINDS = ["nginx", "caddy"]
TTL = 4  # seconds of access-token life in the refresh tests
FAST = {**REUSE, "OPENID_REFRESH_MARGIN": "1"}


def whoami(guarded, http, **headers) -> requests.Response:
    return guarded.get(http, "/api/whoami", headers={**FETCH, **headers})


def identity(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return response.json()["identity"]


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_login_through_the_proxy_and_the_app_gets_the_identity(make_guarded, provider, kind):
    guarded = make_guarded(kind, issuer=provider.issuer)
    http = guarded.login()
    cookie = next(c for c in http.cookies if c.name.endswith("oidc_login"))
    assert cookie.secure  # https via the proxy: DOMAIN_SERVER is the proxy's https URL
    got = identity(whoami(guarded, http))
    assert got["x-auth-request-user"] == "user-123"
    assert got["x-auth-request-email"] == "ada@example.com"
    assert got["x-auth-request-name"] == "Ada Lovelace"
    assert got["x-auth-request-roles"] == "admin,user"
    assert got["x-auth-request-admin"] == "false"
    assert "x-auth-request-access-token" not in got
    # The callback went to the proxy's https URL (DOMAIN_SERVER), and the provider saw it.
    assert provider.token_requests[0]["redirect_uri"] == guarded.url + "/oauth/openid/callback"
    # The login server's own route is served by it through the same origin.
    assert guarded.get(http, "/api/user", headers=FETCH).json()["sub"] == "user-123"


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_not_signed_in_pages_go_to_login_and_fetch_gets_401(make_guarded, provider, kind):
    guarded = make_guarded(kind, issuer=provider.issuer)
    http = guarded.client()
    page = guarded.get(http, "/c/42?draft=a%20b", headers=NAVIGATE)
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?return_to=%2Fc%2F42%3Fdraft%3Da%2520b"
    login = guarded.get(http, page.headers["Location"], headers=NAVIGATE)
    assert login.status_code == 200 and "Continue with Test SSO" in login.text
    api = guarded.get(http, "/api/whoami", headers=FETCH)
    assert api.status_code == 401
    assert api.json()["error"]["code"] == "LOGIN_REQUIRED"
    assert api.headers["X-Auth-Request-Redirect"] == "/login?return_to=%2Fapi%2Fwhoami"
    assert api.headers["WWW-Authenticate"].startswith("Bearer")
    xhr = guarded.get(http, "/c/1", headers={"X-Requested-With": "XMLHttpRequest", "Accept": "text/html"})
    assert xhr.status_code == 401
    for method in ("POST", "OPTIONS", "HEAD"):
        response = http.request(method, guarded.url + "/api/whoami", headers=FETCH, timeout=20, allow_redirects=False)
        assert response.status_code == 401, method


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_a_post_body_reaches_the_app_whole(make_guarded, provider, kind):
    guarded = make_guarded(kind, issuer=provider.issuer)
    http = guarded.login()
    message = json.dumps({"text": "hello " * 5000})
    response = http.post(guarded.url + "/api/whoami", data=message, timeout=20,
                         headers={**FETCH, "Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["body"] == message and response.json()["method"] == "POST"
    assert response.json()["identity"]["x-auth-request-user"] == "user-123"


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_client_sent_identity_headers_never_reach_the_app(make_guarded, provider, kind):
    provider.user = {"sub": "mallory", "roles": ["user"]}  # no email, no name
    guarded = make_guarded(kind, issuer=provider.issuer)
    spoof = {
        "X-Auth-Request-User": "admin", "X-Auth-Request-Email": "admin@example.com",
        "X-Auth-Request-Name": "Admin", "X-Auth-Request-Roles": "admin",
        "X-Auth-Request-Admin": "true", "X-Auth-Request-Access-Token": "forged",
        "X-Auth-Request-Preferred-Username": "admin", "X-Auth-Request-Groups": "admin",
    }
    anonymous = guarded.get(guarded.client(), "/api/whoami", headers={**FETCH, **spoof})
    assert anonymous.status_code == 401  # never served on the strength of those headers
    http = guarded.login()
    got = identity(whoami(guarded, http, **spoof))
    assert got["x-auth-request-user"] == "mallory"
    assert got["x-auth-request-roles"] == "user"
    assert got["x-auth-request-admin"] == "false"
    for name in ("email", "name", "access-token", "preferred-username"):
        assert got.get("x-auth-request-" + name, "") == "", name  # absent (Caddy: at most empty)
    if kind == "caddy":  # Caddy strips every X-Auth-Request-* name; nginx the ones verify defines
        assert "x-auth-request-groups" not in got


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_bearer_token_on_an_app_route(make_guarded, provider, kind):
    guarded = make_guarded(kind, issuer=provider.issuer, OPENID_AUDIENCE=REUSE["OPENID_AUDIENCE"])
    token = provider.mint_id_token()
    got = identity(whoami(guarded, guarded.client(), Authorization="Bearer " + token))
    assert got["x-auth-request-user"] == "user-123"
    bad = whoami(guarded, guarded.client(), Authorization="Bearer " + provider.mint_id_token(aud="other"))
    assert bad.status_code == 401


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_role_gated_location(make_guarded, provider, kind):
    provider.user = {"sub": "bob", "name": "Bob", "roles": ["user"]}
    guarded = make_guarded(kind, issuer=provider.issuer)
    http = guarded.login()
    assert guarded.get(http, "/c/1", headers=NAVIGATE).status_code == 200
    denied = guarded.get(http, "/admin/", headers=NAVIGATE)
    assert denied.status_code == 403
    assert "ROLE_REQUIRED" in denied.text and "OPENID_REQUIRED_ROLE" in denied.text  # code and hint
    assert "nginx" not in denied.text.lower() and "caddy" not in denied.text.lower()
    assert guarded.get(http, "/c/1", headers=NAVIGATE).status_code == 200  # still signed in
    provider.user = {"sub": "ann", "name": "Ann", "roles": ["admin"]}
    admin = guarded.login(path="/admin/")
    assert guarded.get(admin, "/admin/", headers=NAVIGATE).status_code == 200


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_server_sent_events_arrive_one_by_one(make_guarded, provider, kind):
    guarded = make_guarded(kind, issuer=provider.issuer)
    http = guarded.login()
    arrivals = []
    with guarded.get(http, "/api/stream", headers={"Accept": "text/event-stream"}, stream=True) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for line in response.iter_lines(chunk_size=1):
            if line.startswith(b"data: "):
                arrivals.append((time.time(), json.loads(line[6:])))
    assert [event["n"] for _, event in arrivals] == list(range(EVENTS))
    assert arrivals[0][1]["user"] == "user-123"
    # The first event was in the browser's hands before the app had even sent the last one.
    assert arrivals[0][0] < arrivals[-1][1]["sent"]


def signed_in_with_short_tokens(make_guarded, provider, kind: str):
    """A guarded stack whose provider's access tokens live TTL seconds, and a browser signed
    in through it."""
    provider.config.access_token_ttl = TTL
    guarded = make_guarded(kind, issuer=provider.issuer, **FAST)
    return guarded, guarded.login()


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_expired_access_token_is_refreshed_once_and_the_request_served(make_guarded, provider, kind):
    guarded, http = signed_in_with_short_tokens(make_guarded, provider, kind)
    time.sleep(TTL + 0.2)
    assert identity(whoami(guarded, http))["x-auth-request-user"] == "user-123"
    assert guarded.get(http, "/c/after", headers=NAVIGATE).status_code == 200
    assert provider.grants["refresh_token"] == 1


def test_fifty_concurrent_requests_after_expiry_cause_one_refresh_grant(make_guarded, provider):
    guarded, http = signed_in_with_short_tokens(make_guarded, provider, "nginx")
    cookies = http.cookies.get_dict()
    time.sleep(TTL + 0.2)

    def one(i: int) -> int:
        client = guarded.client()
        client.cookies.update(cookies)
        return guarded.get(client, f"/api/whoami?i={i}", headers=FETCH, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(one, range(50)))
    assert statuses == [200] * 50
    assert provider.grants["refresh_token"] == 1


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_provider_down_after_expiry_shows_503_page_and_keeps_the_session(make_guarded, provider, kind):
    guarded, http = signed_in_with_short_tokens(make_guarded, provider, kind)
    time.sleep(TTL + 0.2)
    provider.config.down = True
    page = guarded.get(http, "/c/9", headers=NAVIGATE)
    assert page.status_code == 503
    assert int(page.headers["Retry-After"]) >= 1
    assert "TOKEN_EXCHANGE_FAILED" in page.text and "text/html" in page.headers["Content-Type"]
    api = whoami(guarded, http)
    assert api.status_code == 503
    provider.config.down = False
    time.sleep(int(page.headers["Retry-After"]))
    assert identity(whoami(guarded, http))["x-auth-request-user"] == "user-123"


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_revoked_refresh_token_goes_to_login_with_the_reason_no_loop(make_guarded, provider, kind):
    guarded, http = signed_in_with_short_tokens(make_guarded, provider, kind)
    provider.config.refresh_error = "invalid_grant"
    time.sleep(TTL + 0.2)
    page = guarded.get(http, "/c/7", headers=NAVIGATE)
    assert page.status_code == 302
    query = parse_qs(urlsplit(page.headers["Location"]).query)
    assert query == {"return_to": ["/c/7"], "error": ["REFRESH_FAILED"]}
    login = guarded.get(http, page.headers["Location"], headers=NAVIGATE)
    assert login.status_code == 200 and "REFRESH_FAILED" in login.text
    again = guarded.get(http, "/c/7", headers=NAVIGATE)
    assert again.status_code == 302 and "error=" not in again.headers["Location"]
    assert provider.grants["refresh_token"] == 1


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_logout_then_the_app_page_goes_to_login(make_guarded, provider, kind):
    guarded = make_guarded(kind, issuer=provider.issuer)
    http = guarded.login()
    old = http.cookies.get_dict()
    out = http.post(guarded.url + "/api/auth/logout", json={}, headers={"Origin": guarded.url}, timeout=20)
    assert out.status_code == 200, out.text
    assert guarded.get(http, "/c/1", headers=NAVIGATE).status_code == 302
    stale = guarded.client()
    stale.cookies.update(old)  # the old cookie is dead server-side too
    assert guarded.get(stale, "/c/1", headers=NAVIGATE).headers["Location"] == "/login?return_to=%2Fc%2F1"


@pytest.mark.parametrize("kind", PROXY_KINDS)
def test_store_down_shows_503_page(make_guarded, provider, kind):
    from tests.redis_server import RedisServer

    with RedisServer() as redis_server:
        guarded = make_guarded(kind, issuer=provider.issuer, REDIS_URI=redis_server.uri)
        http = guarded.login()
        redis_server.stop()
        page = guarded.get(http, "/c/5", headers=NAVIGATE)
        assert page.status_code == 503
        assert int(page.headers["Retry-After"]) >= 1
        assert "text/html" in page.headers["Content-Type"] and "Traceback" not in page.text
        assert whoami(guarded, http).status_code == 503
