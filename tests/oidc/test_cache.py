"""StaleWhileFailing: fetched once per TTL, stale while the provider fails, never stale
when there was nothing to fall back on."""

from __future__ import annotations

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
