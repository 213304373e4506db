"""The readiness probe `/readyz` (request ids and timing are WSGI middlewares: middleware.py).

`/healthz` (pages.py) says the process serves; `/readyz` says it can do its job: the session
store answers and the provider's metadata is cached or fetchable, each within a short timeout,
so a load balancer stops sending users to an instance that would only answer 503.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("ops", __name__)

CHECK_TIMEOUT = 2.0
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def _run(check: Callable[[], Any]) -> str | None:
    """None when `check` passed within CHECK_TIMEOUT, else a short reason (never a secret)."""
    future = _checks.submit(check)
    try:
        future.result(timeout=CHECK_TIMEOUT)
    except FutureTimeout:
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as exc:  # any failure is "not ready"; the reason names its kind
        code = getattr(exc, "code", None)
        return str(code) if isinstance(code, str) else type(exc).__name__
    return None


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    services = current_app.extensions["oidc_login"]
    discovery = services.discovery
    results = {
        "store": _run(services.store.ping),
        # Cached metadata (even stale) is enough: logins keep working from it.
        "provider_metadata": None
        if discovery.cached() is not None
        else _run(discovery.metadata),
    }
    checks = {name: "ok" if reason is None else f"fail: {reason}" for name, reason in results.items()}
    failed = [name for name, reason in results.items() if reason is not None]
    if failed:
        body = {"status": "not ready", "failed": failed, "checks": checks}
        response = jsonify(body)
        response.headers["Retry-After"] = "5"
        response.headers["Cache-Control"] = "no-store"
        return response, 503
    response = jsonify({"status": "ready", "checks": checks})
    response.headers["Cache-Control"] = "no-store"
    return response, 200
