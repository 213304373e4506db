"""Back-channel HTTP to the provider: timeouts, pooled connections, optional debug log.

Every call to the provider (discovery, JWKS, token, refresh) goes through a session made
here, so DEBUG_OPENID_REQUESTS sees all of them and one redacting logger writes them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

log = logging.getLogger("app.provider_http")


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def debug_hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Logs method, URL without its query, status and time; never bodies or headers."""
    request = response.request
    log.info(
        "provider %s %s -> %s (%.0f ms)",
        request.method,
        _without_query(request.url or ""),
        response.status_code,
        response.elapsed.total_seconds() * 1000,
    )


class ProviderHttp:
    """Thread-local pooled requests sessions with a timeout on every call."""

    def __init__(self, timeout: float = 5.0, debug: bool = False) -> None:
        self.timeout = timeout
        self.debug = debug
        self._local = threading.local()
        self.count = 0  # back-channel calls made, for benchmarks and tests

    def instrument(self, session: requests.Session) -> requests.Session:
        """Adds the debug hook (and a counter) to a session someone else created (authlib's)."""
        session.hooks["response"].append(self._count)
        if self.debug:
            session.hooks["response"].append(debug_hook)
        return session

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.count += 1

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self.instrument(requests.Session())
            session.headers["User-Agent"] = "oidc-login"
            self._local.session = session
        return session

    def get(self, url: str) -> requests.Response:
        return self.session.get(url, timeout=self.timeout, allow_redirects=False)
