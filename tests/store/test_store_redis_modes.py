"""REDIS_URI forms against real servers: rediss:// with a CA made at test time, Sentinel
(`redis+sentinel://`), and REDIS_KEY_PREFIX."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from app.store import RedisStore, StoreUnavailable
from app.store.redis import parse_sentinel_uri
from tests.redis_server import RedisServer, SentinelGroup, redis_available, sentinel_available
from tests.tls import TestCA

needs_redis = pytest.mark.skipif(not redis_available(), reason="redis-server is not installed (apt-get install redis-server)")
needs_sentinel = pytest.mark.skipif(not sentinel_available(), reason="redis-sentinel is not installed (apt-get install redis-sentinel)")


@pytest.mark.redis
@needs_redis
def test_rediss_with_the_ca_file_works_and_without_it_is_refused(tmp_path: Path) -> None:
    files = TestCA("redis CA").issue(tmp_path / "tls", "redis")
    with RedisServer(tls=files) as server:
        store = RedisStore(f"{server.uri}?ssl_ca_certs={files.ca}")
        store.ping()
        store.set("k", {"v": 1}, 30)
        assert store.get("k") == {"v": 1}
        with store.lock("l", wait=1):
            pass
        store.close()
        # The system's authorities do not know the test CA: verification fails, no fallback.
        untrusted = RedisStore(server.uri)
        with pytest.raises(StoreUnavailable):
            untrusted.ping()
        # And plain redis:// to a TLS port does not answer either.
        with pytest.raises(StoreUnavailable):
            RedisStore(server.uri.replace("rediss://", "redis://")).ping()


@pytest.mark.redis
@needs_redis
def test_key_prefix_is_on_every_key(redis_server_plain: RedisServer) -> None:
    store = RedisStore(redis_server_plain.uri, prefix="tenant-a:")
    store.set("session:1", {"v": 1}, 30)
    with store.lock("refresh:1", wait=1):
        raw = redis.Redis.from_url(redis_server_plain.uri)
        keys = sorted(k.decode() for k in raw.keys("*"))
    assert keys == ["tenant-a:lock:refresh:1", "tenant-a:session:1"]
    other = RedisStore(redis_server_plain.uri, prefix="tenant-b:")
    assert other.get("session:1") is None


@pytest.fixture
def redis_server_plain() -> RedisServer:
    if not redis_available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer() as server:
        yield server  # type: ignore[misc]


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("redis+sentinel://h1:26379/mymaster", ([("h1", 26379)], "mymaster", 0, None)),
        ("redis+sentinel://:p%40ss@h1:1,h2:2,h3:3/svc/2", ([("h1", 1), ("h2", 2), ("h3", 3)], "svc", 2, "p@ss")),
        ("redis+sentinel://[::1]:26379/svc", ([("::1", 26379)], "svc", 0, None)),
    ],
)
def test_sentinel_uri_forms(uri: str, expected: tuple) -> None:
    assert parse_sentinel_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    ["redis+sentinel://h1:26379/", "redis+sentinel://h1/svc", "redis+sentinel://h1:1/svc/x", "redis+sentinel://h1:1/a/1/2"],
)
def test_bad_sentinel_uris_are_named(uri: str) -> None:
    with pytest.raises(StoreUnavailable, match="bad REDIS_URI"):
        RedisStore(uri)


@pytest.mark.redis
@needs_sentinel
def test_sentinel_store_follows_a_failover_and_keeps_what_was_written() -> None:
    with SentinelGroup(password="group-secret") as group:
        store = RedisStore(group.uri, prefix="fo:")
        store.set("session", {"v": 1}, 60)
        with store.lock("held", wait=1, lease=30):
            group.kill_primary()
            group.wait_for_failover()
            other = RedisStore(group.uri, prefix="fo:")
            # The lock taken before the failover is still held on the new primary...
            with pytest.raises(Exception) as taken:
                with other.lock("held", wait=0.5):
                    pass
            assert type(taken.value).__name__ == "LockTimeout"
            # ...and the value written before it is there.
            assert other.get("session") == {"v": 1}
        with other.lock("held", wait=2):  # released on the new primary
            pass
        # The new primary has no replica: writes go on without waiting for one, and the
        # store looks for a returning replica only now and then.
        other.set("after", {"v": 2}, 60)
        assert other.get("after") == {"v": 2}
        assert other._alone_until > 0
        assert "group-secret" not in repr(store)
