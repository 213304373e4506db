"""The Redis store: for several hosts sharing sessions and refresh locks.

Every redis-py error becomes StoreUnavailable so callers handle one exception.
Values are JSON strings with a native expiry (PX); keys carry a prefix so the
database can be shared with other applications.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .. import metrics
from .base import LockTimeout, StoreUnavailable

log = logging.getLogger(__name__)

# Take the lock, or confirm we already have it. Idempotent, so a command retried
# after a lost reply cannot make us wait on our own lock (plain SET NX could).
_ACQUIRE = """
local v = redis.call('get', KEYS[1])
if v == false then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif v == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# Extend only our own lock: after a lost lease someone else's must stay untouched.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

# Compare-and-delete: never release a lock another holder took after our lease ran out.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def _ms(seconds: float) -> int:
    """Seconds to whole milliseconds, at least 1 (PX 0 is an error)."""
    return max(1, math.ceil(seconds * 1000))


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn any redis-py error into StoreUnavailable (the message names no password)."""
    try:
        yield
    except redis.RedisError as exc:
        metrics.store_error(what.replace(" ", "_").lower())
        raise StoreUnavailable(f"redis {what} failed: {exc}") from exc


class _Renewer(threading.Thread):
    """Keeps a held lock's lease alive until release, so a slow holder never loses it."""

    def __init__(self, store: RedisStore, name: str, token: str, lease_ms: int) -> None:
        super().__init__(name=f"redis-lock-renew:{name}", daemon=True)
        self._store = store
        self._lock_name = name
        self._token = token
        self._lease_ms = lease_ms
        self._interval = lease_ms / 3000.0
        self._stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                ok = self._store._renew(keys=[self._lock_name], args=[self._token, self._lease_ms])
            except redis.RedisError as exc:
                # Keep trying: the lease still covers two more attempts.
                log.warning("could not renew lock %s: %s", self._lock_name, exc)
                continue
            if not ok:
                self.lost = True
                log.error("lock %s was lost (lease expired before renewal)", self._lock_name)
                return

    def stop(self) -> None:
        self._stopped.set()
        self.join()


class _RedisLockHandle:
    """Fencing: is the lock still ours? Asked before a refresh grant is sent or saved."""

    def __init__(self, store: "RedisStore", name: str, token: str, renewer: _Renewer) -> None:
        self._store, self._name, self._token, self._renewer = store, name, token, renewer

    def held(self) -> bool:
        if self._renewer.lost:
            return False
        try:
            current = self._store._client.get(self._name)
        except redis.RedisError:
            return True  # cannot tell now; the renewer's next answer decides
        return current is not None and current.decode() == self._token


class RedisStore:
    """Store on Redis: `oidc-login:<key>` values, `oidc-login:lock:<key>` locks.

    One client (with its connection pool) is shared by all threads; each `lock()`
    call has its own token and renewal thread, so gthread workers are safe.
    """

    def __init__(
        self,
        uri: str,
        *,
        prefix: str = "oidc-login:",
        socket_timeout: float = 2.0,
        client: redis.Redis | None = None,
    ) -> None:
        try:
            self._client = client or redis.Redis.from_url(
                uri,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                # One quick retry reconnects a pooled socket that went stale (e.g. Redis
                # restarted) without turning an outage into a long stall.
                retry=Retry(ExponentialBackoff(cap=0.1, base=0.02), 1),
            )
        except (ValueError, redis.RedisError) as exc:
            raise StoreUnavailable(f"bad REDIS_URI: {exc}") from exc
        self._prefix = prefix
        self._acquire_script = self._client.register_script(_ACQUIRE)
        self._renew = self._client.register_script(_RENEW)
        self._release_script = self._client.register_script(_RELEASE)

    def __repr__(self) -> str:
        kw = self._client.connection_pool.connection_kwargs
        return f"RedisStore({kw.get('host')}:{kw.get('port')}/{kw.get('db')}, prefix={self._prefix!r})"

    def get(self, key: str) -> dict | None:
        """The value, or None when missing or expired (Redis expires it)."""
        with _translated("GET"):
            raw = self._client.get(self._prefix + key)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            log.warning("ignoring unreadable redis value for a key")
            return None
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict, ttl: float) -> None:
        """SET with PX: Redis drops the value after `ttl` seconds."""
        if not isinstance(value, dict):
            raise TypeError(f"store values are dicts, not {type(value).__name__}")
        if not ttl > 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        payload = json.dumps(value, separators=(",", ":"))
        with _translated("SET"):
            self._client.set(self._prefix + key, payload, px=_ms(ttl))

    def delete(self, key: str) -> None:
        with _translated("DEL"):
            self._client.delete(self._prefix + key)

    def ping(self) -> None:
        with _translated("PING"):
            self._client.ping()

    def close(self) -> None:
        """Drop pooled connections (tests, shutdown)."""
        self._client.close()

    @contextmanager
    def lock(self, key: str, *, wait: float = 10.0, lease: float = 15.0) -> Iterator["_RedisLockHandle"]:
        """Take `lock:<key>` with a random token, renew every lease/3, compare-and-delete on exit."""
        if not lease > 0:
            raise ValueError(f"lease must be > 0 seconds, got {lease!r}")
        name = f"{self._prefix}lock:{key}"
        token = secrets.token_hex(16)
        lease_ms = _ms(lease)
        self._acquire(name, token, lease_ms, key, wait)
        renewer = _Renewer(self, name, token, lease_ms)
        renewer.start()
        try:
            yield _RedisLockHandle(self, name, token, renewer)
        finally:
            renewer.stop()
            try:
                with _translated("lock release"):
                    self._release_script(keys=[name], args=[token])
            except StoreUnavailable as exc:
                # The work under the lock is done; failing it now would mislead the
                # caller. The lease frees the lock shortly anyway.
                log.warning("%s; lock %s frees itself within %s s", exc, name, lease)

    def _acquire(self, name: str, token: str, lease_ms: int, key: str, wait: float) -> None:
        """Poll (bounded by `wait`) with a short, growing sleep."""
        deadline = time.monotonic() + max(0.0, wait)
        delay = 0.002
        while True:
            with _translated("lock acquire"):
                if self._acquire_script(keys=[name], args=[token, lease_ms]):
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(f"lock {key!r} still held after {wait} s")
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.025)
