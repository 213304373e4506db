"""`bench/cost.py --profile DIR`: where each route's CPU goes, by cProfile.

py-spy cannot attach here, so each route of the table is replayed in the bench process:
the same request (path, cookie, headers) through the same WSGI app (bench/plain_app.py's, or
`create_app` with the settings its server runs with: same file-store folder, same Redis,
metrics in multiprocess files as under serve), called directly, without gunicorn. Per route:
`<route>.prof` (open with `python -m pstats` or snakeviz), `<route>.txt` (top functions by
own and by cumulative time), and a few summary lines for the report. gunicorn's share (HTTP
parsing, the access log, socket I/O) is not in these.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import sys
import time
from typing import Any, Callable

from werkzeug.test import EnvironBuilder

from run import COOKIE, BenchError, Server

WSGI = Callable[[dict[str, Any], Callable[..., Any]], Any]


def wsgi_app(name: str, server: Server) -> WSGI:
    """The app that server runs, built in this process."""
    if name == "plain":
        from plain_app import app

        return app
    from app import create_app
    from app.settings import load_settings

    return create_app(load_settings(server.env, use_dotenv=False))


def call(app: WSGI, environ: dict[str, Any]) -> str:
    """One request as gunicorn would hand it over; the body is consumed; returns the status."""
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO()
    status: list[str] = []
    body = app(env, lambda s, headers, exc_info=None: status.append(s))
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return status[0]


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def top(stats: pstats.Stats, count: int, cumulative: bool = False) -> list[str]:
    """The functions with the most own time (or, with `cumulative`, the project's own
    functions under `app/` with the most time including callees), as shares of the total."""
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in entries.values()) or 1.0
    column = 3 if cumulative else 2
    chosen = [kv for kv in entries.items() if not cumulative or kv[0][0].startswith(os.path.join(ROOT, "app"))]
    ranked = sorted(chosen, key=lambda kv: kv[1][column], reverse=True)[:count]
    lines = []
    for (path, line, func), values in ranked:
        where = path.split("site-packages/")[-1].replace(ROOT + "/", "")
        lines.append(f"{100 * values[column] / total:5.1f}% {func} ({where}:{line}, {values[1]} calls)")
    return lines


def profile_routes(table: list[Any], servers: dict[str, Server], cookies: dict[str, str],
                   folder: str, n: int) -> list[str]:
    """Profile every row of the table; returns the summary lines."""
    os.makedirs(folder, exist_ok=True)
    if "prometheus_client" not in sys.modules:  # metrics as under `oidc-login serve`: multiprocess files
        from app.serving import prepare_metrics_dir

        prepare_metrics_dir()
    apps: dict[str, WSGI] = {}
    summary = ["", f"profiles (cProfile, {n} in-process requests per route, without gunicorn) in {folder}"]
    for row in table:
        if row.server not in apps:
            apps[row.server] = wsgi_app(row.server, servers[row.server])
        app = apps[row.server]
        headers = dict(row.headers)
        if row.cookie:
            headers["Cookie"] = f"{COOKIE}={cookies[row.server]}"
        environ = EnvironBuilder(path=row.path, base_url=servers[row.server].url, headers=headers).get_environ()
        for _ in range(min(50, n)):  # warm: discovery, JWKS, caches
            status = call(app, environ)
            if not status.startswith("200"):
                raise BenchError(f"in-process {row.label} answered {status}")
        begin = time.process_time()
        for _ in range(n):
            call(app, environ)
        unprofiled_us = 1e6 * (time.process_time() - begin) / n
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            call(app, environ)
        profiler.disable()
        slug = re.sub(r"[^a-z0-9]+", "-", row.label.lower()).strip("-")
        profiler.dump_stats(os.path.join(folder, slug + ".prof"))
        with open(os.path.join(folder, slug + ".txt"), "w") as out:
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats(40)
        summary.append(f"{row.label}: {unprofiled_us:.0f} µs/request in-process (CPU of this process, unprofiled)")
        stats = pstats.Stats(profiler)
        summary.append("   own time:")
        summary += [f"     {line}" for line in top(stats, 6)]
        if row.server != "plain":
            summary.append("   app/ functions, time including callees:")
            summary += [f"     {line}" for line in top(stats, 8, cumulative=True)]
    return summary
