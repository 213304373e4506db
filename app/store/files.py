"""The embedded store: JSON files plus flock, for one host with several workers.

Needs no service to run, yet gunicorn's worker processes (and their threads)
all see the same sessions and refresh locks because they share the directory.
Not for several hosts: flock on network filesystems is unreliable; use Redis.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from .base import HeldLock, LockTimeout, StoreUnavailable

_MEMO_SIZE = 2048  # parsed values kept per process (memory stays flat past that many sessions)

log = logging.getLogger(__name__)

_TEMP_PREFIX = ".tmp-"
_ASIDE_PREFIX = ".expired-"
_STALE_AFTER = 3600.0  # seconds before crash leftovers (temp / lock files) are swept


def _digest(key: str) -> str:
    """File name for a key: any string maps to a safe, fixed-length name."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _mkdir_private(path: str) -> None:
    """Create `path` as 0700: sessions and tokens must not be readable by other users."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


class FileStore:
    """Values as `data/<sha256>.json` (with their expiry inside), locks as `locks/<sha256>.lock`.

    Writes are atomic (temp file + os.replace), so a reader sees the old or the new
    value, never a torn one. `get` is one open + read + parse; expired files are
    removed when read, and a rare background sweep removes those never read again.
    """

    def __init__(self, directory: str, *, sweep_interval: float | None = 600.0) -> None:
        self.directory = os.path.abspath(directory)
        self._data = os.path.join(self.directory, "data")
        self._locks = os.path.join(self.directory, "locks")
        try:
            os.makedirs(os.path.dirname(self.directory), exist_ok=True)
            _mkdir_private(self.directory)
            _mkdir_private(self._data)
            _mkdir_private(self._locks)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create store directory {self.directory}: {exc}") from exc
        self._sweep_interval = sweep_interval
        self._next_sweep = time.monotonic() + (sweep_interval or 0.0)
        self._sweep_guard = threading.Lock()
        self._memo: dict[str, tuple[tuple[int, int, int], float, dict]] = {}
        self._paths: dict[str, str] = {}  # key -> file path (one SHA-256 per key, not per read)
        self._memo_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileStore({self.directory!r})"

    # -- values -------------------------------------------------------------------

    def _path(self, key: str) -> str:
        path = self._paths.get(key)
        if path is None:
            path = os.path.join(self._data, _digest(key) + ".json")
            if len(self._paths) >= _MEMO_SIZE:
                self._paths.clear()
            self._paths[key] = path
        return path

    def get(self, key: str) -> dict | None:
        """The value, or None when missing, expired or unreadable.

        Every request reads its session and token record, so parsed values are kept in
        memory and reused while the file is unchanged: one stat instead of open, read and
        parse. Writes replace the file (a new inode), so any change is seen at once.
        """
        path = self._path(key)
        try:
            seen = os.stat(path)
        except FileNotFoundError:
            self._memo.pop(path, None)
            return None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {path}: {exc}") from exc
        memo = self._memo.get(path)
        if memo is not None and memo[0] == (seen.st_ino, seen.st_mtime_ns, seen.st_size):
            if memo[1] > time.time():
                return dict(memo[2])  # a copy: callers may change the top level, never the memo
        return self._read(path)

    def get_many(self, keys: list[str]) -> list[dict | None]:
        """Several values (one stat each; no round trips to save here)."""
        return [self.get(key) for key in keys]

    def _read(self, path: str) -> dict | None:
        try:
            with open(path, "rb") as f:
                raw = f.read()
                stat = os.fstat(f.fileno())
                try:
                    record = json.loads(raw)
                    expires_at = float(record["expires_at"])
                    value = record["value"]
                except (ValueError, TypeError, KeyError):
                    log.warning("ignoring unreadable store file %s", path)
                    return None
                if expires_at <= time.time():
                    # Still holding the fd keeps the inode number from being reused
                    # while _remove_expired compares it.
                    self._remove_expired(path, stat)
                    return None
                if not isinstance(value, dict):
                    return None
                self._remember(path, stat, expires_at, value)
                return dict(value)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailable(f"cannot read {path}: {exc}") from exc

    def _remember(self, path: str, stat: os.stat_result, expires_at: float, value: dict) -> None:
        with self._memo_lock:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
            self._memo[path] = ((stat.st_ino, stat.st_mtime_ns, stat.st_size), expires_at, value)

    def set(self, key: str, value: dict, ttl: float) -> None:
        """Atomically replace the value; it reads as missing after `ttl` seconds."""
        if not isinstance(value, dict):
            raise TypeError(f"store values are dicts, not {type(value).__name__}")
        if not ttl > 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        payload = json.dumps(
            {"expires_at": time.time() + ttl, "value": value}, separators=(",", ":")
        ).encode("utf-8")  # serialise first: a bad value leaves no temp file behind
        path = self._path(key)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=self._data)  # mode 0600
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            raise StoreUnavailable(f"cannot write {path}: {exc}") from exc
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        self._maybe_sweep()

    def delete(self, key: str) -> None:
        """Remove the value; missing is fine."""
        path = self._path(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreUnavailable(f"cannot delete {path}: {exc}") from exc

    def _remove_expired(self, path: str, seen: os.stat_result) -> None:
        """Remove `path` only if it is still the expired file we read.

        A plain unlink could delete a fresh value that another worker wrote after
        our read. Instead move whatever is there aside (atomic), and if it turns
        out to be a newer file, link it back unless an even newer one arrived.
        """
        aside = os.path.join(self._data, f"{_ASIDE_PREFIX}{uuid.uuid4().hex}")
        try:
            os.rename(path, aside)
        except OSError:
            return  # already gone or replaced and removed by someone else
        try:
            st = os.stat(aside)
            if (st.st_ino, st.st_dev) != (seen.st_ino, seen.st_dev):
                try:
                    os.link(aside, path)
                except FileExistsError:
                    pass  # a newer value was written meanwhile; it wins
        except OSError as exc:
            log.warning("could not restore %s after expiry check: %s", path, exc)
        finally:
            try:
                os.unlink(aside)
            except OSError:
                pass

    # -- locks --------------------------------------------------------------------

    @contextmanager
    def lock(self, key: str, *, wait: float = 10.0, lease: float = 15.0) -> Iterator[HeldLock]:
        """flock on `locks/<sha256>.lock`; `lease` is unused (the kernel frees it when a holder dies)."""
        path = os.path.join(self._locks, _digest(key) + ".lock")
        fd = self._acquire(path, key, wait)
        try:
            yield HeldLock()
        finally:
            self._release(path, fd)

    def _acquire(self, path: str, key: str, wait: float) -> int:
        """Poll with LOCK_NB (bounded by `wait`) on a fresh fd per attempt.

        A fresh open file description per acquisition makes threads of one process
        exclude each other too. The holder unlinks the file on release, so after
        locking we check that the path still names our inode; otherwise we locked
        a file already released and deleted, and try again.
        """
        deadline = time.monotonic() + max(0.0, wait)
        delay = 0.001
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise StoreUnavailable(f"cannot open lock file {path}: {exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise StoreUnavailable(f"cannot lock {path}: {exc}") from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LockTimeout(f"lock {key!r} still held after {wait} s") from None
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 0.02)
                continue
            mine = os.fstat(fd)
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                return fd
            os.close(fd)  # stale inode: retry at once

    @staticmethod
    def _release(path: str, fd: int) -> None:
        """Unlink while still holding the lock (so lock files do not pile up), then unlock."""
        try:
            os.unlink(path)
        except OSError as exc:
            log.warning("could not remove lock file %s: %s", path, exc)
        finally:
            os.close(fd)

    # -- housekeeping -------------------------------------------------------------

    def ping(self) -> None:
        """The directories must exist and be writable."""
        for d in (self._data, self._locks):
            if not os.access(d, os.W_OK | os.X_OK):
                raise StoreUnavailable(f"store directory {d} is missing or not writable")

    def _maybe_sweep(self) -> None:
        """At most every `sweep_interval` (shared across workers via a marker file), sweep in a thread."""
        if self._sweep_interval is None or time.monotonic() < self._next_sweep:
            return
        if not self._sweep_guard.acquire(blocking=False):
            return
        try:
            self._next_sweep = time.monotonic() + self._sweep_interval
            marker = os.path.join(self._data, ".last-sweep")
            try:
                if time.time() - os.stat(marker).st_mtime < self._sweep_interval:
                    return
            except FileNotFoundError:
                pass
            with open(marker, "a"):
                pass
            os.utime(marker)
            threading.Thread(target=self._sweep_quietly, name="filestore-sweep", daemon=True).start()
        except OSError as exc:
            log.warning("store sweep not started: %s", exc)
        finally:
            self._sweep_guard.release()

    def _sweep_quietly(self) -> None:
        try:
            self.purge_expired()
        except Exception:  # a background chore must never take a worker down
            log.exception("store sweep failed")

    def purge_expired(self) -> int:
        """Remove expired values, old crash leftovers and abandoned lock files; returns values removed."""
        removed = 0
        now = time.time()
        with os.scandir(self._data) as entries:
            for entry in entries:
                try:
                    if entry.name.endswith(".json"):
                        with open(entry.path, "rb") as f:
                            try:
                                expires_at = float(json.loads(f.read())["expires_at"])
                            except (ValueError, TypeError, KeyError):
                                continue
                            if expires_at <= now:
                                self._remove_expired(entry.path, os.fstat(f.fileno()))
                                removed += 1
                    elif entry.name.startswith((_TEMP_PREFIX, _ASIDE_PREFIX)):
                        if now - entry.stat().st_mtime > _STALE_AFTER:
                            os.unlink(entry.path)
                except OSError:
                    continue
        with os.scandir(self._locks) as entries:
            for entry in entries:
                try:
                    if now - entry.stat().st_mtime > _STALE_AFTER:
                        # Take it like any acquirer would (never from under a holder), then release.
                        fd = self._acquire(entry.path, entry.name, 0.0)
                        self._release(entry.path, fd)
                except (OSError, LockTimeout, StoreUnavailable):
                    continue
        return removed
