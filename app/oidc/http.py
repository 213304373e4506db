"""Back-channel HTTP to the provider: timeouts, pooled connections, optional debug log,
the outbound proxy and extra certificate authorities, and per-endpoint metrics.

Every call to the provider (discovery, JWKS, token, refresh) goes through a session made
or instrumented here (authlib's too), so DEBUG_OPENID_REQUESTS sees all of them, one
redacting logger writes them, and one transport adapter applies HTTPS_PROXY/NO_PROXY and
OPENID_CA_BUNDLE to each of them.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import should_bypass_proxies

from .. import metrics

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


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext | None:
    """The default authorities plus those of `ca_bundle` (added, never instead); None
    without a bundle (requests' own default then applies)."""
    if not ca_bundle:
        return None
    context = ssl.create_default_context()  # the system's authorities
    context.load_verify_locations(cafile=ca_bundle)
    return context


class ProviderAdapter(HTTPAdapter):
    """The transport of every provider call: our proxy choice and CA context, whatever the
    session (ours or authlib's) was told, and a timed metric per call."""

    def __init__(self, owner: ProviderHttp) -> None:
        self.owner = owner
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        if self.owner.context is not None:
            kwargs["ssl_context"] = self.owner.context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        if self.owner.context is not None:
            kwargs["ssl_context"] = self.owner.context
        return super().proxy_manager_for(proxy, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if self.owner.context is not None:
            # Our context already holds the system's authorities and the bundle; requests
            # would load certifi's file into it again on every new connection.
            conn.ca_certs = conn.ca_cert_dir = None

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        kwargs["proxies"] = self.owner.proxies_for(url)
        if self.owner.context is not None:
            kwargs["verify"] = True  # never REQUESTS_CA_BUNDLE instead of our context
        started = time.perf_counter()
        status = None
        try:
            response = super().send(request, *args, **kwargs)
            status = response.status_code
            return response
        finally:
            metrics.provider_call(self.owner.endpoint_name(url), status, time.perf_counter() - started)


class ProviderHttp:
    """Thread-local pooled requests sessions with a timeout on every call."""

    def __init__(
        self,
        timeout: float = 5.0,
        debug: bool = False,
        *,
        proxies: dict[str, str] | None = None,
        no_proxy: str | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.debug = debug
        self.proxies = dict(proxies or {})
        self.no_proxy = no_proxy
        self.context = ssl_context(ca_bundle)
        self.endpoints: dict[str, str] = {}
        self._local = threading.local()
        self.count = 0  # back-channel calls made, for benchmarks and tests

    def proxies_for(self, url: str) -> dict[str, str]:
        """HTTPS_PROXY/HTTP_PROXY (or PROXY) for this URL, none when NO_PROXY matches it."""
        if not self.proxies or should_bypass_proxies(url, no_proxy=self.no_proxy or ""):
            return {}
        return self.proxies

    def learn_endpoints(self, metadata: dict[str, Any]) -> None:
        """Names the provider's endpoints (from discovery) for the metrics' `endpoint` label."""
        for key, name in (
            ("token_endpoint", "token"), ("jwks_uri", "jwks"), ("userinfo_endpoint", "userinfo"),
            ("revocation_endpoint", "revocation"), ("end_session_endpoint", "end_session"),
        ):
            if isinstance(metadata.get(key), str):
                self.endpoints[_without_query(metadata[key])] = name

    def endpoint_name(self, url: str) -> str:
        bare = _without_query(url)
        if bare.endswith("/.well-known/openid-configuration"):
            return "discovery"
        return self.endpoints.get(bare, "other")

    def instrument(self, session: requests.Session) -> requests.Session:
        """Adds the transport (proxy, CA, metrics), the debug hook and a counter to a session,
        also one someone else created (authlib's)."""
        adapter = ProviderAdapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
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
