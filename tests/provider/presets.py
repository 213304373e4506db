"""Make the test provider look like Entra ID, Keycloak, Cognito or Google: their issuer
forms and token shapes, as documented by each vendor (see the README's provider sections).

Each function turns knobs of ``TestProvider.config`` and ``user`` and returns the settings
(environment) our server needs for that preset; tests add their own on top.
"""

from __future__ import annotations

from typing import Any

from .server import TestProvider

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0b0e3c4d-1111-2222-3333-444455556666"
GRAPH_AUD = "00000003-0000-0000-c000-000000000000"
POOL = "eu-west-1_AbCdEf123"


def entra(p: TestProvider, *, tenant: str = TENANT, multi: str | None = None) -> dict[str, str]:
    """Entra ID v2.0: issuer .../{tenant}/v2.0 and a `tid` claim in every token. With `multi`
    ("common" or "organizations") the issuer is that path, discovery announces the
    `{tenantid}` template and each token's `iss` is filled with its own tid. Entra sends no
    RFC 9207 `iss` parameter."""
    cfg = p.config
    cfg.issuer_suffix = f"/{multi or tenant}/v2.0"
    cfg.iss_param = False
    cfg.advertise_iss_param = False
    token_iss = f"{p.base_url}/{tenant}/v2.0"
    if multi:
        cfg.discovery_overrides = {"issuer": f"{p.base_url}/{{tenantid}}/v2.0"}
    cfg.id_token_claims = {"iss": token_iss, "tid": tenant, "ver": "2.0"}
    cfg.access_token_claims = {"iss": token_iss, "tid": tenant, "ver": "2.0"}
    p.user = {**p.user, "preferred_username": "ada@contoso.example", "email": None}
    return {"OPENID_PROVIDER": "entra", "OPENID_ISSUER": p.issuer}


def entra_graph_access_tokens(p: TestProvider) -> None:
    """Access tokens for Microsoft Graph: aud is Graph's, the header carries a nonce (so the
    signature never verifies for anyone but Graph)."""
    p.config.access_token_claims = {**p.config.access_token_claims, "aud": GRAPH_AUD}
    p.config.access_token_header = {"nonce": "graph-nonce-value"}
    p.config.access_token_sign_with = "wrong"


def entra_group_overage(p: TestProvider) -> None:
    """A user in too many groups: no `groups` claim, `_claim_names`/`_claim_sources` instead."""
    overage = {
        "groups": None,
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}},
    }
    p.config.id_token_claims = {**p.config.id_token_claims, **overage}


def keycloak(p: TestProvider, *, realm: str = "acme", audience_mapper: bool = False) -> dict[str, str]:
    """Keycloak: issuer {host}/realms/{realm}; realm roles in `realm_access.roles` of the
    access token only (the default realm-roles mapper); access tokens' aud is `account`
    unless an audience mapper adds the client."""
    cfg = p.config
    cfg.issuer_suffix = f"/realms/{realm}"
    p.user = {**p.user, "roles": None, "realm_access": {"roles": ["chat-user", "offline_access"]},
              "preferred_username": "ada"}
    cfg.id_token_claims = {"realm_access": None, "typ": "ID", "azp": p.client_id}
    cfg.access_token_claims = {"aud": [p.client_id, "account"] if audience_mapper else "account",
                               "typ": "Bearer", "azp": p.client_id}
    return {"OPENID_PROVIDER": "keycloak", "OPENID_ISSUER": p.issuer}


def cognito(p: TestProvider, *, pool: str = POOL) -> dict[str, str]:
    """Cognito: issuer https://cognito-idp.{region}.amazonaws.com/{pool}; groups in
    `cognito:groups`; ID tokens say token_use=id; access tokens have no aud but client_id and
    token_use=access; refresh tokens always, offline_access rejected; no end_session_endpoint
    (the hosted UI's /logout instead)."""
    cfg = p.config
    cfg.issuer_suffix = f"/{pool}"
    cfg.iss_param = False
    cfg.advertise_iss_param = False
    cfg.refresh_tokens = "always"
    cfg.rejected_scopes = ["offline_access"]
    cfg.scopes_supported = ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"]
    cfg.discovery_overrides = {"end_session_endpoint": None}
    p.user = {**p.user, "roles": None, "cognito:groups": ["chat-users"], "cognito:username": "ada"}
    cfg.id_token_claims = {"token_use": "id"}
    cfg.access_token_claims = {"aud": None, "azp": None, "client_id": p.client_id, "token_use": "access",
                               "username": "ada"}
    return {"OPENID_PROVIDER": "cognito", "OPENID_ISSUER": p.issuer}


def google(p: TestProvider) -> dict[str, str]:
    """Google: issuer https://accounts.google.com (the provider's bare origin here), opaque
    access tokens, refresh tokens only with access_type=offline, offline_access rejected."""
    cfg = p.config
    cfg.issuer_suffix = ""
    cfg.access_token_format = "opaque"
    cfg.refresh_tokens = "access_type_offline"
    cfg.rejected_scopes = ["offline_access"]
    cfg.iss_param = False
    cfg.advertise_iss_param = False
    cfg.scopes_supported = ["openid", "email", "profile"]
    p.user = {**p.user, "roles": None, "email_verified": True, "hd": "example.com"}
    return {"OPENID_PROVIDER": "google", "OPENID_ISSUER": p.issuer}


def roles_only_in_userinfo(p: TestProvider, roles: Any) -> None:
    """Roles that reach neither token, only the userinfo answer."""
    p.user = {**p.user, "roles": None}
    p.config.userinfo_claims = {"roles": roles}
