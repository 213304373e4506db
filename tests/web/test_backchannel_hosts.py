"""Back-channel logout across hosts: two `oidc-login serve` processes sharing a real
redis-server; a logout token delivered to one ends the session on the other."""

from __future__ import annotations

import os

import pytest
import requests

from tests.conftest import REUSE
from tests.redis_server import RedisServer, redis_available
from tests.test_serve import login, provider_env, serve


@pytest.mark.redis
def test_logout_delivered_to_one_host_ends_the_session_on_the_other(tmp_path, provider):
    if not redis_available():
        message = "redis-server is not installed (./run-tests installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    provider.config.id_token_claims = {"sid": "sid-hosts"}
    with RedisServer() as redis_server:
        extra = {**REUSE, "REDIS_URI": redis_server.uri, "WEB_WORKERS": "1", "WEB_THREADS": "4"}
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        with serve(provider_env(provider, tmp_path / "a" / "inst", **extra), tmp_path / "a") as host_a, \
                serve(provider_env(provider, tmp_path / "b" / "inst", **extra), tmp_path / "b") as host_b:
            http = login(host_a.url)
            assert http.get(host_a.url + "/api/user", timeout=10).status_code == 200
            provider.config.id_token_claims = {"sid": "sid-other"}
            other = login(host_a.url)
            response = requests.post(
                host_b.url + "/oauth/openid/backchannel-logout",
                data={"logout_token": provider.mint_logout_token(sid="sid-hosts")}, timeout=10,
            )
            assert response.status_code == 200, response.text
            assert http.get(host_a.url + "/api/user", timeout=10).status_code == 401
            assert other.get(host_a.url + "/api/user", timeout=10).status_code == 200
            assert "sid-hosts" not in host_a.output() + host_b.output()
