"""Which sessions belong to an OpenID `sid` or `sub`: what a back-channel logout ends.

The index maps a keyed hash of the provider's `sid` (and of the user's `sub`) to the opaque
store keys of each session (its session value and its token record), so a logout token
received by any worker or host can delete them all at once; the store never sees a `sid` or
`sub` in clear. Entries are read-modify-written under the store's lock, pruned of dead and
expired sessions on every write, and expire with the longest-lived session they list, so
the index never outgrows the sessions themselves.
"""

from __future__ import annotations

import time
from typing import Any

from .base import Store
from .sealed import hashed_key

SID_KIND = "bcl-sid"
SUB_KIND = "bcl-sub"
LOCK_WAIT = 10.0
#: Sessions whose keys are looked up per write: the rest wait their turn, so a user with
#: thousands of sessions does not make every login read them all under the lock.
PRUNE_PER_WRITE = 8


class SessionIndex:
    def __init__(self, store: Store, secret: str) -> None:
        self.store = store
        self.secret = secret

    def _key(self, kind: str, value: str) -> str:
        return hashed_key(self.secret, kind, value)

    def _entries(self, sid: str | None, sub: str | None) -> list[str]:
        keys = []
        if sid:
            keys.append(self._key(SID_KIND, sid))
        if sub:
            keys.append(self._key(SUB_KIND, sub))
        return keys

    def add(self, sid: str | None, sub: str | None, keys: list[str], ttl: float) -> None:
        """Lists one session (its store `keys`, alive for `ttl` seconds) under its sid and sub."""
        now = time.time()
        for entry in self._entries(sid, sub):
            with self.store.lock(entry + ":lock", wait=LOCK_WAIT):
                sessions = self._pruned(self._read(entry), now)
                sessions = [s for s in sessions if s["keys"] != list(keys)]
                sessions.append({"keys": list(keys), "until": now + ttl})
                self._write(entry, sessions, now)

    def forget(self, sid: str | None, sub: str | None, keys: list[str]) -> None:
        """Takes one session out of the index (at logout: its keys are gone anyway)."""
        now = time.time()
        for entry in self._entries(sid, sub):
            with self.store.lock(entry + ":lock", wait=LOCK_WAIT):
                sessions = [s for s in self._read(entry) if s["keys"] != list(keys)]
                self._write(entry, self._pruned(sessions, now), now)

    def end(self, sid: str | None = None, sub: str | None = None) -> int:
        """Deletes every session listed for `sid` (or, without one, for `sub`); returns how
        many live sessions ended."""
        entry = self._key(SID_KIND, sid) if sid else self._key(SUB_KIND, sub) if sub else None
        if entry is None:
            return 0
        ended = 0
        with self.store.lock(entry + ":lock", wait=LOCK_WAIT):
            for item in self._alive(self._read(entry), time.time()):
                for key in item["keys"]:
                    self.store.delete(key)
                ended += 1
            self.store.delete(entry)
        return ended

    # -- helpers ---------------------------------------------------------------------------

    def _read(self, entry: str) -> list[dict[str, Any]]:
        value = self.store.get(entry) or {}
        sessions = value.get("sessions")
        if not isinstance(sessions, list):
            return []
        return [
            s for s in sessions
            if isinstance(s, dict) and isinstance(s.get("keys"), list) and isinstance(s.get("until"), (int, float))
        ]

    def _alive(self, sessions: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """Drops sessions past their lifetime and those none of whose keys exist any more."""
        return [
            s for s in sessions
            if s["until"] > now and any(self.store.get(key) is not None for key in s["keys"])
        ]

    def _pruned(self, sessions: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """Drops expired sessions, and of the first PRUNE_PER_WRITE those whose keys are gone;
        the live ones checked go to the back, so every entry gets its turn."""
        live = [s for s in sessions if s["until"] > now]
        checked, rest = live[:PRUNE_PER_WRITE], live[PRUNE_PER_WRITE:]
        return rest + self._alive(checked, now)

    def _write(self, entry: str, sessions: list[dict[str, Any]], now: float) -> None:
        if not sessions:
            self.store.delete(entry)
            return
        ttl = max(s["until"] for s in sessions) - now
        self.store.set(entry, {"sessions": sessions}, max(ttl, 1.0))
