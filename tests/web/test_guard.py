"""The request guard: session lifetime, what the session store holds, write-back, proxies,
and the helpers the app's own routes use (require_role, allowed)."""

from __future__ import annotations

import datetime
import time

from flask import jsonify

from app.web.guard import allowed, require_role
from tests.conftest import REUSE
from tests.web.test_auth import assert_no_session, error_code


def stored_session(live, http) -> dict:
    interface = live.app.session_interface
    return interface._retrieve_session_data(interface._get_store_id(live.cookie(http)))


def rewrite_session(live, http, **changes) -> None:
    interface = live.app.session_interface
    store_id = interface._get_store_id(live.cookie(http))
    data = interface._retrieve_session_data(store_id) | changes
    session = interface.session_class(data, sid=live.cookie(http))
    interface._upsert_session(datetime.timedelta(hours=1), session, store_id)


def test_session_holds_no_tokens(make_app):
    live = make_app(**REUSE)
    http = live.login()
    data = stored_session(live, http)
    assert set(data) >= {"user", "sub", "created", "seen", "csrf"}
    text = repr(data)
    assert "eyJ" not in text and "refresh" not in text


def test_read_only_requests_do_not_write_the_session(make_app):
    live = make_app(**REUSE)
    http = live.login()
    before = stored_session(live, http)
    for _ in range(3):
        response = live.get(http, "/api/user")
        assert "Set-Cookie" not in response.headers
    assert stored_session(live, http) == before


def test_idle_timeout_ends_the_session(make_app):
    live = make_app(SESSION_IDLE_TIMEOUT="600")
    http = live.login()
    rewrite_session(live, http, seen=int(time.time()) - 601)
    assert_no_session(live, http)


def test_idle_clock_moves_at_most_once_a_minute(make_app):
    live = make_app(SESSION_IDLE_TIMEOUT="600")
    http = live.login()
    rewrite_session(live, http, seen=int(time.time()) - 300)
    assert live.get(http, "/api/user").status_code == 200
    assert stored_session(live, http)["seen"] >= int(time.time()) - 5


def test_maximum_lifetime_ends_the_session(make_app):
    live = make_app(SESSION_MAX_LIFETIME="3600", SESSION_IDLE_TIMEOUT="600")
    http = live.login()
    rewrite_session(live, http, created=int(time.time()) - 3601)
    assert_no_session(live, http)


def test_session_without_its_token_record_is_dead(make_app):
    live = make_app()
    http = live.login()
    live.services.refresher.discard(live.vault(http))
    assert_no_session(live, http)


def test_stale_session_write_cannot_resurrect_a_logged_out_session(make_app):
    live = make_app(**REUSE)
    http = live.login()
    snapshot = stored_session(live, http)
    cookie = live.cookie(http)
    live.post(http, "/api/auth/logout", json={}, headers={"Origin": live.url})
    # A slow request that loaded the session before logout writes it back afterwards:
    interface = live.app.session_interface
    interface._upsert_session(
        datetime.timedelta(hours=1), interface.session_class(snapshot, sid=cookie), interface._get_store_id(cookie)
    )
    import requests

    replay = requests.Session()
    replay.cookies.set("oidc_login", cookie)
    assert_no_session(live, replay)


def test_trust_proxy_uses_forwarded_headers_but_not_for_the_redirect_uri(make_app):
    live = make_app(TRUST_PROXY="1", DOMAIN_SERVER="https://chat.example.com", DOMAIN_CLIENT="https://chat.example.com")
    response = live.get(live.session(), "/oauth/openid", allow_redirects=False,
                        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    assert "redirect_uri=https%3A%2F%2Fchat.example.com%2F" in response.headers["Location"]
    assert "evil.example" not in response.headers["Location"]


def test_require_role_and_allowed_for_app_routes(make_app, provider, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("roles:\n  admin: ['*']\n  user: [gpt-4o-mini]\n")
    live = make_app(OPENID_ROLE_POLICY=str(policy))

    @require_role("admin")
    def admin_only():
        return jsonify({"ok": True, "o3": allowed("o3")})

    live.app.add_url_rule("/api/admin", "admin_only", admin_only)
    http = live.login()
    assert live.get(http, "/api/admin").json() == {"ok": True, "o3": True}
    provider.user["roles"] = ["user"]
    other = live.login()
    response = live.get(other, "/api/admin")
    assert response.status_code == 403 and error_code(response) == "ROLE_REQUIRED"
    assert live.get(live.session(), "/api/admin").status_code == 401



def test_security_headers(make_app):
    import re

    live = make_app(**REUSE)
    http = live.login()
    home = live.get(http, "/")
    csp = home.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp).group(1)
    assert f'<script nonce="{nonce}">' in home.text and f'<style nonce="{nonce}">' in home.text
    assert home.headers["X-Frame-Options"] == "DENY"
    assert home.headers["X-Content-Type-Options"] == "nosniff"
    assert home.headers["Cache-Control"] == "no-store"
    assert live.get(http, "/api/user").headers["Cache-Control"] == "no-store"
    other = live.get(http, "/")
    assert other.headers["Content-Security-Policy"] != csp  # a fresh nonce per response


def test_vary_cookie_only_where_the_session_decides(make_app):
    """Answers that depend on who is signed in say so to caches; the probe, which never looks
    at the session, does not."""
    live = make_app(**REUSE)
    http = live.login()
    assert "Cookie" in live.get(http, "/api/user").headers.get("Vary", "")
    assert "Cookie" in live.get(http, "/").headers.get("Vary", "")
    health = live.get(http, "/healthz")
    assert health.status_code == 200 and "Vary" not in health.headers
    assert "Cache-Control" not in health.headers  # a probe's answer may be cached
