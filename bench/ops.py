#!/usr/bin/env python3
"""What the operations layer costs per request: request id, timing histogram and the
metrics in prometheus-client's multiprocess mode (as under `oidc-login serve`).

    .venv/bin/python bench/ops.py            # ~10 s
    .venv/bin/python bench/ops.py --n 2000   # fewer requests

In-process (Flask's test client, no network, no provider call): GET /healthz with the ops
middlewares (app/web/middleware.py: RequestIds, RequestMetrics), then with them unwrapped
from the same app, alternating rounds; and the cost of single
metric updates. Prints figures and ratios, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="requests per round (5000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    args = parser.parse_args()

    metrics_dir = tempfile.mkdtemp(prefix="bench-ops-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # before prometheus-client loads
    sys.path.insert(0, ROOT)
    instance = tempfile.mkdtemp(prefix="bench-ops-instance-")
    try:
        import logging

        from app import create_app, metrics
        from app.settings import load_settings
        from app.web.middleware import RequestIds, RequestMetrics, SecurityHeaders

        settings = load_settings({
            "OPENID_ISSUER": "http://127.0.0.1:9", "OPENID_CLIENT_ID": "bench",
            "OPENID_SESSION_SECRET": "bench-session-secret-0123456789-abcdef", "INSTANCE_PATH": instance,
        }, use_dotenv=False)
        app = create_app(settings)
        logging.getLogger().setLevel(logging.WARNING)
        client = app.test_client()

        def round_us() -> float:
            started = time.perf_counter()
            for _ in range(args.n):
                client.get("/healthz")
            return (time.perf_counter() - started) / args.n * 1e6

        full = app.wsgi_app
        inner = full
        while isinstance(inner, (RequestIds, RequestMetrics)):
            inner = inner.app
        if not isinstance(inner, SecurityHeaders) or inner is full:
            raise SystemExit(f"unexpected middleware order: {full!r}")
        with_ops, without_ops = [], []
        round_us()  # warm-up
        for _ in range(args.rounds):
            app.wsgi_app = full
            with_ops.append(round_us())
            app.wsgi_app = inner
            without_ops.append(round_us())
        app.wsgi_app = full

        def per_call_ns(call, n: int = 20000) -> float:
            started = time.perf_counter()
            for _ in range(n):
                call()
            return (time.perf_counter() - started) / n * 1e9

        counter_ns = per_call_ns(lambda: metrics.login("ok"))
        histogram_ns = per_call_ns(lambda: metrics.request_finished("pages.healthz", 0.001))
        scrape_started = time.perf_counter()
        body, _ = metrics.collect()
        scrape_ms = (time.perf_counter() - scrape_started) * 1000

        w, wo = statistics.median(with_ops), statistics.median(without_ops)
        print("ops layer, GET /healthz in-process (median of %d rounds x %d requests)" % (args.rounds, args.n))
        print(f"  with request id + metrics   {w:8.1f} us/request")
        print(f"  without                     {wo:8.1f} us/request")
        print(f"  overhead                    {w - wo:8.1f} us/request  (ratio {w / wo:.2f})")
        print("metric updates (multiprocess mode, mmap files)")
        print(f"  counter inc                 {counter_ns / 1000:8.2f} us")
        print(f"  histogram observe           {histogram_ns / 1000:8.2f} us")
        print(f"  one scrape (this process)   {scrape_ms:8.2f} ms, {len(body)} bytes")
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        shutil.rmtree(instance, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
