"""A value from the provider that is fetched on first use, kept for a TTL, and kept (stale)
while refetches fail, so a provider outage does not take down logins that only need what
we already know. One fetch at a time; readers never wait while the value is fresh, and never
longer than `wait` while another fetch hangs: a provider that hangs must not hold every
worker thread, nor queue them to refetch one after another: a reader that waited while a
fetch failed gets that failure instead of trying again (a later reader does try again)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ..errors import AuthError

T = TypeVar("T")


class StaleWhileFailing(Generic[T]):
    def __init__(
        self,
        fetch: Callable[[], T],
        ttl: float,
        *,
        busy: Callable[[], AuthError] | None = None,
        retry_stale_after: float = 60.0,
        wait: float = 6.0,
    ) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.busy = busy
        self.retry_stale_after = retry_stale_after
        self.wait = wait
        self._value: T | None = None
        self._fetched_at = float("-inf")  # not 0.0: monotonic() may be < ttl after boot
        self._failure: tuple[float, AuthError] | None = None
        self.lock = threading.Lock()

    def get(self) -> T:
        """The value; fetched when missing or older than the TTL. A failed refetch keeps the
        stale value and tries again `retry_stale_after` seconds later; with nothing to fall
        back on, the AuthError propagates."""
        value = self._value
        if value is not None and time.monotonic() - self._fetched_at < self.ttl:
            return value
        waiting_since = time.monotonic()
        if not self.lock.acquire(timeout=self.wait):
            if self._value is not None:
                return self._value  # stale beats waiting on a hanging provider
            if self.busy is None:
                raise AuthError("DISCOVERY_FAILED", "The provider is slow to answer; try again shortly.")
            raise self.busy()
        try:
            if self._value is not None and time.monotonic() - self._fetched_at < self.ttl:
                return self._value
            if self._value is None and self._failure and self._failure[0] >= waiting_since:
                raise self._failure[1]  # it failed while we waited: do not queue another try
            try:
                self._store(self._fetch())
            except AuthError as error:
                self._failure = (time.monotonic(), error)
                if self._value is None:
                    raise
                self._fetched_at = time.monotonic() - self.ttl + self.retry_stale_after
            return self._value  # type: ignore[return-value]
        finally:
            self.lock.release()

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
