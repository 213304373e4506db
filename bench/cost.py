#!/usr/bin/env python3
"""Per-request cost of oidc-login against plain Flask, in one run (issue 11).

    .venv/bin/python bench/cost.py                     # the full run (~4 min)
    .venv/bin/python bench/cost.py --quick             # a smoke run (< 90 s)
    .venv/bin/python bench/cost.py --profile bench/profiles   # plus cProfile per route

Three servers under the same gunicorn options (`app.serving.gunicorn_options`): the plain
Flask app (bench/plain_app.py), oidc-login on the file store, oidc-login on Redis (a
redis-server started here on a free loopback port). wrk drives one server at a time; the
figure is the CPU time (utime + stime) of all its processes, master and workers, divided by
the requests, summed over slices that alternate between the routes. Then logins/s and CPU per
login, and worker memory as sessions accumulate. Figures only: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import (  # noqa: E402
    BACK_CHANNEL,
    CLIENT_ID,
    CLIENT_SECRET,
    COOKIE,
    ROOT,
    BenchError,
    Deadline,
    Server,
    api_user,
    ensure_wrk,
    log,
    login,
    run_python_load,
    run_wrk,
)

import requests  # noqa: E402

from cost_sessions import ManyUsers, logins, memory  # noqa: E402

from tests.provider import TestProvider  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

#: what verify gets from nginx's auth_request (deploy/nginx): the path the browser asked for
VERIFY_HEADERS = {"X-Original-URI": "/c/new", "X-Original-Method": "GET"}


@dataclass
class Row:
    """One line of the table: a route on one server, and what its slices added up to."""

    label: str
    server: str
    path: str
    cookie: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    target: float | None = None
    requests: int = 0
    cpu: float = 0.0
    seconds: float = 0.0

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu / max(1, self.requests)


def rows() -> list[Row]:
    """The issue's table; the first row is the baseline the ratios divide by."""
    return [
        Row("plain Flask GET /healthz", "plain", "/healthz"),
        Row("GET /healthz", "file", "/healthz", target=1.10),
        Row("GET /api/user (file store)", "file", "/api/user", cookie=True, target=1.30),
        Row("GET /api/user (Redis)", "redis", "/api/user", cookie=True, target=1.45),
        Row("GET /api/auth/verify (file store)", "file", "/api/auth/verify", True, VERIFY_HEADERS, 1.30),
        Row("GET /api/auth/verify (Redis)", "redis", "/api/auth/verify", True, VERIFY_HEADERS, 1.45),
    ]


class Bench:
    """The servers, their session cookies, and the load generator."""

    def __init__(self, provider: TestProvider, servers: dict[str, Server], args: argparse.Namespace,
                 wrk: str | None) -> None:
        self.provider = provider
        self.servers = servers
        self.args = args
        self.wrk = wrk
        self.cookies: dict[str, str] = {}

    def sign_in(self) -> None:
        for name in ("file", "redis"):
            cookie = login(self.servers[name]).cookies[COOKIE]
            if not api_user(self.servers[name], cookie).get("session", {}).get("reuse_tokens"):
                raise BenchError(f"{name}: /api/user is not in reuse mode")
            self.cookies[name] = cookie

    def check(self, row: Row) -> None:
        """One request first: the row must answer 200, or its figure means nothing."""
        server = self.servers[row.server]
        headers = dict(row.headers)
        if row.cookie:
            headers["Cookie"] = f"{COOKIE}={self.cookies[row.server]}"
        response = requests.get(server.url + row.path, headers=headers, timeout=10)
        if response.status_code != 200:
            raise BenchError(f"{row.label} answered {response.status_code}: {response.text[:300]}")

    def load(self, row: Row, seconds: float) -> tuple[int, float]:
        """(requests, CPU seconds of that server's processes) for one slice."""
        server = self.servers[row.server]
        cookie = self.cookies[row.server] if row.cookie else None
        before = server.cpu_seconds()
        if self.wrk:
            result = run_wrk(server.url + row.path, cookie, seconds, self.args.connections,
                             self.args.threads, row.headers)
        else:
            if row.headers:
                raise BenchError(f"{row.label} needs wrk (headers); install wrk")
            result = run_python_load(server.url + row.path, cookie, seconds, self.args.connections)
        cpu = server.cpu_seconds() - before
        if result["non_2xx"] or result["socket_errors"]:
            raise BenchError(f"load on {row.label} had errors: {result}")
        return result["requests"], cpu

    def per_request(self, table: list[Row]) -> int:
        """Warm-up, then rounds over all rows, every other round in reverse order."""
        for row in table:
            self.check(row)
            self.load(row, self.args.warmup)
        calls_before = sum(self.provider.calls[k] for k in BACK_CHANNEL)
        log(f"per request: {self.args.rounds} rounds x {len(table)} routes x {self.args.slice}s")
        for n in range(self.args.rounds):
            for row in (table if n % 2 == 0 else table[::-1]):
                count, cpu = self.load(row, self.args.slice)
                row.requests += count
                row.cpu += cpu
                row.seconds += self.args.slice
        return sum(self.provider.calls[k] for k in BACK_CHANNEL) - calls_before


def report(table: list[Row], provider_calls: int, login_figures: dict[str, Any], mem: list[tuple[str, dict[str, Any]]],
           args: argparse.Namespace, load_at_start: float) -> None:
    base = table[0].cpu_us
    out = ["", "=" * 92, "oidc-login per-request cost against plain Flask (one run, issue 11)", "=" * 92,
           f"gunicorn gthread, WEB_WORKERS=2, WEB_THREADS={args.web_threads}, access log on; "
           f"{'wrk' if args.wrk else 'python load'} {args.connections} connections; {args.rounds} rounds x "
           f"{args.slice}s per route after {args.warmup}s warm-up; cores {os.cpu_count()}",
           f"load average (1 min) at start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}", "",
           f"{'route':<36}{'requests':>9}{'req/s':>8}{'CPU µs/req':>12}{'ratio':>8}{'target':>8}  met"]
    for row in table:
        ratio = row.cpu_us / base if base else float("nan")
        target = f"≤{row.target:.2f}" if row.target else "1"
        met = "" if row.target is None else ("yes" if ratio <= row.target else "NO")
        out.append(f"{row.label:<36}{row.requests:>9}{row.requests / max(row.seconds, 1e-9):>8.0f}"
                   f"{row.cpu_us:>12.0f}{ratio:>8.2f}{target:>8}  {met}")
    out.append(f"provider back-channel calls during the load: {provider_calls} (0 expected: verified-claims cache)")
    lg = login_figures
    out += ["", f"login (file store; {lg['count']} logins of distinct users from {lg['clients']} threads; each: "
            "/oauth/openid, the provider's /authorize, the callback (code -> RS256 ID token + JWT access token), "
            "the home page)",
            f"   logins/s {lg['count'] / lg['seconds']:.1f}; server CPU per login {1000 * lg['cpu'] / lg['count']:.2f} ms "
            "(the provider's own CPU is not counted: it runs in the bench process)", "",
            "worker memory (VmRSS, file store; every session another user, logged in, then GET /api/user once)"]
    for label, rss in mem:
        workers = ", ".join(f"{pid}: {(kib or 0) / 1024:.1f}" for pid, kib in rss["workers_kib"].items())
        out.append(f"   {label:<24} master {(rss['master_kib'] or 0) / 1024:.1f} MiB; workers MiB {{{workers}}}")
    out.append("=" * 92)
    print("\n".join(out), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="rounds over all routes (5)")
    p.add_argument("--slice", type=float, default=2, help="seconds of load per route and round (2)")
    p.add_argument("--warmup", type=float, default=1, help="seconds of warm-up load per route (1)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--web-threads", type=int, default=16, help="server WEB_THREADS (16), all three servers")
    p.add_argument("--logins", type=int, default=200, help="measured logins (200)")
    p.add_argument("--clients", type=int, default=8, help="threads that log in / use sessions (8)")
    p.add_argument("--sessions", type=int, nargs="+", default=[2000, 10000],
                   help="session counts after which worker memory is read (2000 10000)")
    p.add_argument("--profile", metavar="DIR", help="also cProfile each route in-process, into DIR")
    p.add_argument("--profile-requests", type=int, default=2000, help="requests per profiled route (2000)")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 round of 1 s, 20 logins, 50/150 sessions")
    p.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.slice, args.warmup, args.logins = 1, 1, 1, 20
        args.sessions, args.profile_requests = [50, 150], 200
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk(not args.no_install)
    args.wrk = bool(wrk)
    if not wrk:
        raise SystemExit("bench/cost.py needs wrk (apt-get install -y wrk; ./run-tests installs it)")
    budget = 120 + 8 * (args.rounds * args.slice + args.warmup) + args.logins + max(args.sessions) / 10

    def on_alarm(*_: Any) -> None:
        raise Deadline(f"overran its {budget:.0f}s bound")

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(int(budget))
    load_at_start = os.getloadavg()[0]
    workdir = tempfile.mkdtemp(prefix="oidc-bench-cost-")
    servers: dict[str, Server] = {}
    profiles: list[str] = []
    try:
        with ManyUsers(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as provider, RedisServer() as redis:
            provider.config.access_token_ttl = 3600  # no refresh inside the run
            plain = [sys.executable, os.path.join(ROOT, "bench", "plain_app.py")]
            for name, argv_, extra in (("plain", plain, None), ("file", None, None),
                                       ("redis", None, {"REDIS_URI": redis.uri})):
                os.makedirs(os.path.join(workdir, name))
                servers[name] = Server(provider, os.path.join(workdir, name), 2, args.web_threads,
                                       argv=argv_, extra_env=extra)
            for server in servers.values():
                server.wait_ready()
            bench = Bench(provider, servers, args, wrk)
            bench.sign_in()
            provider.distinct = True  # every login from here on is another person
            table = rows()
            provider_calls = bench.per_request(table)
            log(f"logins: {args.logins} from {args.clients} threads")
            logins(servers["file"], args.clients, args.clients)  # every worker warm
            _, seconds, cpu = logins(servers["file"], args.logins, args.clients)
            login_figures = {"count": args.logins, "clients": args.clients, "seconds": seconds, "cpu": cpu}
            mem = memory(servers["file"], sorted(args.sessions), args.clients)
            if args.profile:
                from cost_profile import profile_routes

                log(f"profiles: {args.profile_requests} in-process requests per route into {args.profile}")
                profiles = profile_routes(table, servers, bench.cookies, args.profile, args.profile_requests)
    except (BenchError, Deadline, subprocess.TimeoutExpired, KeyboardInterrupt) as error:
        log(f"FAILED: {error!r}")
        for name, server in servers.items():
            log(f"{name} server log tail:\n{server.tail()}")
        print(f"benchmark FAILED: {error!r}", flush=True)
        return 1
    finally:
        signal.alarm(0)
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(table, provider_calls, login_figures, mem, args, load_at_start)
    if profiles:
        print("\n".join(profiles), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
