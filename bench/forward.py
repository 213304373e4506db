"""Forward-auth benchmark: what nginx's auth_request subrequest to /api/auth/verify costs.

    .venv/bin/python bench/forward.py            # about 1 minute
    .venv/bin/python bench/forward.py --quick    # a smoke run

Same run, same machine: Debian's nginx with the shipped deploy/nginx/oidc-login.conf in front of
the sample chat app (tests/forward/chat_app.py under gunicorn), once as shipped (every request
asks /api/auth/verify first) and once with `auth_request off` (the only change), TLS on both.
wrk drives `GET /api/whoami` through each in alternating slices, with one signed-in session's
cookie. Printed: requests/s, p50/p99, CPU per request of each process group (nginx, oidc-login,
the app), and the ratios; then wrk straight at oidc-login for verify's own CPU µs per request
next to the authenticated /api/user's. Figures only, never pass/fail (see bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.run import (  # noqa: E402
    BACK_CHANNEL, COOKIE, BenchError, Server, children_of, cpu_seconds, ensure_wrk, free_port, log, login, run_wrk,
)
from tests.forward.certs import make_certificate  # noqa: E402
from tests.forward.proxies import Nginx  # noqa: E402
from tests.provider import TestProvider  # noqa: E402

GUARD_LINE = "auth_request /_oidc_login/verify;"


def group_cpu_seconds(roots: list[int]) -> float:
    """utime + stime of processes and their children (gunicorn or nginx masters + workers)."""
    return cpu_seconds([p for root in roots for p in (root, *children_of(root))])


class App:
    """The sample chat app under gunicorn (so the app is not the bottleneck of either run)."""

    def __init__(self, workdir: str) -> None:
        self.port = free_port()
        self._log = open(os.path.join(workdir, "app.log"), "wb")
        env = {**os.environ, "PYTHONPATH": ROOT}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8",
             "-b", f"127.0.0.1:{self.port}", "tests.forward.chat_app:create_chat_app()"],
            cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/api/whoami", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise BenchError("the sample app did not start")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        self._log.close()


def measure(runs: dict[str, tuple[str, str | None]], pids: dict[str, list[int]],
            args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Alternating slices (A B B A ...) per target; requests/s, latency and CPU per request of
    each process group (a group idle during a slice adds nothing)."""
    for name, (url, cookie) in runs.items():
        log(f"warm-up {name} {args.warmup}s")
        run_wrk(url, cookie, args.warmup, args.connections, args.threads)
    slice_s = 2 if args.duration >= 4 else 1
    slices = max(1, round(args.duration / slice_s))
    names = list(runs)
    order: list[str] = []
    for i in range(slices):
        order += names if i % 2 == 0 else names[::-1]
    parts: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    cpu: dict[str, Counter[str]] = {name: Counter() for name in names}
    for name in order:
        before = {group: group_cpu_seconds(pid) for group, pid in pids.items()}
        url, cookie = runs[name]
        parts[name].append(run_wrk(url, cookie, slice_s, args.connections, args.threads))
        for group, pid in pids.items():
            cpu[name][group] += group_cpu_seconds(pid) - before[group]
    results = {}
    for name in names:
        n = sum(r["requests"] for r in parts[name])
        results[name] = {
            "rps": n / (slice_s * len(parts[name])),
            "p50_ms": statistics.median(r["p50_ms"] for r in parts[name]),
            "p99_ms": statistics.median(r["p99_ms"] for r in parts[name]),
            "bad": sum(r["non_2xx"] + r["socket_errors"] for r in parts[name]),
            "cpu_us": {group: 1e6 * cpu[name][group] / max(1, n) for group in pids},
        }
    return results


def report(through: dict[str, dict[str, Any]], direct: dict[str, dict[str, Any]], calls: int) -> None:
    print("\n== Forward auth through nginx (TLS, HTTP/1.1 keep-alive), GET /api/whoami ==")
    print(f"{'':28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'bad':>6}   CPU µs/request: nginx  oidc-login  app  total")
    for name, r in through.items():
        c = r["cpu_us"]
        total = sum(c.values())
        print(f"{name:28}{r['rps']:9.0f}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}{r['bad']:6d}"
              f"   {c['nginx']:20.0f}{c['oidc-login']:12.0f}{c['app']:5.0f}{total:7.0f}")
    guarded, plain = through["guarded (auth_request)"], through["unguarded (auth off)"]
    print(f"throughput ratio guarded / unguarded: {guarded['rps'] / plain['rps']:.2f}  (target >= 0.6)")
    cpu_g, cpu_p = sum(guarded["cpu_us"].values()), sum(plain["cpu_us"].values())
    print(f"CPU per request ratio unguarded / guarded: {cpu_p / cpu_g:.2f}")
    print(f"provider calls during the load: {calls}  (expected 0: the claims cache answers)")
    print("\n== oidc-login alone, same session cookie (wrk straight at gunicorn) ==")
    for name, r in direct.items():
        print(f"{name:28}{r['rps']:9.0f} req/s   p50 {r['p50_ms']:.2f} ms   "
              f"oidc-login CPU {r['cpu_us']['oidc-login']:.0f} µs/request   bad {r['bad']}")
    v, u = direct["GET /api/auth/verify"], direct["GET /api/user"]
    print(f"verify CPU / authenticated /api/user CPU: "
          f"{v['cpu_us']['oidc-login'] / u['cpu_us']['oidc-login']:.2f}  (target <= 1.0)")
    print(f"verify's own CPU per request through nginx: {guarded['cpu_us']['oidc-login']:.0f} µs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = 2, 1
    wrk = ensure_wrk(True)
    if not wrk:
        print("wrk is needed for this benchmark (apt-get install -y wrk)")
        return 1
    workdir = tempfile.mkdtemp(prefix="oidc-bench-forward-")
    cert, key = make_certificate(Path(workdir))
    provider = TestProvider(client_id="bench-client", client_secret="bench-client-secret")
    started: list[Any] = []
    try:
        provider.start()
        provider.config.access_token_ttl = 3600
        server = Server(provider, workdir, workers=2, threads=16)
        started.append(server)
        server.wait_ready()
        app = App(workdir)
        started.append(app)
        proxies = {}
        for name, auth in (("guarded (auth_request)", True), ("unguarded (auth off)", False)):
            proxy = Nginx(cert=cert, key=key, oidc_login=f"127.0.0.1:{server.port}", app=f"127.0.0.1:{app.port}")
            if not auth:
                assert GUARD_LINE in proxy.template
                proxy.template = proxy.template.replace(GUARD_LINE, "auth_request off;")
            started.append(proxy)
            proxy.start()
            proxies[name] = proxy
        cookie = login(server).cookies[COOKIE]
        for _ in range(20):  # every worker fetches discovery and JWKS once, before the count
            requests.get(server.url + "/api/auth/verify", cookies={COOKIE: cookie}, timeout=10)
        calls_before = sum(provider.calls[k] for k in BACK_CHANNEL)
        runs = {name: (proxy.url + "/api/whoami", cookie) for name, proxy in proxies.items()}
        through = measure(runs, {"nginx": [proxy.proc.pid for proxy in proxies.values()],
                                 "oidc-login": [server.proc.pid], "app": [app.proc.pid]}, args)
        calls = sum(provider.calls[k] for k in BACK_CHANNEL) - calls_before
        direct = measure({"GET /api/auth/verify": (server.url + "/api/auth/verify", cookie),
                          "GET /api/user": (server.url + "/api/user", cookie)},
                         {"oidc-login": [server.proc.pid]}, args)
        report(through, direct, calls)
        return 0
    except BenchError as error:
        print(f"benchmark FAILED: {error}")
        return 1
    finally:
        for process in reversed(started):
            process.stop()
        provider.stop()


if __name__ == "__main__":
    sys.exit(main())
