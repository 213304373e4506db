"""The store goes away (a broken instance folder, Redis paused or restarted) and a provider
hangs: 503 STORE_UNAVAILABLE / TOKEN_EXCHANGE_FAILED with Retry-After, never a 500, /healthz
keeps answering, and every session that existed works again afterwards, with its refresh
token never sent twice."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.oidc.refresh import LOCK, Refresher
from app.store import RedisStore
from tests.conftest import REUSE
from tests.redis_server import RedisServer, redis_available
from tests.web.test_auth import error_code
from tests.web.test_reuse import FAST, TTL, status, wait_until_refresh_due


@pytest.fixture
def redis_aof() -> Iterator[RedisServer]:
    """A redis-server with append-only persistence, so a restart keeps keys and locks."""
    if not redis_available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer(appendonly=True) as server:
        yield server


def assert_store_unavailable(response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert error_code(response) == "STORE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) >= 1
    assert "Set-Cookie" not in response.headers  # the session is kept for when the store is back


def test_broken_file_store_is_503_and_sessions_survive_the_repair(make_app):
    live = make_app(**REUSE)
    http = live.login()
    data = os.path.join(live.services.settings.instance_path, "store", "data")
    aside = data + ".aside"
    os.rename(data, aside)
    with open(data, "w") as f:  # a file where the folder was: every read and write fails
        f.write("broken")
    try:
        assert_store_unavailable(live.get(http, "/api/user"))
        page = live.get(http, "/", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "STORE_UNAVAILABLE" in page.text
        assert live.get(http, "/healthz").status_code == 200
        assert live.get(live.session(), "/login").status_code == 200
    finally:
        os.unlink(data)
        os.rename(aside, data)
    assert live.get(http, "/api/user").status_code == 200


def load(live, http, stop: threading.Event, seen: list[int]) -> None:
    while not stop.is_set():
        seen.append(live.get(http, "/api/user", timeout=20).status_code)


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_redis_paused_then_restarted_under_load(make_app, redis_aof):
    live = make_app(**REUSE, REDIS_URI=redis_aof.uri)
    browsers = [live.login() for _ in range(3)]
    stop = threading.Event()
    seen: list[int] = []
    workers = [threading.Thread(target=load, args=(live, http, stop, seen)) for http in browsers]
    for worker in workers:
        worker.start()
    try:
        time.sleep(0.5)
        redis_aof.pause()
        time.sleep(0.3)
        paused_at = time.monotonic()
        assert live.get(browsers[0], "/healthz", timeout=5).status_code == 200
        assert_store_unavailable(live.get(browsers[0], "/api/user", timeout=20))
        assert time.monotonic() - paused_at < 15  # bounded by the socket timeout, not hung
        redis_aof.resume()
        time.sleep(0.5)
        redis_aof.stop()  # a real restart: SIGTERM, the append-only file keeps the keys
        time.sleep(0.5)
        assert_store_unavailable(live.get(browsers[1], "/api/user", timeout=20))
        redis_aof.start()
        time.sleep(0.5)
    finally:
        redis_aof.resume()
        stop.set()
        for worker in workers:
            worker.join(30)
    assert set(seen) <= {200, 503}, sorted(set(seen))
    assert seen.count(503) >= 1 and seen.count(200) >= 1
    for http in browsers:
        assert live.get(http, "/api/user").status_code == 200


@pytest.mark.redis
@pytest.mark.timeout(90)
def test_redis_restart_right_after_a_refresh_grant_loses_nothing(make_app, provider, redis_aof):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST, REDIS_URI=redis_aof.uri)
    http = live.login()
    restarted = threading.Event()

    def restart_redis() -> None:  # the provider has rotated the token; our save is next
        redis_aof.stop()
        threading.Timer(1.0, lambda: (redis_aof.start(), restarted.set())).start()

    provider.config.on_refresh = restart_redis
    wait_until_refresh_due(live, http)
    first = live.get(http, "/api/user", timeout=30)
    provider.config.on_refresh = None
    assert restarted.wait(15)
    assert first.status_code in (200, 503), first.text
    time.sleep(0.5)
    for _ in range(5):  # the session lives on, from the rotated tokens
        assert status(live, http)["has_refresh_token"]
    assert provider.grants["refresh_token"] == 1
    assert provider.revoked_families == 0
    wait_until_refresh_due(live, http)  # and its next refresh uses the rotated token
    assert status(live, http)["has_refresh_token"]
    assert provider.grants["refresh_token"] == 2 and provider.revoked_families == 0


@pytest.mark.redis
def test_a_holder_that_lost_its_lease_sends_no_grant(make_app, provider, redis_aof):
    """Fencing: a holder stalled past its lease (another may hold the lock now) must not send
    a refresh grant, nor save one."""
    live = make_app(**REUSE, REDIS_URI=redis_aof.uri)
    http = live.login()
    vault = live.vault(http)
    refresher: Refresher = live.services.refresher
    tokens = refresher.load(vault)
    store: RedisStore = live.services.store
    original = store.lock

    def stalled_lock(key, *, wait, lease):
        handle_cm = original(key, wait=wait, lease=0.3)
        handle = handle_cm.__enter__()
        handle._renewer.stop()  # the holder stalls: no renewal
        time.sleep(0.6)  # past its lease
        with original(key, wait=1, lease=5):  # someone else takes it, and lets it go
            pass
        other = original(key, wait=1, lease=5)
        other.__enter__()  # and now holds it

        class Stalled:
            def __enter__(self):
                return handle

            def __exit__(self, *exc):
                other.__exit__(None, None, None)
                return handle_cm.__exit__(*exc)

        return Stalled()

    store.lock = stalled_lock  # type: ignore[method-assign]
    try:
        with pytest.raises(Exception) as caught:
            refresher.refresh(vault, tokens, force=True)
        assert getattr(caught.value, "code", None) == "TOKEN_EXCHANGE_FAILED"
    finally:
        store.lock = original  # type: ignore[method-assign]
    assert provider.grants["refresh_token"] == 0
    assert refresher.load(vault).refresh_token == tokens.refresh_token
    assert vault.key(LOCK)  # the lock key is the vault's, hashed


@pytest.mark.timeout(90)
def test_a_hanging_provider_ties_up_requests_only_briefly(make_app, provider):
    provider.config.access_token_ttl = TTL
    live = make_app(**FAST)
    http = live.login()
    wait_until_refresh_due(live, http, TTL + 1)  # expired: a refresh is required
    provider.config.delay["token"] = 30
    started = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        pending = [pool.submit(live.get, http, "/api/user", timeout=40) for _ in range(10)]
        time.sleep(0.5)
        health = live.get(live.session(), "/healthz", timeout=5)
        assert health.status_code == 200
        answers = [future.result() for future in pending]
    elapsed = time.monotonic() - started
    assert {a.status_code for a in answers} == {503}
    assert {error_code(a) for a in answers} == {"TOKEN_EXCHANGE_FAILED"}
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers)
    assert elapsed < 25, elapsed  # bounded well below a 30 s worker timeout
    assert provider.grants["refresh_token"] <= 1
    provider.config.delay.clear()
    time.sleep(1.5)
    assert status(live, http)["has_refresh_token"]  # kept, and refreshed once the provider is back
