"""The token endpoint, for the refresh grant (the code grant goes through authlib's Flask
client in the web layer, which authenticates the same way)."""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from .. import metrics
from .discovery import Discovery
from .http import ProviderHttp


class ProviderRefused(Exception):
    """The provider answered with an OAuth error (4xx), e.g. invalid_grant."""

    def __init__(self, error: str, description: str | None = None) -> None:
        self.error = error
        self.description = description
        super().__init__(error)


class ProviderUnavailable(Exception):
    """No usable answer: connection error, timeout, 5xx or a body that is not JSON."""


def token_auth_method(metadata: dict[str, Any], client_secret: str | None) -> str:
    """client_secret_basic unless the provider only supports post; `none` for public clients."""
    if not client_secret:
        return "none"
    supported = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_basic" in supported or "client_secret_post" not in supported:
        return "client_secret_basic"
    return "client_secret_post"


class TokenClient:
    def __init__(
        self, discovery: Discovery, http: ProviderHttp, client_id: str, client_secret: str | None
    ) -> None:
        self.discovery = discovery
        self.http = http
        self.client_id = client_id
        self.client_secret = client_secret

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """One refresh_token grant. Raises ProviderRefused or ProviderUnavailable."""
        metadata = self.discovery.metadata()
        session = OAuth2Session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=token_auth_method(metadata, self.client_secret),
            default_timeout=self.http.timeout,
        )
        self.http.instrument(session)
        try:
            with session:
                answer = dict(session.refresh_token(metadata["token_endpoint"], refresh_token=refresh_token))
        except OAuthError as exc:
            metrics.refresh("invalid_grant" if exc.error == "invalid_grant" else "refused")
            raise ProviderRefused(exc.error or "error", exc.description) from None
        except (requests.RequestException, ValueError) as exc:
            metrics.refresh("unavailable")
            raise ProviderUnavailable(type(exc).__name__) from None
        metrics.refresh("ok")
        return answer

    def revoke(self, endpoint: str, token: str, *, timeout: float) -> str:
        """RFC 7009 revocation of a refresh token, authenticated as at the token endpoint.
        Returns `revoked` or `failed` (never raises: logout must not depend on it)."""
        metadata = self.discovery.metadata()
        method = token_auth_method(metadata, self.client_secret)
        session = OAuth2Session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=method,
            revocation_endpoint_auth_method=method,
            default_timeout=timeout,
        )
        self.http.instrument(session)
        try:
            with session:
                response = session.revoke_token(endpoint, token=token, token_type_hint="refresh_token")
        except (requests.RequestException, OAuthError, ValueError):
            return "failed"
        return "revoked" if response.status_code == 200 else "failed"
