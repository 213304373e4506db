"""A second process for the cross-process lock tests (run as a script, not collected).

    python store_worker.py '<backend json>' hold KEY LEASE SECONDS
        take the lock, print "locked", hold it SECONDS, release, exit
    python store_worker.py '<backend json>' count KEY N
        print "ready", wait for a line on stdin, then N times under the lock:
        read the counter, sleep a little, write counter + 1; print "done"
"""

from __future__ import annotations

import json
import sys
import time

from app.store import FileStore, RedisStore, Store


def open_backend(spec: dict) -> Store:
    if spec["kind"] == "files":
        return FileStore(spec["dir"])
    return RedisStore(spec["uri"], prefix=spec["prefix"])


def main(argv: list[str]) -> int:
    store = open_backend(json.loads(argv[1]))
    mode, key = argv[2], argv[3]
    if mode == "hold":
        lease, seconds = float(argv[4]), float(argv[5])
        with store.lock(key, wait=10, lease=lease):
            print("locked", flush=True)
            time.sleep(seconds)
        print("released", flush=True)
        return 0
    if mode == "count":
        n = int(argv[4])
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(n):
            with store.lock(key, wait=10, lease=5):
                value = (store.get("counter") or {"n": 0})["n"]
                time.sleep(0.002)  # widen the race window a lock must close
                store.set("counter", {"n": value + 1}, ttl=60)
        print("done", flush=True)
        return 0
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
