"""StaleWhileFailing: fetched once per TTL, stale while the provider fails, never stale
when there was nothing to fall back on."""

from __future__ import annotations

import time

import pytest

from app.errors import AuthError
from app.oidc import cache as cache_module
from app.oidc.cache import StaleWhileFailing


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    def __call__(self) -> dict:
        self.calls += 1
        if self.failing:
            raise AuthError("DISCOVERY_FAILED")
        return {"n": self.calls}


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    return now


def test_fetches_once_per_ttl(clock):
    source = Source()
    cached = StaleWhileFailing(source, ttl=10)
    assert cached.get() == {"n": 1} and cached.get() == {"n": 1}
    clock[0] += 11
    assert cached.get() == {"n": 2} and source.calls == 2


def test_failure_with_nothing_cached_raises(clock):
    source = Source()
    source.failing = True
    with pytest.raises(AuthError):
        StaleWhileFailing(source, ttl=10).get()


def test_stale_value_serves_while_failing_and_retries_later(clock):
    source = Source()
    cached = StaleWhileFailing(source, ttl=10, retry_stale_after=5)
    cached.get()
    source.failing = True
    clock[0] += 11
    assert cached.get() == {"n": 1} and source.calls == 2
    clock[0] += 1
    assert cached.get() == {"n": 1} and source.calls == 2  # no hammering
    clock[0] += 5
    source.failing = False
    assert cached.get() == {"n": 3}  # the retry after 5 s is the third fetch


def test_invalidate_and_refetch(clock):
    source = Source()
    cached = StaleWhileFailing(source, ttl=10)
    first = cached.get()
    cached.invalidate()
    assert cached.get() == {"n": 2}
    source.failing = True
    with cached.lock:
        assert cached.refetch(first) is first  # a failed forced fetch keeps what we had
    assert cached.current == {"n": 2}


def test_a_hanging_fetch_holds_other_readers_only_for_wait():
    import threading

    release = threading.Event()
    calls = []

    def slow() -> int:
        calls.append(1)
        release.wait(5)
        return 7

    cached = StaleWhileFailing(slow, ttl=10, wait=0.2,
                               busy=lambda: AuthError("JWKS_FETCH_FAILED", "slow"))
    first = threading.Thread(target=cached.get)
    first.start()
    time.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(AuthError) as caught:
        cached.get()
    assert caught.value.code == "JWKS_FETCH_FAILED"
    assert time.monotonic() - started < 2
    release.set()
    first.join(5)
    assert cached.get() == 7 and len(calls) == 1


def test_readers_that_waited_on_a_failing_fetch_do_not_refetch_in_turn():
    import threading

    calls = []

    def failing() -> int:
        calls.append(1)
        time.sleep(0.3)
        raise AuthError("DISCOVERY_FAILED", "down")

    cached = StaleWhileFailing(failing, ttl=10)
    errors = []

    def read() -> None:
        try:
            cached.get()
        except AuthError as error:
            errors.append(error.code)

    threads = [threading.Thread(target=read) for _ in range(5)]
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    for thread in threads:
        thread.join(5)
    assert errors == ["DISCOVERY_FAILED"] * 5
    assert len(calls) == 1
    with pytest.raises(AuthError):
        cached.get()  # a later reader tries again
    assert len(calls) == 2
