#!/usr/bin/env python3
"""What sessions at rest cost: CPU per authenticated request, before and after.

    .venv/bin/python bench/sealing.py            # ~1 min
    .venv/bin/python bench/sealing.py --quick    # ~25 s

"After" is this checkout; "before" is the same repository at the commit before the ticket
cookie and sealed store values came in (a temporary `git worktree`). Both run the same
server shape (`oidc-login serve`, gunicorn gthread, 2 workers) against the same test provider
in this process, with token reuse on, and take turns under the same wrk load on
`GET /api/user`, so whatever else the machine does weighs on both alike. Prints figures
only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from run import (  # noqa: E402
    COOKIE,
    ROOT,
    BenchError,
    Server,
    api_user,
    ensure_wrk,
    log,
    login,
    run_python_load,
    run_wrk,
)

from tests.provider import TestProvider  # noqa: E402

CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-client-secret"


def before_revision() -> str:
    """The parent of the commit that brought the ticket cookie in."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "app/web/ticket.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    if not added:
        raise BenchError("cannot find the commit that added app/web/ticket.py")
    return added[-1] + "^"


def measure(server: Server, cookie: str, seconds: float, args: argparse.Namespace, wrk: str | None) -> tuple[int, float]:
    """(requests, CPU seconds of the server's processes) for one slice of load."""
    url = server.url + "/api/user"
    before = server.cpu_seconds()
    if wrk:
        result = run_wrk(url, cookie, seconds, args.connections, args.threads)
    else:
        result = run_python_load(url, cookie, seconds, args.connections)
    if result["non_2xx"] or result["socket_errors"]:
        raise BenchError(f"load on {url} had errors: {result}")
    return result["requests"], server.cpu_seconds() - before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="git revision to compare with (default: before the ticket cookie)")
    parser.add_argument("--slices", type=int, default=6, help="alternating load slices per server (6)")
    parser.add_argument("--slice", type=float, default=3, help="seconds per slice (3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 slices of 2 s")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    args = parser.parse_args(argv)
    if args.quick:
        args.slices, args.slice = 2, 2
    revision = args.before or before_revision()
    wrk = ensure_wrk(not args.no_install)
    with tempfile.TemporaryDirectory(prefix="oidc-bench-sealing-") as tmp, \
            TestProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as provider:
        provider.config.access_token_ttl = 3600  # no refresh inside the window
        old_tree = os.path.join(tmp, "before")
        subprocess.run(["git", "worktree", "add", "--detach", "-q", old_tree, revision], cwd=ROOT, check=True)
        servers: dict[str, Server] = {}
        try:
            for name, root in (("before", old_tree), ("after", ROOT)):
                workdir = os.path.join(tmp, name + "-run")
                os.makedirs(workdir)
                servers[name] = Server(provider, workdir, workers=2, threads=16, root=root)
            cookies: dict[str, str] = {}
            for name, server in servers.items():
                server.wait_ready()
                cookies[name] = login(server).cookies[COOKIE]
                if not api_user(server, cookies[name]).get("session", {}).get("reuse_tokens"):
                    raise BenchError(f"{name}: /api/user is not in reuse mode")
                measure(server, cookies[name], 1, args, wrk)  # warm-up
            totals: dict[str, list[float]] = {name: [0, 0.0] for name in servers}
            order = ["before", "after", "after", "before"] * args.slices
            log(f"load: {args.slices} x {args.slice}s slices per server, alternating")
            for name in order[: 2 * args.slices]:
                requests, cpu = measure(servers[name], cookies[name], args.slice, args, wrk)
                totals[name][0] += requests
                totals[name][1] += cpu
        finally:
            for server in servers.values():
                server.stop()
            subprocess.run(["git", "worktree", "remove", "--force", old_tree], cwd=ROOT, check=False)
    report: dict[str, Any] = {}
    for name, (requests, cpu) in totals.items():
        report[name] = {"requests": int(requests), "cpu_us_per_request": 1e6 * cpu / max(1, requests),
                        "rps": requests / (args.slice * args.slices)}
    ratio = report["after"]["cpu_us_per_request"] / report["before"]["cpu_us_per_request"]
    print(f"sessions at rest, GET /api/user signed in (reuse on, file store), before = {revision}")
    print(f"{'':10}{'requests':>10}{'req/s':>10}{'CPU µs/req':>12}")
    for name in ("before", "after"):
        r = report[name]
        print(f"{name:10}{r['requests']:>10}{r['rps']:>10.0f}{r['cpu_us_per_request']:>12.0f}")
    print(f"after / before CPU per request: {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
