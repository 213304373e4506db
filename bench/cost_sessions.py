"""bench/cost.py's login and memory parts: many users signing in, each session used once.

The test provider signs in a new person at each authorization (`ManyUsers`), so 10,000
sessions are 10,000 users, as in a real deployment, not one user with 10,000 sessions (whose
back-channel `sub` index entry grows with every login of that user).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from run import COOKIE, BenchError, Server, log, login

from tests.provider import TestProvider


class ManyUsers(TestProvider):
    """The test provider, where each authorization is another user once `distinct` is set."""

    distinct = False
    _count = itertools.count(1)

    @property  # type: ignore[override]
    def user(self) -> dict[str, Any]:
        if not self.distinct:
            return self._user
        n = next(self._count)
        return {**self._user, "sub": f"bench-user-{n}", "email": f"bench-user-{n}@example.com"}

    @user.setter
    def user(self, value: dict[str, Any]) -> None:
        self._user = value


def logins(server: Server, count: int, clients: int) -> tuple[list[str], float, float]:
    """`count` full logins from `clients` threads: (cookies, wall seconds, server CPU s)."""
    before, start = server.cpu_seconds(), time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        cookies = list(pool.map(lambda _: login(server).cookies[COOKIE], range(count)))
    return cookies, time.monotonic() - start, server.cpu_seconds() - before


def touch(server: Server, cookies: list[str], clients: int) -> None:
    """`GET /api/user` once with each cookie (keep-alive, one connection per thread)."""
    url = server.url + "/api/user"
    local = threading.local()
    statuses: Counter[int] = Counter()

    def one(cookie: str) -> None:
        http = getattr(local, "http", None) or requests.Session()
        local.http = http
        statuses[http.get(url, headers={"Cookie": f"{COOKIE}={cookie}"}, timeout=15).status_code] += 1

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, cookies))
    if set(statuses) != {200}:
        raise BenchError(f"touching {len(cookies)} sessions: statuses {dict(statuses)}")


def memory(server: Server, steps: list[int], clients: int) -> list[tuple[str, dict[str, Any]]]:
    """Worker RSS before, and after each step of sessions logged in and used once."""
    seen = [("before the sessions", server.rss())]
    made = 0
    for total in steps:
        log(f"memory: logging in sessions {made + 1}..{total} ({clients} threads), then using each once")
        cookies, _, _ = logins(server, total - made, clients)
        touch(server, cookies, clients)
        made = total
        seen.append((f"after {total} sessions", server.rss()))
    return seen
