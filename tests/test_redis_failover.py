"""Redis Sentinel failover under `oidc-login serve`: a primary, a replica and three
sentinels on loopback; signed-in sessions under load while the primary is killed. No 500
(503 allowed during the switch), sessions work afterwards, and 50 concurrent requests
after expiry still make exactly one refresh grant on the new primary."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests

from tests.conftest import REUSE
from tests.redis_server import SentinelGroup, sentinel_available
from tests.test_serve import login, provider_env, race, serve

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not sentinel_available(),
                       reason="redis-server or redis-sentinel is not installed (apt-get install redis-sentinel)"),
    pytest.mark.timeout(150),
]


def test_sessions_survive_a_primary_killed_under_load(tmp_path, provider):
    with SentinelGroup(password="sentinel-group-pw") as group:
        env = provider_env(provider, tmp_path / "inst", **REUSE, REDIS_URI=group.uri, WEB_WORKERS="2",
                           WEB_THREADS="8")
        with serve(env, tmp_path) as served:
            cookies = [login(served.url).cookies["oidc_login"] for _ in range(3)]
            statuses: Counter[int] = Counter()
            stop = threading.Event()

            def load(cookie: str) -> None:
                http = requests.Session()
                http.cookies.set("oidc_login", cookie)
                while not stop.is_set():
                    try:
                        statuses[http.get(served.url + "/api/user", timeout=10).status_code] += 1
                    except requests.RequestException:
                        statuses[0] += 1
                    time.sleep(0.02)

            threads = [threading.Thread(target=load, args=(c,), daemon=True) for c in cookies for _ in range(2)]
            for thread in threads:
                thread.start()
            time.sleep(0.5)
            group.kill_primary()
            group.wait_for_failover()
            time.sleep(1.0)  # a little load on the new primary too
            stop.set()
            for thread in threads:
                thread.join(15)

            assert statuses[500] == 0 and statuses[0] == 0, statuses
            assert set(statuses) <= {200, 503}, statuses
            assert statuses[200] > 0
            for cookie in cookies:  # every session still works on the new primary
                response = requests.get(served.url + "/api/user", cookies={"oidc_login": cookie}, timeout=10)
                assert response.status_code == 200, response.text

            # The race on the new primary: 50 concurrent requests after expiry, one grant.
            provider.config.access_token_ttl = 4
            provider.config.delay = {"token": 0.3}
            grants_before = provider.grants["refresh_token"]
            http = login(served.url)
            time.sleep(3.1)
            codes = race([served.url], http.cookies["oidc_login"])
            assert codes == [200] * 50, (Counter(codes), served.output()[-3000:])
            assert provider.grants["refresh_token"] - grants_before == 1
            assert provider.revoked_families == 0
        assert "sentinel-group-pw" not in served.output()
