"""Operations glue: request ids, request timing, and the readiness probe `/readyz`.

`/healthz` (pages.py) says the process serves; `/readyz` says it can do its job: the session
store answers and the provider's metadata is cached or fetchable, each within a short timeout,
so a load balancer stops sending users to an instance that would only answer 503.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from .. import metrics

bp = Blueprint("ops", __name__)

#: What a proxy's X-Request-ID may look like to be kept (else a fresh one is made).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
CHECK_TIMEOUT = 2.0
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
    app.register_blueprint(bp)


def _begin() -> None:
    g.request_started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    trusted = current_app.extensions["oidc_login"].settings.trust_proxy > 0
    g.request_id = given if trusted and _REQUEST_ID.match(given) else new_request_id()


_ids: tuple[int, str, Iterator[int]] = (0, "", itertools.count())


def new_request_id() -> str:
    """Unique without a random draw per request: a random prefix per process (made again
    after a fork) and a counter."""
    global _ids
    pid, prefix, counter = _ids
    if pid != os.getpid():
        _ids = pid, prefix, counter = os.getpid(), secrets.token_hex(10), itertools.count(1)
    return f"{prefix}{next(counter):012x}"  # 32 hex digits, like a UUID


def _finish(response: Response) -> Response:
    response.headers.add("X-Request-ID", request_id())  # a response never has one before this
    endpoint = request.endpoint
    started = g.get("request_started")
    if started is not None:
        metrics.request_finished(endpoint, time.perf_counter() - started)
    if endpoint and endpoint.endswith(".verify"):
        metrics.verify_answer(response.status_code)
    return response


def request_id() -> str:
    """This request's id (made on first use when before_request did not run)."""
    if "request_id" not in g:
        g.request_id = new_request_id()
    return str(g.request_id)


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
