"""The Redis store: for several hosts sharing sessions and refresh locks.

Every redis-py error becomes StoreUnavailable so callers handle one exception.
Values are JSON strings with a native expiry (PX); keys carry a prefix (REDIS_KEY_PREFIX)
so the database can be shared with other applications.

REDIS_URI forms: `redis://`, `rediss://` (TLS; `?ssl_ca_certs=/path/ca.pem` for a private
CA, read by redis-py itself), and `redis+sentinel://[:password@]host:port[,host:port...]/
<service>[/<db>]`, where redis-py's Sentinel client finds the current primary and follows
a failover. Replication is asynchronous, so with Sentinel every lock taken and every value
written waits (briefly, bounded) for one replica to confirm: a failover right after that
cannot lose it. Without a replica's answer in time we go on: Redis cannot promise more.
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
from typing import Any
from urllib.parse import unquote, urlsplit

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


SENTINEL_SCHEME = "redis+sentinel://"
#: How long a write waits for one replica to confirm it (Sentinel mode only).
REPLICA_WAIT_MS = 200
#: Seconds between confirmations tried while no replica answers.
ALONE_RECHECK = 5.0


def parse_sentinel_uri(uri: str) -> tuple[list[tuple[str, int]], str, int, str | None]:
    """`redis+sentinel://[:password@]h:p[,h:p...]/<service>[/<db>]` -> (sentinels, service,
    db, password). The password is the data nodes' (the primary's and replicas')."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    password = None
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        password = unquote(userinfo.split(":", 1)[1] if ":" in userinfo else userinfo) or None
    sentinels = []
    for item in netloc.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"sentinel address {item!r} must be host:port")
        sentinels.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("the path must be /<service> or /<service>/<db>")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError(f"db {path[1]!r} must be a number")
    return sentinels, unquote(path[0]), int(path[1]) if len(path) == 2 else 0, password


def _client_for(uri: str, socket_timeout: float) -> tuple[redis.Redis, bool]:
    """A redis-py client for any REDIS_URI form, and whether it follows Sentinel."""
    common: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        # One quick retry reconnects a pooled socket that went stale (e.g. Redis restarted,
        # or Sentinel moved the primary) without turning an outage into a long stall.
        "retry": Retry(ExponentialBackoff(cap=0.1, base=0.02), 1),
    }
    if not uri.startswith(SENTINEL_SCHEME):
        return redis.Redis.from_url(uri, **common), False
    from redis.sentinel import Sentinel

    sentinels, service, db, password = parse_sentinel_uri(uri)
    manager = Sentinel(
        sentinels,
        sentinel_kwargs={"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout},
    )
    return manager.master_for(service, db=db, password=password, **common), True


def _parsed(raw: bytes | None) -> dict | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        log.warning("ignoring unreadable redis value for a key")
        return None
    return value if isinstance(value, dict) else None


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
        self._replicated = False
        self._alone_until = 0.0
        try:
            if client is None:
                client, self._replicated = _client_for(uri, socket_timeout)
            self._client = client
        except (ValueError, redis.RedisError) as exc:
            raise StoreUnavailable(f"bad REDIS_URI: {exc}") from exc
        self._prefix = prefix
        self._acquire_script = self._client.register_script(_ACQUIRE)
        self._renew = self._client.register_script(_RENEW)
        self._release_script = self._client.register_script(_RELEASE)

    def __repr__(self) -> str:
        kw = self._client.connection_pool.connection_kwargs
        where = "sentinel" if self._replicated else f"{kw.get('host')}:{kw.get('port')}"
        return f"RedisStore({where}/{kw.get('db')}, prefix={self._prefix!r})"

    def _replicate(self) -> None:
        """Sentinel mode: wait up to REPLICA_WAIT_MS for one replica to hold the last write,
        so a failover right after it does not lose it. Best effort by design: while no
        replica is connected (e.g. the only one was just promoted) waiting would only add
        latency, so then a cheap INFO every ALONE_RECHECK seconds looks for one instead."""
        if not self._replicated:
            return
        now = time.monotonic()
        if now < self._alone_until:
            return
        try:
            if self._alone_until:
                replication = self._client.info("replication")
                if not int(replication.get("connected_slaves", 0)):
                    self._alone_until = now + ALONE_RECHECK
                    return
                self._alone_until = 0.0
            confirmed = self._client.wait(1, REPLICA_WAIT_MS)
        except redis.RedisError as exc:
            log.warning("replica confirmation failed: %s", type(exc).__name__)
            return
        if not confirmed:
            self._alone_until = now + ALONE_RECHECK

    def get(self, key: str) -> dict | None:
        """The value, or None when missing or expired (Redis expires it)."""
        with _translated("GET"):
            raw = self._client.get(self._prefix + key)
        return _parsed(raw)

    def get_many(self, keys: list[str]) -> list[dict | None]:
        """Several values in one round trip (MGET): a request reads its session and its
        token record together."""
        with _translated("MGET"):
            raws = self._client.mget([self._prefix + key for key in keys])
        return [_parsed(raw) for raw in raws]

    def set(self, key: str, value: dict, ttl: float) -> None:
        """SET with PX: Redis drops the value after `ttl` seconds."""
        if not isinstance(value, dict):
            raise TypeError(f"store values are dicts, not {type(value).__name__}")
        if not ttl > 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        payload = json.dumps(value, separators=(",", ":"))
        with _translated("SET"):
            self._client.set(self._prefix + key, payload, px=_ms(ttl))
        self._replicate()

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
                    self._replicate()
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LockTimeout(f"lock {key!r} still held after {wait} s")
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.025)
