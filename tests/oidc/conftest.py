"""Fixtures for the protocol-core tests: Discovery, KeyCache and TokenVerifier built
directly against the real test provider (no Flask), plus a clock that can jump ahead."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.oidc.discovery import Discovery
from app.oidc.http import ProviderHttp
from app.oidc.keys import KeyCache
from app.oidc.tokens import TokenVerifier
from tests.provider import TestProvider

API = "https://api.example.com"


@dataclass
class Core:
    http: ProviderHttp
    discovery: Discovery
    keys: KeyCache
    verifier: TokenVerifier


@pytest.fixture
def make_core(provider: TestProvider) -> Callable[..., Core]:
    """make_core(audience=..., leeway=..., ...) -> the core wired like app/services.py does."""

    def factory(
        *,
        issuer: str | None = None,
        client_id: str | None = None,
        audience: str | None = None,
        leeway: int = 60,
        discovery_ttl: float = 3600,
        jwks_ttl: float = 3600,
        forced_interval: float = 60,
        attempts: int = 1,
        jwks_uri_override: str | None = None,
    ) -> Core:
        http = ProviderHttp(timeout=3)
        issuer = issuer or provider.issuer
        discovery = Discovery(
            issuer, http, ttl=discovery_ttl, attempts=attempts, jwks_uri_override=jwks_uri_override
        )
        keys = KeyCache(
            lambda: discovery.metadata()["jwks_uri"], http, ttl=jwks_ttl, forced_interval=forced_interval
        )
        verifier = TokenVerifier(
            discovery,
            keys,
            issuer=issuer,
            client_id=client_id or provider.client_id,
            audience=audience,
            leeway=leeway,
        )
        return Core(http, discovery, keys, verifier)

    return factory


@pytest.fixture
def core(make_core: Callable[..., Core]) -> Core:
    return make_core()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> "Clock":
    """Moves time.monotonic() (and optionally time.time()) forward without sleeping."""
    return Clock(monkeypatch)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        self.wall_offset = 0.0
        real_monotonic = time.monotonic
        real_time = time.time
        monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + self.offset)
        monkeypatch.setattr(time, "time", lambda: real_time() + self.wall_offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def advance_wall(self, seconds: float) -> None:
        self.wall_offset += seconds


def claims_for(provider: TestProvider, **overrides: Any) -> dict[str, Any]:
    """Valid ID-token claims for the provider's client; an override of None drops the claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": provider.issuer,
        "sub": "user-123",
        "aud": provider.client_id,
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}
