"""The userinfo endpoint, as a role source: called once at login and once per refresh, with
that moment's access token, and its answer checked to be about the same user (OIDC Core
5.3.2: its `sub` must equal the ID token's). Never called on ordinary requests."""

from __future__ import annotations

from typing import Any

import requests

from .discovery import Discovery
from .http import ProviderHttp


class UserinfoRefused(Exception):
    """A definitive answer: the token was refused, or the answer is about another user."""


class UserinfoUnavailable(Exception):
    """No usable answer just now: unreachable, timeout, 5xx."""


class UserinfoClient:
    def __init__(self, discovery: Discovery, http: ProviderHttp) -> None:
        self.discovery = discovery
        self.http = http

    def fetch(self, access_token: str, sub: str) -> dict[str, Any]:
        """The userinfo claims for `sub`; raises UserinfoRefused or UserinfoUnavailable."""
        endpoint = self.discovery.metadata().get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise UserinfoRefused("the provider's discovery document has no userinfo_endpoint")
        try:
            response = self.http.session.get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=self.http.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise UserinfoUnavailable(type(exc).__name__) from None
        if response.status_code >= 500:
            raise UserinfoUnavailable(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise UserinfoRefused(f"the userinfo endpoint answered HTTP {response.status_code}")
        try:
            claims = response.json()
        except ValueError:
            claims = None
        if not isinstance(claims, dict):
            raise UserinfoRefused("the userinfo endpoint did not answer a JSON object")
        if claims.get("sub") != sub:
            raise UserinfoRefused("the userinfo answer is about another user (sub)")
        return claims
