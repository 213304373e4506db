#!/usr/bin/env python3
"""Benchmark of the login server under gunicorn, against the controllable test provider.

    .venv/bin/python bench/run.py                # the normal run (~1.5 min)
    .venv/bin/python bench/run.py --quick        # a short smoke run (~25 s)

Prints figures only; nothing here asserts a timing. See bench/README.md for what each figure
means and its target. Everything runs on 127.0.0.1: the test provider in a thread of this
process, the server (`python -m app.cli serve`, gunicorn gthread) as a child process in its
own process group, and `wrk` (Debian package) as the load generator.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import requests  # noqa: E402

from tests.provider import TestProvider  # noqa: E402

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-client-secret"
SESSION_SECRET = "bench-session-secret-0123456789-abcdefghijklmnop"
AUDIENCE = "https://api.bench.example"
COOKIE = "oidc_login"
#: back-channel endpoints (the browser's front channel, authorize, is not one)
BACK_CHANNEL = ("discovery", "jwks", "token", "userinfo")


class BenchError(RuntimeError):
    """A step of the benchmark could not be carried out."""


class Deadline(BaseException):
    """The whole run overran its time bound (raised from SIGALRM)."""


# -- small helpers ------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or None when
    the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # comm may hold spaces/parens: the fields after the last ')' are fixed
    return stat[stat.rfind(")") + 2:].split()


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc/*/stat)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = proc_stat(entry)
            if fields and len(fields) > 1 and int(fields[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes so far (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        fields = proc_stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# -- the server under gunicorn --------------------------------------------------------------


class Server:
    """`python -m app.cli serve` in its own process group, cwd = a temp dir (no stray .env).

    `argv` runs another command with the same environment (bench/cost.py's plain Flask
    baseline); `extra_env` adds settings (e.g. REDIS_URI). `env` keeps what the server got.
    """

    def __init__(
        self, provider: TestProvider, workdir: str, workers: int, threads: int, root: str = ROOT,
        argv: list[str] | None = None, extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "server.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENID_", "DOMAIN_", "WEB_", "REDIS_"))}
        env.update({
            "PYTHONPATH": os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p),
            "PYTHONUNBUFFERED": "1",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_WORKERS": str(workers),
            "WEB_THREADS": str(threads),
            "OPENID_ISSUER": provider.issuer,
            "OPENID_CLIENT_ID": CLIENT_ID,
            "OPENID_CLIENT_SECRET": CLIENT_SECRET,
            "OPENID_SESSION_SECRET": SESSION_SECRET,
            "OPENID_SCOPE": "openid profile email offline_access",
            "OPENID_AUDIENCE": AUDIENCE,
            "OPENID_REUSE_TOKENS": "true",
            "DOMAIN_SERVER": self.url,
            "DOMAIN_CLIENT": self.url,
            "INSTANCE_PATH": os.path.join(workdir, "instance"),
            **(extra_env or {}),
        })
        self.env = env
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            argv or [sys.executable, "-m", "app.cli", "serve"],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop exactly it and its workers
        )

    def wait_ready(self, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    # all workers booted (each answers /healthz once it is up)
                    if len(self.worker_pids()) >= self.workers:
                        return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise BenchError(f"server not ready after {timeout}s:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        return children_of(self.proc.pid)

    def cpu_seconds(self) -> float:
        """utime+stime of the master and its workers so far (from /proc/PID/stat)."""
        return cpu_seconds([self.proc.pid, *self.worker_pids()])

    def rss(self) -> dict[str, Any]:
        workers = {pid: rss_kib(pid) for pid in self.worker_pids()}
        return {"master_kib": rss_kib(self.proc.pid), "workers_kib": workers}

    def tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=12)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        self._log.close()


def login(server: Server) -> requests.Session:
    """A full browser login (server -> provider /authorize auto-approves -> callback -> home)."""
    http = requests.Session()
    response = http.get(server.url + "/oauth/openid", timeout=15)
    if response.status_code != 200 or not http.cookies.get(COOKIE):
        raise BenchError(f"login failed: {response.status_code} {response.url} {response.text[:300]}")
    return http


def api_user(server: Server, cookie: str) -> dict[str, Any]:
    response = requests.get(server.url + "/api/user", headers={"Cookie": f"{COOKIE}={cookie}"}, timeout=10)
    if response.status_code != 200:
        raise BenchError(f"/api/user answered {response.status_code}: {response.text[:300]}")
    return response.json()


# -- load generators ------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"cannot parse wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


def run_wrk(url: str, cookie: str | None, duration: float, connections: int, threads: int,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, int(round(duration)))}s",
           "--latency", "--timeout", "5s"]
    if cookie:
        cmd += ["-H", f"Cookie: {COOKIE}={cookie}"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def run_python_load(url: str, cookie: str | None, duration: float, connections: int) -> dict[str, Any]:
    """Fallback when wrk is absent: keep-alive connections in threads (GIL-bound: a floor, not a peak)."""
    parts = urlsplit(url)
    headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie else {}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    bad = Counter()
    start_gate = threading.Event()
    end_at = [0.0]

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        start_gate.wait()
        mine = latencies[i]
        while time.monotonic() < end_at[0]:
            t = time.perf_counter()
            try:
                conn.request("GET", parts.path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                bad["socket_errors"] += 1
                continue
            mine.append((time.perf_counter() - t) * 1000)
            if status >= 400:
                bad["non_2xx"] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for t in threads:
        t.start()
    begin = time.monotonic()
    end_at[0] = begin + duration
    start_gate.set()
    for t in threads:
        t.join(duration + 20)
    elapsed = time.monotonic() - begin
    flat = [x for per in latencies for x in per]
    return {
        "rps": len(flat) / elapsed,
        "requests": len(flat),
        "p50_ms": percentile(flat, 50),
        "p99_ms": percentile(flat, 99),
        "non_2xx": bad["non_2xx"],
        "socket_errors": bad["socket_errors"],
    }


def ensure_wrk(allow_install: bool) -> str | None:
    """Path of wrk; installs the Debian package when missing, allowed, and root."""
    path = shutil.which("wrk")
    if path or not allow_install:
        return path
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    log("wrk not found: apt-get install -y wrk")
    try:
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, timeout=180,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return shutil.which("wrk")


# -- the three parts ------------------------------------------------------------------------


def part_logins(provider: TestProvider, server: Server, logins: int) -> dict[str, Any]:
    """Back-channel calls per warm login (every worker's discovery/JWKS caches warmed first)."""
    provider.config.access_token_ttl = 3600
    warm_logins = 0
    cap = 12 * server.workers
    # A new requests.Session is a new connection; the kernel hands it to whichever worker
    # accepts first. Log in until every worker has fetched discovery and JWKS once.
    while warm_logins < cap:
        login(server)
        warm_logins += 1
        if min(provider.calls["discovery"], provider.calls["jwks"]) >= server.workers and warm_logins >= server.workers:
            break
    warmed = min(provider.calls["discovery"], provider.calls["jwks"]) >= server.workers
    before = Counter({k: provider.calls[k] for k in (*BACK_CHANNEL, "authorize")})
    times = []
    for _ in range(logins):
        t = time.perf_counter()
        login(server)
        times.append((time.perf_counter() - t) * 1000)
    delta = Counter({k: provider.calls[k] - before[k] for k in (*BACK_CHANNEL, "authorize")})
    back = sum(delta[k] for k in BACK_CHANNEL)
    return {
        "warm_logins": warm_logins,
        "all_workers_warm": warmed,
        "logins": logins,
        "per_login": back / logins,
        "breakdown": {k: delta[k] / logins for k in (*BACK_CHANNEL, "authorize")},
        "login_ms_p50": percentile(times, 50),
    }


def part_throughput(provider: TestProvider, server: Server, args: argparse.Namespace,
                    wrk: str | None) -> dict[str, Any]:
    provider.config.access_token_ttl = 3600  # no refresh inside the window
    cookie = login(server).cookies[COOKIE]
    info = api_user(server, cookie)
    if not info.get("session", {}).get("reuse_tokens"):
        raise BenchError(f"/api/user is not in reuse mode: {info}")
    calls_before = sum(provider.calls[k] for k in BACK_CHANNEL)
    targets = {"api_user": (server.url + "/api/user", cookie), "healthz": (server.url + "/healthz", None)}

    def load(name: str, seconds: float) -> dict[str, Any]:
        url, ck = targets[name]
        if wrk:
            return run_wrk(url, ck, seconds, args.connections, args.threads)
        return run_python_load(url, ck, seconds, args.connections)

    for name in targets:
        log(f"load: {name} warm-up {args.warmup}s")
        load(name, args.warmup)
    # The two endpoints alternate in slices (A B B A A B B A ...) so that whatever else the
    # machine does weighs on both alike.
    slice_s = 2 if args.duration >= 4 else 1
    slices = max(1, round(args.duration / slice_s))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    order = ["api_user", "healthz", "healthz", "api_user"] * slices
    log(f"load: {slices} x {slice_s}s slices per endpoint, alternating")
    cpu: Counter[str] = Counter()
    for name in order[: 2 * slices]:
        before = server.cpu_seconds()
        runs[name].append(load(name, slice_s))
        cpu[name] += server.cpu_seconds() - before
    results: dict[str, Any] = {}
    for name, parts in runs.items():
        total_s = slice_s * len(parts)
        results[name] = {
            "rps": sum(r["requests"] for r in parts) / total_s,
            "requests": sum(r["requests"] for r in parts),
            "p50_ms": statistics.median(r["p50_ms"] for r in parts),
            "p99_ms": statistics.median(r["p99_ms"] for r in parts),
            "non_2xx": sum(r["non_2xx"] for r in parts),
            "socket_errors": sum(r["socket_errors"] for r in parts),
            "slices_rps": [round(r["rps"]) for r in parts],
            "seconds": total_s,
            "cpu_ms_per_request": 1000 * cpu[name] / max(1, sum(r["requests"] for r in parts)),
        }
    results["provider_calls_during_load"] = sum(provider.calls[k] for k in BACK_CHANNEL) - calls_before
    results["ratio"] = results["api_user"]["rps"] / results["healthz"]["rps"] if results["healthz"]["rps"] else 0.0
    results["cpu_ratio"] = results["healthz"]["cpu_ms_per_request"] / results["api_user"]["cpu_ms_per_request"]
    results["generator"] = "wrk" if wrk else "python (wrk not found)"
    return results


def part_refresh(provider: TestProvider, server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """64 clients, one cookie, continuous load across several access-token expiries."""
    provider.config.access_token_ttl = args.ttl
    provider.config.delay = {"token": args.token_delay}
    cookie = login(server).cookies[COOKIE]
    grants_before = provider.grants["refresh_token"]
    revoked_before = provider.revoked_families

    # Timestamp every refresh grant as the provider receives it (before its delay).
    grant_times: list[float] = []
    original = provider.state.count_grant

    def count_grant(grant_type: str) -> None:
        if grant_type == "refresh_token":
            grant_times.append(time.monotonic())
        original(grant_type)

    provider.state.count_grant = count_grant  # type: ignore[method-assign]

    statuses: Counter[int] = Counter()
    expiries_seen: set[Any] = set()
    lock = threading.Lock()
    gate = threading.Barrier(args.clients + 1)
    window = args.expiries * args.ttl + 1.0
    end_at = [0.0]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        mine: Counter[int] = Counter()
        exps: set[Any] = set()
        gate.wait()
        while time.monotonic() < end_at[0]:
            try:
                conn.request("GET", "/api/user", headers={"Cookie": f"{COOKIE}={cookie}"})
                resp = conn.getresponse()
                body = resp.read()
                mine[resp.status] += 1
                if resp.status == 200:
                    exps.add((json.loads(body).get("session") or {}).get("access_token_expires_at"))
            except (OSError, http.client.HTTPException, ValueError):
                mine[0] += 1  # 0 = connection error
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        conn.close()
        with lock:
            statuses.update(mine)
            expiries_seen.update(exps)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()
    log(f"refresh: {args.clients} clients for {window:.1f}s (access-token TTL {args.ttl}s, "
        f"token endpoint delay {args.token_delay}s)")
    begin = time.monotonic()
    end_at[0] = begin + window
    gate.wait()
    for t in threads:
        t.join(window + 30)
    provider.state.count_grant = original  # type: ignore[method-assign]
    provider.config.delay = {}

    grants = provider.grants["refresh_token"] - grants_before
    # Grants less than a quarter TTL apart answer the same expiry (a duplicate refresh would
    # land within the provider delay of the first); expiries are the clusters.
    gap = args.ttl / 4
    clusters: list[list[float]] = []
    for t in sorted(grant_times):
        if clusters and t - clusters[-1][-1] < gap:
            clusters[-1].append(t)
        else:
            clusters.append([t])
    expiries = len(clusters)
    return {
        "clients": args.clients,
        "window_s": window,
        "ttl_s": args.ttl,
        "token_delay_s": args.token_delay,
        "grants": grants,
        "expiries": expiries,
        "per_expiry": grants / expiries if expiries else float("nan"),
        "grants_each_expiry": [len(c) for c in clusters],
        "grant_times_s": [round(c[0] - begin, 2) for c in clusters],
        "token_generations_seen": len(expiries_seen - {None}),
        "statuses": dict(sorted(statuses.items())),
        "requests": sum(statuses.values()),
        "revoked_families": provider.revoked_families - revoked_before,
    }


# -- report ---------------------------------------------------------------------------------


def report(settings: dict[str, Any], settings_load: tuple[float, ...], tput: dict[str, Any] | None, refresh: dict[str, Any] | None,
           logins: dict[str, Any] | None, memory: dict[str, Any] | None) -> None:
    out = []
    w = out.append
    w("")
    w("=" * 78)
    w("oidc-login benchmark")
    w("=" * 78)
    w("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    w(f"load average (1 min) at start {settings_load[0]:.2f}, at end {os.getloadavg()[0]:.2f}"
      " (other work on the machine skews every figure)")
    if tput:
        a, h = tput["api_user"], tput["healthz"]
        w("")
        w(f"1. throughput / latency ({tput['generator']}, {settings['connections']} connections, "
          f"{settings['load_threads']} threads, {settings['duration_s']}s after {settings['warmup_s']}s warm-up)")
        w(f"   {'endpoint':<28}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'non-2xx':>8}"
          f"{'sock err':>9}{'CPU ms/req':>11}")
        for label, r in (("GET /api/user (reuse, auth)", a), ("GET /healthz", h)):
            w(f"   {label:<28}{r['rps']:>8.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['requests']:>10}{r['non_2xx']:>8}{r['socket_errors']:>9}{r['cpu_ms_per_request']:>11.3f}")
        w(f"   ratio authenticated/healthz: {tput['ratio']:.3f}   (target >= 0.9)")
        w(f"   server CPU per request, healthz/authenticated: {tput['cpu_ratio']:.3f}   (the same ratio, "
          "from gunicorn's CPU time: less sensitive to other load on the machine)")
        w(f"   req/s per slice (alternating): /api/user {a['slices_rps']}, /healthz {h['slices_rps']}; "
          "p50/p99 are medians over slices")
        w(f"   provider back-channel calls during the load: {tput['provider_calls_during_load']}")
    if refresh:
        r = refresh
        w("")
        w(f"2. refresh under {r['clients']} concurrent clients (one cookie, access-token TTL {r['ttl_s']}s, "
          f"token endpoint delay {r['token_delay_s']}s, {r['window_s']:.0f}s)")
        w(f"   refresh grants per expiry: {r['per_expiry']:.2f}   (target exactly 1)")
        w(f"   refresh grants: {r['grants']}, expiries: {r['expiries']}, grants in each expiry: "
          f"{r['grants_each_expiry']} at t={r['grant_times_s']} s")
        if not r["grants"]:
            w("   no refresh grant seen: the access token was never refreshed inside the window")
        w(f"   access-token generations seen by clients: {r['token_generations_seen']}")
        w(f"   requests: {r['requests']}, statuses: {r['statuses']}   (all 200 expected; 0 = connection error)")
        w(f"   revoked refresh-token families: {r['revoked_families']}   (0 expected)")
    if logins:
        lg = logins
        w("")
        w(f"3. back-channel calls per warm login ({lg['logins']} logins after {lg['warm_logins']} warm-up logins; "
          f"every worker warm: {'yes' if lg['all_workers_warm'] else 'NO'})")
        w(f"   back-channel calls per warm login: {lg['per_login']:.2f}   (target 1: the token call)")
        w("   per login: " + ", ".join(f"{k} {v:.2f}" for k, v in lg["breakdown"].items())
          + "   (authorize is the browser's front channel, not counted)")
        w(f"   warm login p50 (three browser round trips + the back channel): {lg['login_ms_p50']:.1f} ms")
    if memory:
        w("")
        w("memory (VmRSS from /proc)")
        for label, m in memory.items():
            workers = ", ".join(f"{(v or 0) / 1024:.1f}" for v in m["workers_kib"].values())
            w(f"   {label:<22} master {(m['master_kib'] or 0) / 1024:.1f} MiB; workers [{workers}] MiB")
    w("")
    w("summary")
    w(f"   {'figure':<44}{'value':>12}  target")
    if tput:
        w(f"   {'auth/healthz throughput ratio':<44}{tput['ratio']:>12.3f}  >= 0.9")
        w(f"   {'  same, from server CPU per request':<44}{tput['cpu_ratio']:>12.3f}  >= 0.9")
    if refresh:
        w(f"   {'refresh grants per expiry (64 clients)':<44}{refresh['per_expiry']:>12.2f}  1")
    if logins:
        w(f"   {'back-channel calls per warm login':<44}{logins['per_login']:>12.2f}  1")
    w("=" * 78)
    print("\n".join(out), flush=True)


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10, help="seconds of measured load per endpoint (10)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of warm-up load per endpoint (3)")
    p.add_argument("--connections", type=int, default=32, help="load-generator connections (32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--workers", type=int, default=2, help="server WEB_WORKERS (2)")
    p.add_argument("--web-threads", type=int, default=16, help="server WEB_THREADS (16)")
    p.add_argument("--clients", type=int, default=64, help="concurrent clients in the refresh part (64)")
    p.add_argument("--ttl", type=int, default=4, help="access-token lifetime in the refresh part, s (4)")
    p.add_argument("--token-delay", type=float, default=0.2, help="provider token-endpoint delay, s (0.2)")
    p.add_argument("--expiries", type=int, default=3, help="access-token lifetimes to run the refresh part for (3)")
    p.add_argument("--logins", type=int, default=20, help="measured warm logins (20)")
    p.add_argument("--quick", action="store_true", help="a short smoke run (2 s load, 1 lifetime, 5 logins)")
    p.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    p.add_argument("--python-load", action="store_true", help="use the Python load generator even if wrk exists")
    args = p.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.expiries, args.logins = 2, 1, 1, 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = None if args.python_load else ensure_wrk(not args.no_install)
    if not wrk and not args.python_load:
        log("wrk not found (as root: apt-get install -y wrk); falling back to the Python load generator")

    # One bound for the whole run, whatever hangs.
    budget = 90 + 2 * (args.duration + args.warmup) + args.expiries * args.ttl + args.logins * 2
    def on_alarm(*_: Any) -> None:
        raise Deadline(f"benchmark overran its {budget:.0f}s bound")
    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(int(budget))

    settings = {
        "WEB_WORKERS": args.workers, "WEB_THREADS": args.web_threads, "cores": os.cpu_count(),
        "connections": args.connections, "load_threads": args.threads,
        "duration_s": args.duration, "warmup_s": args.warmup, "generator": "wrk" if wrk else "python",
    }
    load_at_start = os.getloadavg()
    provider = TestProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    server = None
    workdir = tempfile.mkdtemp(prefix="oidc-bench-")
    tput = refresh = logins = None
    memory: dict[str, Any] = {}
    try:
        provider.start()
        for attempt in (1, 2):  # a free port may be taken between our probe and gunicorn's bind
            server = Server(provider, workdir, args.workers, args.web_threads)
            try:
                server.wait_ready()
                break
            except BenchError as error:
                server.stop()
                if attempt == 2:
                    server = None
                    raise
                log(f"server did not start ({error}); retrying once on another port")
        memory["after start"] = server.rss()
        log(f"server up on {server.url} (workers {server.worker_pids()}); provider on {provider.base_url}")
        log(f"logins: warming every worker, then {args.logins} measured logins")
        logins = part_logins(provider, server, args.logins)
        tput = part_throughput(provider, server, args, wrk)
        memory["after load"] = server.rss()
        refresh = part_refresh(provider, server, args)
        memory["after refresh part"] = server.rss()
    except KeyboardInterrupt:
        log("interrupted: stopping")
        report(settings, load_at_start, tput, refresh, logins, memory)  # what was measured
        return 130
    except (BenchError, Deadline, subprocess.TimeoutExpired) as error:
        log(f"FAILED: {error}")
        if server is not None:
            log("server log tail:\n" + server.tail())
        report(settings, load_at_start, tput, refresh, logins, memory)  # what was measured
        print(f"benchmark FAILED: {error}", flush=True)
        return 1
    finally:
        signal.alarm(0)
        if server is not None:
            server.stop()
        provider.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(settings, load_at_start, tput, refresh, logins, memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
