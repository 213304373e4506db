"""Wires the protocol core together from Settings. No Flask here: the CLI's `check` and the
benchmarks build the same objects the web app uses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import AuthError
from .oidc.client import TokenClient
from .oidc.discovery import Discovery
from .oidc.identity import ClaimNames, Entitlements, RoleRule, profile
from .oidc.http import ProviderHttp
from .oidc.keys import KeyCache
from .oidc.login import LoginRules
from .oidc.logout import LogoutTokenValidator, Revoker
from .oidc.refresh import Refresher, RefreshPolicy
from .oidc.roles import RolePolicy
from .oidc.quirks import TokenQuirks
from .oidc.tokens import TokenVerifier
from .oidc.userinfo import UserinfoClient
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
    entitlements: Entitlements  # required roles and admin, at login and at every refresh
    # Logout everywhere: back-channel logout tokens, the sid/sub -> sessions index, revocation.
    logout_tokens: LogoutTokenValidator = None  # type: ignore[assignment]  # set in build_services
    index: SessionIndex = None  # type: ignore[assignment]
    revoker: Revoker = None  # type: ignore[assignment]

    @property
    def login_rules(self) -> LoginRules:
        """What the callback logic needs to know of the settings."""
        return LoginRules(
            issuer=self.settings.issuer,
            reuse_tokens=self.settings.reuse_tokens,
            role_token_kind=self.settings.role_token_kind,
            hints=self.settings.provider.hints,
            needs_access_claims=self.entitlements.needs_access_claims,
            claim_names=claim_names(self.settings),
        )

    def profile(self, claims: dict[str, Any]) -> dict[str, Any]:
        """The user's sub, iss, email, name, username and picture under the claim settings."""
        return profile(claims, claim_names(self.settings))

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
        expected_issuer=settings.token_issuer_template,  # multi-tenant Entra: the {tenantid} template
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
        quirks=token_quirks(settings),
    )
    client = TokenClient(discovery, http, settings.client_id, settings.client_secret)
    store = open_settings_store(settings)
    services = Services(
        entitlements=build_entitlements(settings, UserinfoClient(discovery, http)),
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
        assess=services.entitlements.at_refresh,
        policy=RefreshPolicy(margin=settings.refresh_margin, record_ttl=settings.max_lifetime),
    )
    services.logout_tokens = LogoutTokenValidator(verifier, store, leeway=settings.clock_tolerance)
    services.index = SessionIndex(store, settings.session_secret)
    services.revoker = Revoker(discovery, client, enabled=settings.revoke_on_logout)
    return services


# -- provider presets and LibreChat's claim settings (issue 13) ---------------------------------


def claim_names(settings: Settings) -> ClaimNames:
    return ClaimNames(username=settings.username_claim, name=settings.name_claim, email=settings.email_claim)


def token_quirks(settings: Settings) -> TokenQuirks:
    """The preset's token rules, for the verifier."""
    preset = settings.provider
    return TokenQuirks(
        issuer_template=settings.token_issuer_template,
        placeholder=preset.tenant_placeholder,
        tenant_claim=preset.tenant_claim,
        allowed_tenants=frozenset(settings.allowed_tenants),
        issuer_aliases=preset.issuer_aliases,
        access_client_claim=preset.access_client_claim,
        token_use_claim=preset.token_use_claim,
        token_use_values=preset.token_use_values,
        foreign_audiences=frozenset(preset.foreign_audiences),
        foreign_header_nonce=preset.foreign_header_nonce,
        foreign_hint=preset.foreign_hint,
    )


def build_entitlements(settings: Settings, userinfo: UserinfoClient) -> Entitlements:
    preset = settings.provider
    return Entitlements(
        required=settings.required_roles,
        required_rule=RoleRule(settings.role_token_kind, settings.role_path),
        admin_roles=settings.admin_roles,
        admin_rule=RoleRule(settings.admin_token_kind, settings.admin_role_path),
        userinfo=userinfo.fetch,
        role_hint=preset.hints.get("ROLE_REQUIRED"),
        overage_claims=preset.overage_claims,
        overage_hint=preset.overage_hint,
    )
