#!/usr/bin/env python3
"""Logout everywhere, measured: what the sid/sub index costs a login, and how fast a
back-channel logout ends sessions on the real server (gunicorn), against /healthz.

    .venv/bin/python bench/backchannel.py            # ~30 s
    .venv/bin/python bench/backchannel.py --quick    # ~10 s

Prints figures and ratios only; nothing here asserts a timing.
Part 1 (in-process, embedded file store): SessionIndex.add and .end per call, against one plain
store.set of the same size, so the ratio says what the index adds to a login's store work.
Part 2 (HTTP): N sessions with distinct sids; each logout token POSTed one after another; the
latency of the back-channel call against GET /healthz on the same server.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import requests  # noqa: E402

from app.store.files import FileStore  # noqa: E402
from app.store.index import SessionIndex  # noqa: E402
from run import CLIENT_ID, CLIENT_SECRET, SESSION_SECRET, Server, login  # noqa: E402
from tests.provider import TestProvider  # noqa: E402


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(values) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms"


def part_index(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = FileStore(os.path.join(tmp, "store"))
        index = SessionIndex(store, SESSION_SECRET)
        plain, adds, ends = [], [], []
        for i in range(n):
            keys = [f"session:{i}", f"tokens:{i}"]
            t = time.perf_counter()
            for key in keys:
                store.set(key, {"v": "x" * 200}, 600)
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            index.add(f"sid-{i}", f"user-{i % 10}", keys, 600)  # 10 users, many sessions each
            adds.append(time.perf_counter() - t)
        for i in range(n):
            t = time.perf_counter()
            index.end(sid=f"sid-{i}")
            ends.append(time.perf_counter() - t)
        print(f"store.set of a session's 2 keys     {ms(plain)}")
        print(f"SessionIndex.add (sid + sub entries) {ms(adds)}   ratio {statistics.median(adds) / statistics.median(plain):.1f}x")
        print(f"SessionIndex.end by sid              {ms(ends)}")


def part_http(n: int) -> None:
    with TestProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as provider, \
            tempfile.TemporaryDirectory() as tmp:
        server = Server(provider, tmp, workers=2, threads=16)
        try:
            server.wait_ready()
            sessions = []
            for i in range(n):
                provider.config.id_token_claims = {"sid": f"bench-sid-{i}"}
                sessions.append(login(server))
            health, bcl = [], []
            for i in range(n):
                t = time.perf_counter()
                requests.get(server.url + "/healthz", timeout=10)
                health.append(time.perf_counter() - t)
                token = provider.mint_logout_token(sid=f"bench-sid-{i}")
                t = time.perf_counter()
                response = requests.post(server.url + "/oauth/openid/backchannel-logout",
                                         data={"logout_token": token}, timeout=10)
                bcl.append(time.perf_counter() - t)
                if response.status_code != 200:
                    raise SystemExit(f"back-channel logout answered {response.status_code}: {response.text[:200]}")
            ended = sum(s.get(server.url + "/api/user", timeout=10).status_code == 401 for s in sessions)
            print(f"GET /healthz                         {ms(health)}")
            print(f"POST back-channel logout (1 session) {ms(bcl)}   ratio {statistics.median(bcl) / statistics.median(health):.1f}x")
            print(f"sessions ended                       {ended}/{n}")
        finally:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 20 if args.quick else 100
    print(f"-- session index, embedded file store, {n} sessions")
    part_index(n)
    print(f"-- back-channel logout over HTTP (gunicorn, 2 workers), {n} sessions")
    part_http(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
