"""Locks on both backends: threads, processes, timeouts, crashed holders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.store import LockTimeout, Store

pytestmark = pytest.mark.timeout(20)

WORKER = str(Path(__file__).with_name("store_worker.py"))


def test_mutual_exclusion_across_threads(make_store) -> None:
    """20 threads (each with its own client, like workers) bump a counter non-atomically."""
    counter = [0]
    inside = [0]
    overlaps: list[int] = []
    stores = [make_store() for _ in range(4)]  # several threads share a client, as in gthread

    def work(i: int) -> None:
        store = stores[i % len(stores)]
        for _ in range(5):
            with store.lock("counter", wait=15):
                inside[0] += 1
                if inside[0] != 1:
                    overlaps.append(inside[0])
                value = counter[0]
                time.sleep(0.001)
                counter[0] = value + 1
                inside[0] -= 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads)
    assert not overlaps
    assert counter[0] == 100


def test_lock_timeout_when_held_elsewhere(make_store) -> None:
    holder, other = make_store(), make_store()
    with holder.lock("k"):
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            with other.lock("k", wait=0.3):
                pytest.fail("lock taken while held")
        elapsed = time.monotonic() - start
        assert 0.25 <= elapsed < 2.5
        with pytest.raises(LockTimeout):
            with other.lock("k", wait=0):
                pytest.fail("lock taken while held")
    with other.lock("k", wait=0):  # free right after release
        pass


def test_lock_is_not_reentrant_in_one_thread(store: Store) -> None:
    with store.lock("k"):
        with pytest.raises(LockTimeout):
            with store.lock("k", wait=0.05):
                pass


def test_different_keys_do_not_block(store: Store) -> None:
    with store.lock("a"):
        with store.lock("b", wait=0):
            pass


def test_released_on_exception(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.lock("k"):
            raise RuntimeError("boom")
    with store.lock("k", wait=0):
        pass


def test_waiter_gets_lock_after_release(make_store) -> None:
    holder, waiter = make_store(), make_store()
    got = threading.Event()
    released_at: list[float] = []

    def wait_for_it() -> None:
        with waiter.lock("k", wait=5):
            got.set()

    with holder.lock("k"):
        t = threading.Thread(target=wait_for_it)
        t.start()
        time.sleep(0.3)
        assert not got.is_set()
        released_at.append(time.monotonic())
    assert got.wait(3)
    assert time.monotonic() - released_at[0] < 1.0
    t.join(3)


def _start(backend: dict, env: dict, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, json.dumps(backend), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _expect_line(proc: subprocess.Popen[str], line: str) -> None:
    got = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if got != line:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        pytest.fail(f"worker said {got!r}, expected {line!r}; stderr: {err[-2000:]}")


def test_lock_held_by_another_process(backend: dict, worker_env: dict, store: Store) -> None:
    proc = _start(backend, worker_env, "hold", "k", "5", "1.0")
    try:
        _expect_line(proc, "locked")
        with pytest.raises(LockTimeout):
            with store.lock("k", wait=0.2):
                pytest.fail("lock taken while another process holds it")
        with store.lock("k", wait=5):  # the worker releases after 1 s
            assert proc.wait(5) == 0
    finally:
        proc.kill()
        proc.communicate(timeout=5)


def test_mutual_exclusion_across_processes(backend: dict, worker_env: dict, store: Store) -> None:
    procs = [_start(backend, worker_env, "count", "counter", "25") for _ in range(3)]
    try:
        for p in procs:
            _expect_line(p, "ready")
        for p in procs:  # release them together so they really contend
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        for p in procs:
            _expect_line(p, "done")
            assert p.wait(5) == 0
        assert store.get("counter") == {"n": 75}
    finally:
        for p in procs:
            p.kill()
            p.communicate(timeout=5)


def test_lock_of_killed_holder_frees(backend: dict, worker_env: dict, store: Store) -> None:
    """flock frees when the process dies; a redis lock after its lease (no more renewals)."""
    lease = 1.0
    proc = _start(backend, worker_env, "hold", "k", str(lease), "60")
    try:
        _expect_line(proc, "locked")
        time.sleep(0.4)  # let a redis renewal happen first
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        killed = time.monotonic()
        if backend["kind"] == "redis":
            with pytest.raises(LockTimeout):
                with store.lock("k", wait=0):
                    pass
        with store.lock("k", wait=5):
            waited = time.monotonic() - killed
        if backend["kind"] == "files":
            assert waited < 0.5
        else:
            assert waited <= lease + 0.5
    finally:
        proc.kill()
        proc.communicate(timeout=5)
