"""Fixtures for the shared-store tests: a real redis-server, and each backend as `store`."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.redis_server` and `app` without PYTHONPATH=.
    sys.path.insert(0, str(ROOT))

from app.store import FileStore, RedisStore, Store  # noqa: E402
from tests.redis_server import RedisServer, redis_available  # noqa: E402


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session (tests isolate themselves with key prefixes)."""
    if not redis_available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["files", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict:
    """How to open this test's store, also from another process (see store_worker.py)."""
    if request.param == "files":
        return {"kind": "files", "dir": str(tmp_path / "store")}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"kind": "redis", "uri": server.uri, "prefix": f"test-{uuid.uuid4().hex}:"}


def open_backend(spec: dict) -> Store:
    """A new, independent client for `spec` (a second worker, in effect)."""
    if spec["kind"] == "files":
        return FileStore(spec["dir"])
    return RedisStore(spec["uri"], prefix=spec["prefix"])


@pytest.fixture
def make_store(backend: dict) -> Iterator[Callable[[], Store]]:
    """Factory for extra clients of the same store; redis clients are closed afterwards."""
    opened: list[Store] = []

    def make() -> Store:
        store = open_backend(backend)
        opened.append(store)
        return store

    yield make
    for store in opened:
        if isinstance(store, RedisStore):
            store.close()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    return make_store()


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Environment for store_worker.py subprocesses: the repo on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env
