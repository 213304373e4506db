"""FileStore-only behaviour: permissions, lazy removal, no leftovers."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from app.store import FileStore

pytestmark = pytest.mark.timeout(15)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_permissions(tmp_path: Path) -> None:
    root = tmp_path / "instance" / "store"
    store = FileStore(str(root))
    store.set("k", {"secret": "token"}, ttl=60)
    with store.lock("k"):
        for d in (root, root / "data", root / "locks"):
            assert _mode(d) == 0o700
        (lock_file,) = (root / "locks").iterdir()
        assert _mode(lock_file) & 0o077 == 0
    (data_file,) = (root / "data").glob("*.json")
    assert _mode(data_file) == 0o600
    assert "k" not in data_file.name  # named by a hash


def test_expired_file_removed_when_read(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path))
    store.set("k", {"v": 1}, ttl=0.05)
    time.sleep(0.1)
    assert list((tmp_path / "data").glob("*.json"))
    assert store.get("k") is None
    assert not list((tmp_path / "data").glob("*.json"))
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".")]


def test_expiry_removal_spares_a_fresh_value(tmp_path: Path) -> None:
    """A reader that saw the expired file must not delete the value written right after."""
    store = FileStore(str(tmp_path))
    store.set("k", {"v": "old"}, ttl=0.01)
    path = store._path("k")
    seen = os.stat(path)
    time.sleep(0.02)
    store.set("k", {"v": "new"}, ttl=60)  # another worker refreshed meanwhile
    store._remove_expired(path, seen)  # the first reader's lazy cleanup runs late
    assert store.get("k") == {"v": "new"}


def test_no_lock_files_left_behind(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path))
    for i in range(20):
        with store.lock(f"k{i}"):
            pass
    assert list((tmp_path / "locks").iterdir()) == []


def test_corrupt_file_reads_as_missing(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path))
    store.set("k", {"v": 1}, ttl=60)
    Path(store._path("k")).write_text("{not json")
    assert store.get("k") is None
    store.set("k", {"v": 2}, ttl=60)
    assert store.get("k") == {"v": 2}


def test_expiry_is_stored_inside(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path))
    before = time.time()
    store.set("k", {"v": 1}, ttl=100)
    record = json.loads(Path(store._path("k")).read_text())
    assert record["value"] == {"v": 1}
    assert before + 99 < record["expires_at"] < time.time() + 101


def test_purge_expired(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path), sweep_interval=None)
    for i in range(5):
        store.set(f"old{i}", {"i": i}, ttl=0.01)
    store.set("keep", {"v": 1}, ttl=60)
    time.sleep(0.05)
    assert store.purge_expired() == 5
    assert [p.name for p in (tmp_path / "data").glob("*.json")] == [Path(store._path("keep")).name]
    assert store.get("keep") == {"v": 1}


def test_background_sweep_runs_when_due(tmp_path: Path) -> None:
    store = FileStore(str(tmp_path), sweep_interval=0.05)
    store.set("old", {"v": 1}, ttl=0.01)
    time.sleep(0.1)
    store.set("trigger", {"v": 2}, ttl=60)  # due: starts the sweep thread
    deadline = time.monotonic() + 5
    while os.path.exists(store._path("old")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert store.get("trigger") == {"v": 2}


def test_ping_fails_when_directory_vanishes(tmp_path: Path) -> None:
    from app.store import StoreUnavailable

    store = FileStore(str(tmp_path / "s"))
    store.ping()
    os.rmdir(tmp_path / "s" / "locks")
    with pytest.raises(StoreUnavailable):
        store.ping()


def test_memoised_reads_see_other_writers_at_once(tmp_path):
    """Another worker's write or delete is seen by the next get, despite the read cache."""
    from app.store import FileStore

    a, b = FileStore(str(tmp_path / "s")), FileStore(str(tmp_path / "s"))
    a.set("k", {"v": 1}, 60)
    assert a.get("k") == {"v": 1} and a.get("k") == {"v": 1}  # second read from memory
    b.set("k", {"v": 2}, 60)
    assert a.get("k") == {"v": 2}
    value = a.get("k")
    value["v"] = 99  # callers get their own copy
    assert a.get("k") == {"v": 2}
    b.delete("k")
    assert a.get("k") is None


def test_memoised_value_still_expires(tmp_path):
    import time

    from app.store import FileStore

    store = FileStore(str(tmp_path / "s"))
    store.set("k", {"v": 1}, 0.3)
    assert store.get("k") == {"v": 1}
    time.sleep(0.35)
    assert store.get("k") is None
