"""/readyz and request ids, against a live server, the test provider and a real Redis."""

from __future__ import annotations

import logging

import pytest

from tests.redis_server import RedisServer, redis_available


def test_ready_when_store_and_provider_answer(make_app, provider):
    app = make_app()
    http = app.session()
    response = app.get(http, "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"store": "ok", "provider_metadata": "ok"}}


def test_not_ready_names_the_provider_when_metadata_was_never_fetched(make_app, provider):
    app = make_app()
    provider.stop()
    response = app.get(app.session(), "/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["failed"] == ["provider_metadata"]
    assert body["checks"]["store"] == "ok"
    assert body["checks"]["provider_metadata"].startswith("fail: DISCOVERY_FAILED")
    assert response.headers["Retry-After"]


def test_cached_metadata_is_enough_while_the_provider_is_down(make_app, provider):
    app = make_app()
    app.login()  # fetches and caches the metadata
    provider.stop()
    response = app.get(app.session(), "/readyz")
    assert response.status_code == 200, response.text


def test_a_slow_provider_fails_the_check_within_its_timeout(make_app, provider):
    app = make_app()
    provider.config.delay = {"discovery": 4}
    response = app.get(app.session(), "/readyz")
    assert response.status_code == 503
    assert "no answer within" in response.json()["checks"]["provider_metadata"]
    assert response.elapsed.total_seconds() < 3.5


@pytest.mark.redis
@pytest.mark.skipif(not redis_available(), reason="redis-server is not installed (apt-get install redis-server)")
def test_not_ready_names_the_store_when_redis_is_down(make_app, provider):
    with RedisServer() as redis_server:
        app = make_app(REDIS_URI=redis_server.uri)
        assert app.get(app.session(), "/readyz").status_code == 200
        redis_server.stop()
        response = app.get(app.session(), "/readyz")
        assert response.status_code == 503
        assert response.json()["failed"] == ["store"]
        assert "password" not in response.text.lower()


def test_request_id_is_made_and_sent_back(make_app, provider):
    app = make_app()
    http = app.session()
    first = app.get(http, "/healthz").headers["X-Request-ID"]
    second = app.get(http, "/healthz").headers["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_request_id_from_an_untrusted_client_is_replaced(make_app, provider):
    app = make_app()
    response = app.get(app.session(), "/healthz", headers={"X-Request-ID": "spoofed-id"})
    assert response.headers["X-Request-ID"] != "spoofed-id"


def test_request_id_from_a_trusted_proxy_is_kept_and_logged(make_app, provider, caplog):
    app = make_app(TRUST_PROXY="1")
    http = app.session()
    caplog.set_level(logging.INFO)
    response = app.get(http, "/oauth/openid/callback", params={"state": "nope"},
                       headers={"X-Request-ID": "trace-4711"})
    assert response.status_code == 400
    assert response.headers["X-Request-ID"] == "trace-4711"
    lines = [r for r in caplog.records if "login failed" in r.getMessage()]
    assert lines and all(r.request_id == "trace-4711" for r in lines)
    # Garbage (a header-injection attempt, or too long) is never kept.
    for bad in ("a b", "x" * 200, "id\u00e9"):
        kept = app.get(http, "/healthz", headers={"X-Request-ID": bad.encode("utf-8")}).headers["X-Request-ID"]
        assert kept != bad and len(kept) == 32


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_verify_answers_and_routes_are_counted_by_name_not_path(make_app, provider):
    """Any `<blueprint>.verify` endpoint (the forward-auth one) is counted by status; request
    durations are labelled with the endpoint name, and unmatched paths share one label."""
    app = make_app()
    app.app.add_url_rule("/ops-test/verify", "opstest.verify", lambda: ("", 401))
    http = app.session()
    before_401 = _sample("oidc_login_verify_answers_total", status="401")
    before_login = _sample("oidc_login_request_duration_seconds_count", route="auth.login")
    before_unmatched = _sample("oidc_login_request_duration_seconds_count", route="unmatched")
    assert app.get(http, "/ops-test/verify").status_code == 401
    assert app.get(http, "/ops-test/verify").status_code == 401
    assert app.get(http, "/login").status_code == 200
    assert app.get(http, "/no/such/path/user-123").status_code == 404
    assert _sample("oidc_login_verify_answers_total", status="401") - before_401 == 2
    assert _sample("oidc_login_request_duration_seconds_count", route="auth.login") - before_login == 1
    assert _sample("oidc_login_request_duration_seconds_count", route="unmatched") - before_unmatched == 1


def test_sessions_ended_by_a_back_channel_logout_are_counted(make_app, provider):
    app = make_app()
    provider.user = provider.user | {"sub": "user-bcl"}
    provider.config.id_token_claims = {"sid": "sid-ops"}
    first, second = app.login(), app.login()
    before = _sample("oidc_login_sessions_ended_total", reason="backchannel")
    token = provider.mint_logout_token(sid="sid-ops")
    response = app.post(app.session(), "/oauth/openid/backchannel-logout", data={"logout_token": token})
    assert response.status_code == 200, response.text
    assert app.get(first, "/api/user").status_code == 401 and app.get(second, "/api/user").status_code == 401
    assert _sample("oidc_login_sessions_ended_total", reason="backchannel") - before == 2
