"""A value from the provider that is fetched on first use, kept for a TTL, and kept (stale)
while refetches fail, so a provider outage does not take down logins that only need what
we already know. One fetch at a time; readers never wait while the value is fresh."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ..errors import AuthError

T = TypeVar("T")


class StaleWhileFailing(Generic[T]):
    def __init__(self, fetch: Callable[[], T], ttl: float, *, retry_stale_after: float = 60.0) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.retry_stale_after = retry_stale_after
        self._value: T | None = None
        self._fetched_at = float("-inf")  # not 0.0: monotonic() may be < ttl after boot
        self.lock = threading.Lock()

    def get(self) -> T:
        """The value; fetched when missing or older than the TTL. A failed refetch keeps the
        stale value and tries again `retry_stale_after` seconds later; with nothing to fall
        back on, the AuthError propagates."""
        value = self._value
        if value is not None and time.monotonic() - self._fetched_at < self.ttl:
            return value
        with self.lock:
            if self._value is not None and time.monotonic() - self._fetched_at < self.ttl:
                return self._value
            try:
                self._store(self._fetch())
            except AuthError:
                if self._value is None:
                    raise
                self._fetched_at = time.monotonic() - self.ttl + self.retry_stale_after
            return self._value  # type: ignore[return-value]

    @property
    def current(self) -> T | None:
        """The value as it is now, without fetching."""
        return self._value

    def refetch(self, seen: T) -> T:
        """A forced fetch, for a caller holding `lock` that found `seen` lacking; a failure
        keeps `seen`."""
        try:
            self._store(self._fetch())
        except AuthError:
            return seen
        return self._value  # type: ignore[return-value]

    def invalidate(self) -> None:
        with self.lock:
            self._fetched_at = float("-inf")

    def _store(self, value: T) -> None:
        self._value = value
        self._fetched_at = time.monotonic()
