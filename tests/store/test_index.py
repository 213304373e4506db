"""The sid/sub -> sessions index: bounded work per login however many sessions a user has."""

from __future__ import annotations

from app.store import FileStore
from app.store.index import PRUNE_PER_WRITE, SessionIndex

SECRET = "an-index-secret-that-is-long-enough-000000"


class CountingStore(FileStore):
    gets = 0

    def get(self, key):  # type: ignore[override]
        self.gets += 1
        return super().get(key)


def test_a_login_reads_a_bounded_number_of_sessions(tmp_path):
    store = CountingStore(str(tmp_path / "store"))
    index = SessionIndex(store, SECRET)
    for n in range(300):
        store.set(f"session:{n}", {"v": 1}, 60)
        index.add(None, "busy-user", [f"session:{n}"], 60)
    store.gets = 0
    index.add(None, "busy-user", ["session:new"], 60)
    assert store.gets <= PRUNE_PER_WRITE + 1  # the entry itself, then a few sessions' keys


def test_dead_sessions_still_leave_the_index_in_turn(tmp_path):
    store = FileStore(str(tmp_path / "store"))
    index = SessionIndex(store, SECRET)
    for n in range(40):
        store.set(f"session:{n}", {"v": 1}, 60)
        index.add(None, "user", [f"session:{n}"], 60)
    for n in range(40):
        store.delete(f"session:{n}")  # ended by logout or expiry elsewhere
    for n in range(10):  # a few more logins prune the dead ones, PRUNE_PER_WRITE at a time
        store.set(f"fresh:{n}", {"v": 1}, 60)
        index.add(None, "user", [f"fresh:{n}"], 60)
    entry = store.get(index._key("bcl-sub", "user"))
    assert len(entry["sessions"]) <= 10 + max(0, 40 - 10 * PRUNE_PER_WRITE)
    assert index.end(sub="user") == 10  # only live sessions count as ended
