"""The small interface for state that every worker and host must share.

Sessions, refresh locks and published refresh results must be visible to all
gunicorn workers (and, with Redis, to all hosts); a per-process dict would let
two workers refresh the same rotating refresh token. Callers code against
`Store` only, so the embedded file store and Redis are interchangeable.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable


class LockTimeout(Exception):
    """The lock stayed held elsewhere for the whole `wait`; the caller decides what to do."""


class StoreUnavailable(Exception):
    """The backend cannot be reached; one exception so the web layer can answer 503."""


@runtime_checkable
class LockHandle(Protocol):
    """What a held lock yields: a fencing check before anything irreversible."""

    def held(self) -> bool:
        """False once the lease was lost (the holder stalled past it and another may hold it)."""
        ...


class HeldLock:
    """The handle of a lock that cannot be lost while its holder lives (flock)."""

    def held(self) -> bool:
        return True


@runtime_checkable
class Store(Protocol):
    """Key/value with expiry plus a cross-process lock.

    Values are JSON-serialisable dicts; keys are arbitrary strings (backends hash
    or prefix them as they need).
    """

    def get(self, key: str) -> dict | None:
        """The value, or None when it is missing or expired."""
        ...

    def get_many(self, keys: list[str]) -> list[dict | None]:
        """`get` of each key, in one round trip where the backend has one."""
        ...

    def set(self, key: str, value: dict, ttl: float) -> None:
        """Store `value` for `ttl` seconds (> 0); replaces any previous value atomically."""
        ...

    def delete(self, key: str) -> None:
        """Remove the value; a missing key is not an error."""
        ...

    def lock(
        self, key: str, *, wait: float = 10.0, lease: float = 15.0
    ) -> AbstractContextManager[LockHandle]:
        """Mutual exclusion across threads, processes and hosts.

        Blocks up to `wait` seconds, else raises LockTimeout. A live holder never
        loses the lock however slow it is; a crashed holder's lock frees itself
        (Redis: after `lease` seconds; files: when its process dies). Yields a handle whose
        `held()` says whether the lock is still ours (fencing).
        """
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the backend is unreachable (for `check` and health)."""
        ...


def open_store(redis_uri: str | None, directory: str) -> Store:
    """Redis when `REDIS_URI` is set (several hosts), else files in `directory` (one host)."""
    if redis_uri:
        from .redis import RedisStore

        return RedisStore(redis_uri)
    from .files import FileStore

    return FileStore(directory)
