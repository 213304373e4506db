"""get / set / delete / expiry, identical on both backends."""

from __future__ import annotations

import threading
import time

import pytest

from app.store import FileStore, RedisStore, Store, open_store

pytestmark = pytest.mark.timeout(15)


def test_round_trip(store: Store) -> None:
    value = {"sub": "u1", "roles": ["a", "b"], "n": 3, "nested": {"x": None, "ok": True}}
    store.set("session:1", value, ttl=60)
    assert store.get("session:1") == value
    store.delete("session:1")
    assert store.get("session:1") is None


def test_missing_key_is_none_and_delete_is_idempotent(store: Store) -> None:
    assert store.get("nope") is None
    store.delete("nope")
    assert store.get("nope") is None


def test_set_replaces(store: Store) -> None:
    store.set("k", {"v": 1}, ttl=60)
    store.set("k", {"v": 2}, ttl=60)
    assert store.get("k") == {"v": 2}


def test_other_clients_see_writes(make_store) -> None:
    a, b = make_store(), make_store()
    a.set("shared", {"v": "from a"}, ttl=60)
    assert b.get("shared") == {"v": "from a"}
    b.delete("shared")
    assert a.get("shared") is None


def test_odd_keys(store: Store) -> None:
    keys = ["a/b/../c", "", "ünï©ødé", "x" * 1000, "refresh:https://issuer/ sub"]
    for i, key in enumerate(keys):
        store.set(key, {"i": i}, ttl=60)
    for i, key in enumerate(keys):
        assert store.get(key) == {"i": i}


def test_expiry(store: Store) -> None:
    start = time.monotonic()
    store.set("short", {"v": 1}, ttl=0.3)
    store.set("long", {"v": 2}, ttl=60)
    assert store.get("short") == {"v": 1}
    deadline = start + 5
    while store.get("short") is not None:
        assert time.monotonic() < deadline, "value did not expire within 5 s"
        time.sleep(0.02)
    assert time.monotonic() - start >= 0.25
    assert store.get("long") == {"v": 2}


def test_rejects_bad_input(store: Store) -> None:
    with pytest.raises(ValueError):
        store.set("k", {"v": 1}, ttl=0)
    with pytest.raises(ValueError):
        store.set("k", {"v": 1}, ttl=-1)
    with pytest.raises(TypeError):
        store.set("k", ["not", "a", "dict"], ttl=10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.set("k", {"v": object()}, ttl=10)
    assert store.get("k") is None


def test_ping(store: Store) -> None:
    store.ping()


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


def test_readers_never_see_torn_writes(make_store) -> None:
    """Concurrent writers and readers of one key: every read is some complete value."""
    writers = [make_store() for _ in range(3)]
    readers = [make_store() for _ in range(3)]
    big = "x" * 20_000
    written = {i: {"writer": i, "pad": big} for i in range(3)}
    stop = threading.Event()
    errors: list[str] = []
    reads = [0]

    def write(i: int) -> None:
        while not stop.is_set():
            writers[i].set("hot", written[i], ttl=60)

    def read(i: int) -> None:
        while not stop.is_set():
            value = readers[i].get("hot")
            reads[0] += 1
            if value is not None and value not in written.values():
                errors.append(repr(value)[:80])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=read, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.7)
    stop.set()
    for t in threads:
        t.join(5)
    assert not errors
    assert reads[0] > 10


@pytest.mark.redis
def test_open_store_picks_backend(tmp_path, redis_server) -> None:
    files = open_store(None, str(tmp_path / "s"))
    assert isinstance(files, FileStore)
    assert isinstance(open_store("", str(tmp_path / "s")), FileStore)
    red = open_store(redis_server.uri, str(tmp_path / "unused"))
    assert isinstance(red, RedisStore)
    red.ping()
    red.close()
