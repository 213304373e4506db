"""Redis-only behaviour: lease renewal, foreign locks, dead holders, outages."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from app.store import LockTimeout, RedisStore, StoreUnavailable
from tests.redis_server import RedisServer, redis_available

pytestmark = [
    pytest.mark.redis,
    pytest.mark.timeout(20),
    pytest.mark.skipif(not redis_available(), reason="redis-server is not installed (apt-get install redis-server)"),
]


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex}:"


@pytest.fixture
def raw(redis_server: RedisServer):
    client = redis.Redis.from_url(redis_server.uri, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def stores(redis_server: RedisServer, prefix: str):
    opened: list[RedisStore] = []

    def make() -> RedisStore:
        s = RedisStore(redis_server.uri, prefix=prefix)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


def test_values_are_prefixed_json_with_px(stores, raw, prefix: str) -> None:
    store = stores()
    store.set("k", {"a": 1}, ttl=30)
    assert raw.get(prefix + "k") == '{"a":1}'
    assert 29_000 < raw.pttl(prefix + "k") <= 30_000


def test_lease_is_renewed_while_held(stores, raw, prefix: str) -> None:
    """Held for 4 leases: nobody else gets it, and the key never runs out."""
    holder, other = stores(), stores()
    with holder.lock("slow", lease=0.5):
        end = time.monotonic() + 2.0
        attempts = 0
        while time.monotonic() < end:
            with pytest.raises(LockTimeout):
                with other.lock("slow", wait=0):
                    pytest.fail("lock taken from a live holder")
            assert raw.pttl(prefix + "lock:slow") > 0
            attempts += 1
            time.sleep(0.1)
        assert attempts >= 10
    assert raw.exists(prefix + "lock:slow") == 0
    with other.lock("slow", wait=0):
        pass


def test_dead_holder_frees_after_lease(stores, raw, prefix: str) -> None:
    """A lock key nobody renews (its holder died) expires after its lease."""
    store = stores()
    raw.set(prefix + "lock:k", "dead-holder-token", px=600)
    start = time.monotonic()
    with pytest.raises(LockTimeout):
        with store.lock("k", wait=0.1):
            pass
    with store.lock("k", wait=5):
        waited = time.monotonic() - start
    assert 0.4 <= waited < 1.5


def test_release_spares_a_foreign_lock(stores, raw, prefix: str) -> None:
    """If our lease ran out and someone else took the lock, we neither renew nor delete theirs."""
    store = stores()
    name = prefix + "lock:k"
    with store.lock("k", lease=0.6):
        raw.set(name, "someone-else", px=5000)
        time.sleep(0.5)  # at least one renewal tick sees a foreign token
    assert raw.get(name) == "someone-else"
    assert raw.pttl(name) > 3000  # not cut down to our 600 ms lease


def test_lock_key_carries_lease(stores, raw, prefix: str) -> None:
    store = stores()
    with store.lock("k", lease=15):
        ttl = raw.pttl(prefix + "lock:k")
        assert 14_000 < ttl <= 15_000
        assert len(raw.get(prefix + "lock:k")) >= 32  # a random token, not a constant


def test_threads_sharing_one_client_each_own_their_lock(stores) -> None:
    """gthread workers share one RedisStore; a lock's token must not leak between threads."""
    store = stores()
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with store.lock("k", lease=1):
            first_in.set()
            time.sleep(0.4)
            order.append("first out")

    def second() -> None:
        first_in.wait(2)
        with store.lock("k", wait=5, lease=1):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert order == ["first out", "second in"]


def test_stopped_server_raises_store_unavailable(tmp_path) -> None:
    with RedisServer() as server:
        store = RedisStore(server.uri)
        store.set("k", {"v": 1}, ttl=60)
        server.stop()
        for op in (
            lambda: store.get("k"),
            lambda: store.set("k", {"v": 2}, ttl=60),
            lambda: store.delete("k"),
            store.ping,
            lambda: store.lock("k", wait=1).__enter__(),
        ):
            start = time.monotonic()
            with pytest.raises(StoreUnavailable):
                op()
            assert time.monotonic() - start < 3
        server.start()  # same port again: the same client recovers
        store.ping()
        store.set("k", {"v": 3}, ttl=60)
        assert store.get("k") == {"v": 3}
        store.close()


def test_unreachable_uri_and_bad_uri() -> None:
    with RedisServer() as server:
        uri = server.uri
    store = RedisStore(uri)  # nothing listens there any more; construction is lazy
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        RedisStore("http://127.0.0.1:1/0")


def test_exception_not_a_redis_error() -> None:
    assert not issubclass(StoreUnavailable, redis.RedisError)
