"""Provider metadata: fetched lazily, cached with a TTL, retried, and checked.

The server starts while the provider is down and recovers when it is back: nothing is
fetched at import or start, a failed fetch is retried on the next request, and a stale
document keeps serving while a refetch fails.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from ..errors import AuthError
from .cache import StaleWhileFailing
from .http import ProviderHttp

REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


class Discovery:
    def __init__(
        self,
        issuer: str,
        http: ProviderHttp,
        *,
        ttl: float = 3600,
        jwks_uri_override: str | None = None,
        attempts: int = 2,
        hints: dict[str, str] | None = None,
        expected_issuer: str | None = None,
    ) -> None:
        self.issuer = issuer
        #: What the document's `issuer` must say: the issuer itself, or for a multi-tenant
        #: Entra issuer (.../common/v2.0) its `{tenantid}` template.
        self.expected_issuer = expected_issuer or issuer
        self.url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        self.http = http
        self.ttl = ttl
        self.jwks_uri_override = jwks_uri_override
        self.attempts = attempts
        self.hints = hints or {}
        self._cache = StaleWhileFailing(
            self._fetch,
            ttl,
            busy=lambda: AuthError("DISCOVERY_FAILED", f"{self.url} is slow to answer; try again shortly."),
        )

    def metadata(self) -> dict[str, Any]:
        """The checked discovery document; raises DISCOVERY_FAILED or INVALID_ISSUER."""
        return self._cache.get()

    def cached(self) -> dict[str, Any] | None:
        """The document if one was ever fetched (even stale), without fetching."""
        return self._cache.current

    def invalidate(self) -> None:
        self._cache.invalidate()

    def _fetch(self) -> dict[str, Any]:
        last: str = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(0.2)
            try:
                response = self.http.get(self.url)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__} contacting {self.url}"
                continue
            if response.status_code >= 500:
                last = f"{self.url} answered HTTP {response.status_code}"
                continue
            if response.status_code != 200:
                raise AuthError(
                    "DISCOVERY_FAILED",
                    f"{self.url} answered HTTP {response.status_code}.",
                    hint=f"Check OPENID_ISSUER: {self.url} must serve the discovery document.",
                )
            try:
                doc = response.json()
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                raise AuthError("DISCOVERY_FAILED", f"{self.url} did not return a JSON object.")
            return self._check(doc)
        raise AuthError("DISCOVERY_FAILED", last + ".")

    def _check(self, doc: dict[str, Any]) -> dict[str, Any]:
        if self.jwks_uri_override:
            doc = {**doc, "jwks_uri": self.jwks_uri_override}
        missing = [key for key in REQUIRED if not doc.get(key)]
        if missing:
            raise AuthError(
                "DISCOVERY_FAILED",
                f"The discovery document lacks {', '.join(missing)}.",
                hint="Point OPENID_ISSUER at an OpenID Connect provider (not a plain OAuth2 server).",
            )
        if doc["issuer"] != self.expected_issuer:
            raise AuthError(
                "INVALID_ISSUER",
                f"Discovery says the issuer is {doc['issuer']!r} but OPENID_ISSUER is "
                f"{self.expected_issuer!r}.",
                hint=self.hints.get("INVALID_ISSUER")
                or f"Set OPENID_ISSUER to exactly {doc['issuer']!r} (issuers are compared "
                "character for character, trailing slash included).",
            )
        self.http.learn_endpoints(doc)
        return doc
