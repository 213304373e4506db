"""Prometheus metrics: every metric object of the server, and one small function per event.

The rest of the code calls `metrics.login(code)`, `metrics.refresh(outcome)` ... so metric
names and labels live in one place. Label values are bounded: contract error codes, route
(endpoint) names, status classes; never a path, a user or a token.

Under `oidc-login serve`, PROMETHEUS_MULTIPROC_DIR is set before this module is imported, so
prometheus-client writes each worker's values to files there and `collect()` adds them up
across workers (multiprocess mode). Without it (tests, `flask run`) the values live in the
process and `collect()` reads the default registry.
"""

from __future__ import annotations

import os
import re

import threading
from typing import Any

from .errors import SPECS

_CODES = frozenset(SPECS) | {"ok"}
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class _Metrics:
    """The metric objects. Made on first use, not at import: prometheus-client picks its
    multiprocess storage when it is imported, and `oidc-login serve` sets
    PROMETHEUS_MULTIPROC_DIR only after the `app` package has been imported."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.logins = Counter("oidc_login_logins", "Finished logins (callbacks) by result code.", ["code"])
        self.refresh_grants = Counter(
            "oidc_login_refresh_grants", "Refresh grants sent to the provider by outcome.", ["outcome"]
        )
        self.verify_answers = Counter(
            "oidc_login_verify_answers", "Answers of /api/auth/verify by HTTP status.", ["status"]
        )
        self.request_duration = Histogram(
            "oidc_login_request_duration_seconds", "Request duration by route (endpoint name).", ["route"]
        )
        self.provider_calls = Counter(
            "oidc_login_provider_calls", "Calls to the provider by endpoint and status class.",
            ["endpoint", "status"],
        )
        self.provider_duration = Histogram(
            "oidc_login_provider_call_duration_seconds", "Duration of calls to the provider.", ["endpoint"]
        )
        self.jwks_fetches = Counter("oidc_login_jwks_fetches", "JWKS fetches by reason.", ["reason"])
        self.sessions_ended = Counter("oidc_login_sessions_ended", "Sessions ended by reason.", ["reason"])
        self.store_errors = Counter("oidc_login_store_errors", "Session store errors by operation.", ["op"])


_made: _Metrics | None = None
_making = threading.Lock()


def _m() -> _Metrics:
    global _made
    if _made is None:
        with _making:
            if _made is None:
                _made = _Metrics()
    return _made


REFRESH_OUTCOMES = frozenset({"ok", "invalid_grant", "refused", "unavailable"})
PROVIDER_ENDPOINTS = frozenset(
    {"discovery", "jwks", "token", "userinfo", "revocation", "end_session", "other"}
)
JWKS_REASONS = frozenset({"initial", "expired", "unknown_kid", "retry"})


def _bounded(value: str | None, allowed: frozenset[str]) -> str:
    return value if value in allowed else "other"


def status_class(status: int | None) -> str:
    """`2xx` ... `5xx`, or `error` when there was no HTTP answer."""
    return f"{status // 100}xx" if status and 100 <= status < 600 else "error"


def login(code: str) -> None:
    """A callback finished: `ok` or the contract error code it failed with."""
    _m().logins.labels(_bounded(code, _CODES)).inc()


def refresh(outcome: str) -> None:
    """One refresh grant's answer: ok, invalid_grant, refused (another 4xx) or unavailable."""
    _m().refresh_grants.labels(_bounded(outcome, REFRESH_OUTCOMES)).inc()


_verify_counters: dict[int, Any] = {}


def verify_answer(status: int) -> None:
    """Once per forward-auth subrequest: the labelled child is looked up once per status."""
    counter = _verify_counters.get(status)
    if counter is None:
        counter = _verify_counters[status] = _m().verify_answers.labels(str(status) if 100 <= status < 600 else "other")
    counter.inc()


_route_timers: dict[str | None, Any] = {}


def request_finished(route: str | None, seconds: float) -> None:
    """`route` is the Flask endpoint name (bounded by the code), never the path. The labelled
    child is looked up once per route and process: this runs on every request."""
    timer = _route_timers.get(route)
    if timer is None:
        timer = _m().request_duration.labels(route if route and _NAME.match(route) else "unmatched")
        _route_timers[route] = timer
    timer.observe(seconds)


def provider_call(endpoint: str, status: int | None, seconds: float) -> None:
    endpoint = _bounded(endpoint, PROVIDER_ENDPOINTS)
    _m().provider_calls.labels(endpoint, status_class(status)).inc()
    _m().provider_duration.labels(endpoint).observe(seconds)


def jwks_fetch(reason: str) -> None:
    _m().jwks_fetches.labels(_bounded(reason, JWKS_REASONS)).inc()


def session_ended(reason: str, count: int = 1) -> None:
    """logout, expired, ended_elsewhere (gone from the store), backchannel, or the error code
    that ended it; `count` sessions at once (a back-channel logout may end several)."""
    if count > 0:
        _m().sessions_ended.labels(reason if _NAME.match(reason) and len(reason) <= 32 else "other").inc(count)


def store_error(op: str) -> None:
    _m().store_errors.labels(op if _NAME.match(op) else "other").inc()


def collect() -> tuple[bytes, str]:
    """The exposition text of every worker (multiprocess) or of this process."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    _m()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
