"""What every response gets, added at the WSGI level: one job per middleware.

These run on every request, the proxy's verify subrequests and the probes included, so they
work on the raw header list `start_response` receives (plain tuples, no `Headers` object,
no Flask context lookups): appending a few constant tuples costs far less than after_request
hooks that edit a `Response`. The order, outermost first: `RequestIds` (every later log line
has the id), `RequestMetrics`, `SecurityHeaders`, `Routes`, then the Flask app.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .. import metrics
from ..logs import CURRENT_REQUEST_ID, REQUEST_ID

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

#: Where this request's CSP nonce is kept (pages that render a template); its id: REQUEST_ID.
CSP_NONCE = "oidc_login.csp_nonce"
#: What a proxy's X-Request-ID may look like to be kept (else a fresh one is made).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


#: The endpoint name of an answer given below Flask's dispatch (verify.py's ForwardAuth).
ENDPOINT = "oidc_login.endpoint"


def endpoint_of(environ: Environ) -> str | None:
    """The endpoint that answered (None when no route matched). Flask's request object is in
    the environ from the moment the app took the request."""
    name = environ.get(ENDPOINT)
    if name is not None:
        return str(name)
    return getattr(environ.get("werkzeug.request"), "endpoint", None)


class Routes:
    """Hands a few exact paths to their own WSGI apps, everything else to Flask: the proxy's
    auth subrequest, asked once per request of the guarded app, skips Flask's dispatch."""

    def __init__(self, app: WSGIApp, paths: dict[str, WSGIApp]) -> None:
        self.app = app
        self.paths = paths

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return self.paths.get(environ.get("PATH_INFO", ""), self.app)(environ, start_response)


# -- request ids ---------------------------------------------------------------------------------

_ids: tuple[int, str, Iterator[int]] = (0, "", itertools.count())


def new_request_id() -> str:
    """Unique without a random draw per request: a random prefix per process (made again
    after a fork) and a counter."""
    global _ids
    pid, prefix, counter = _ids
    if pid != os.getpid():
        _ids = pid, prefix, counter = os.getpid(), secrets.token_hex(10), itertools.count(1)
    return f"{prefix}{next(counter):012x}"  # 32 hex digits, like a UUID


class RequestIds:
    """Keeps a trusted proxy's X-Request-ID (else makes one), for the logs and the answer."""

    def __init__(self, app: WSGIApp, *, trust_proxy: bool) -> None:
        self.app = app
        self.trust_proxy = trust_proxy

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        given = environ.get("HTTP_X_REQUEST_ID", "") if self.trust_proxy else ""
        rid = environ[REQUEST_ID] = given if given and _REQUEST_ID.match(given) else new_request_id()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-ID", rid))
            return start_response(status, headers, exc_info)

        token = CURRENT_REQUEST_ID.set(rid)
        try:
            return self.app(environ, start)
        finally:
            CURRENT_REQUEST_ID.reset(token)


# -- metrics -------------------------------------------------------------------------------------


class RequestMetrics:
    """The request-duration histogram by endpoint, and the answers of any forward-auth
    endpoint (`<blueprint>.verify`) by status."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            endpoint = endpoint_of(environ)
            metrics.request_finished(endpoint, time.perf_counter() - started)
            if endpoint is not None and endpoint.endswith(".verify"):
                metrics.verify_answer(int(status[:3]))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


# -- security headers ----------------------------------------------------------------------------

#: For answers that rendered no template (JSON, redirects): nothing may run or load.
STRICT_CSP = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"
#: For pages: only our own inline style and script, by this response's nonce.
PAGE_CSP = (
    "default-src 'none'; style-src 'nonce-{0}'; script-src 'nonce-{0}'; "
    "img-src * data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
COMMON = (("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
#: Over https the browser must never come back over http (cookie theft on a hostile
#: network); a year, as the HSTS preload list asks.
HSTS = ("Strict-Transport-Security", "max-age=31536000")
#: Pages and API answers name the user or carry one-time state: never cached.
NO_STORE = ("Cache-Control", "no-store")


class SecurityHeaders:
    """No framing, no sniffing, a strict CSP whose nonce lets only our own inline style and
    script run, HSTS over https, no caching of personal answers. A header the view set
    itself is kept. Paths in `bare` (the proxy's auth subrequest: never shown as a page)
    get none; paths in `cacheable` (the health probe) no Cache-Control."""

    def __init__(self, app: WSGIApp, *, https_only: bool, bare: Iterable[str], cacheable: Iterable[str]) -> None:
        self.app = app
        self.https_only = https_only
        self.bare = frozenset(bare)
        self.cacheable = frozenset(cacheable)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in self.bare:
            return self.app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers.extend(header for header in COMMON if header[0].lower() not in present)
            if "content-security-policy" not in present:
                nonce = environ.get(CSP_NONCE)
                headers.append(("Content-Security-Policy", PAGE_CSP.format(nonce) if nonce else STRICT_CSP))
            if "strict-transport-security" not in present and (
                self.https_only or environ.get("wsgi.url_scheme") == "https"
            ):
                headers.append(HSTS)
            if "cache-control" not in present and path not in self.cacheable:
                headers.append(NO_STORE)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def csp_nonce(environ: Environ) -> str:
    """The nonce a template puts on its inline <style> and <script>: made on first use, so
    answers that render no template cost no random bytes and get the strictest policy."""
    nonce = environ.get(CSP_NONCE)
    if nonce is None:
        nonce = environ[CSP_NONCE] = secrets.token_urlsafe(16)
    return str(nonce)
