"""Wires the protocol core together from Settings. No Flask here: the CLI's `check` and the
benchmarks build the same objects the web app uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import AuthError
from .oidc.client import TokenClient
from .oidc.discovery import Discovery
from .oidc.http import ProviderHttp
from .oidc.keys import KeyCache
from .oidc.login import LoginRules
from .oidc.logout import LogoutTokenValidator, Revoker
from .oidc.refresh import Refresher, RefreshPolicy
from .oidc.roles import RolePolicy, check_required, extract_roles
from .oidc.tokens import TokenVerifier
from .settings import Settings
from .store import Store, open_store
from .store.index import SessionIndex
from .store.sealed import Keyer


@dataclass
class Services:
    settings: Settings
    http: ProviderHttp
    discovery: Discovery
    keys: KeyCache
    verifier: TokenVerifier
    token_client: TokenClient
    store: Store
    refresher: Refresher
    policy: RolePolicy | None
    keyer: Keyer
    # Logout everywhere: back-channel logout tokens, the sid/sub -> sessions index, revocation.
    logout_tokens: LogoutTokenValidator = None  # type: ignore[assignment]  # set in build_services
    index: SessionIndex = None  # type: ignore[assignment]
    revoker: Revoker = None  # type: ignore[assignment]

    def roles_from(self, id_claims: dict[str, Any] | None, access_claims: dict[str, Any] | None) -> list[str] | None:
        """Roles from the token OPENID_REQUIRED_ROLE_TOKEN_KIND names; None when that token
        is not at hand (e.g. a refresh answer without an ID token: keep the old roles)."""
        claims = access_claims if self.settings.role_token_kind == "access" else id_claims
        if claims is None:
            return None
        return extract_roles(claims, self.settings.role_path)

    def check_roles(self, roles: list[str]) -> None:
        check_required(
            roles, self.settings.required_roles, self.settings.provider.hints.get("ROLE_REQUIRED")
        )

    @property
    def login_rules(self) -> LoginRules:
        """What the callback logic needs to know of the settings."""
        return LoginRules(
            issuer=self.settings.issuer,
            reuse_tokens=self.settings.reuse_tokens,
            role_token_kind=self.settings.role_token_kind,
            hints=self.settings.provider.hints,
        )

    def error(self, code: str, detail: str | None = None, **kwargs: Any) -> AuthError:
        """An AuthError with the provider preset's own hint when it has one."""
        return AuthError(code, detail, hint=self.settings.provider.hints.get(code), **kwargs)


def provider_http(settings: Settings) -> ProviderHttp:
    """The provider's HTTP client with the timeout, debug log, proxy and CA settings."""
    return ProviderHttp(
        timeout=settings.http_timeout,
        debug=settings.debug_requests,
        proxies=settings.proxies,
        no_proxy=settings.no_proxy,
        ca_bundle=settings.ca_bundle,
    )


def open_settings_store(settings: Settings) -> Store:
    """Redis (plain, TLS or Sentinel, with REDIS_KEY_PREFIX) when REDIS_URI is set, else files."""
    if settings.redis_uri:
        from .store.redis import RedisStore

        return RedisStore(settings.redis_uri, prefix=settings.redis_key_prefix)
    return open_store(None, os.path.join(settings.instance_path, "store"))


def build_services(settings: Settings) -> Services:
    http = provider_http(settings)
    hints = settings.provider.hints
    discovery = Discovery(
        settings.issuer,
        http,
        ttl=settings.discovery_ttl,
        jwks_uri_override=settings.jwks_uri_override,
        hints=hints,
    )
    keys = KeyCache(lambda: discovery.metadata()["jwks_uri"], http, ttl=settings.jwks_ttl)
    verifier = TokenVerifier(
        discovery,
        keys,
        issuer=settings.issuer,
        client_id=settings.client_id,
        audience=settings.audience,
        leeway=settings.clock_tolerance,
        hints=hints,
    )
    client = TokenClient(discovery, http, settings.client_id, settings.client_secret)
    store = open_settings_store(settings)
    services = Services(
        settings=settings,
        http=http,
        discovery=discovery,
        keys=keys,
        verifier=verifier,
        token_client=client,
        store=store,
        refresher=None,  # type: ignore[arg-type]  # set just below: it needs the role rules
        policy=RolePolicy.load(settings.role_policy_path),
        keyer=Keyer((settings.session_secret, *settings.previous_secrets)),
    )
    services.refresher = Refresher(
        client,
        verifier,
        roles_of=services.roles_from,
        check_roles=services.check_roles,
        policy=RefreshPolicy(margin=settings.refresh_margin, record_ttl=settings.max_lifetime),
    )
    services.logout_tokens = LogoutTokenValidator(verifier, store, leeway=settings.clock_tolerance)
    services.index = SessionIndex(store, settings.session_secret)
    services.revoker = Revoker(discovery, client, enabled=settings.revoke_on_logout)
    return services
