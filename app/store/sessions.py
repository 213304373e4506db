"""flask-session's storage on top of the shared store, for files and Redis alike.

One store holds sessions, token records and refresh locks, so a deployment has one
place to configure, back up and sweep, and session reads get the store's fast path.
"""

from __future__ import annotations

from typing import Any

from cachelib.base import BaseCache

from .base import Store


class SessionCache(BaseCache):  # type: ignore[misc]
    """The cachelib interface flask-session's CacheLibSessionInterface calls (get, set,
    delete); it hands over the session as a plain dict, which is a store value as it is."""

    def __init__(self, store: Store, default_timeout: int = 3600) -> None:
        super().__init__(default_timeout=default_timeout)
        self.store = store

    def get(self, key: str) -> Any:
        return self.store.get(key)

    def set(self, key: str, value: Any, timeout: int | None = None) -> bool:
        self.store.set(key, dict(value), float(timeout or self.default_timeout))
        return True

    def delete(self, key: str) -> bool:
        self.store.delete(key)
        return True
