"""The shape of one provider preset: plain data that the settings, the token verifier, the
login flow and `oidc-login check` read. A provider's quirks are fields here, not code paths."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    #: "slash": issuer always ends with "/" (Auth0); "bare": never ends with "/" (Okta's org
    #: and custom authorization servers, WorkOS); "as_given": exactly what the admin wrote
    #: (after cleanup).
    trailing_slash: str = "as_given"
    #: False when the issuer is always the bare domain (Auth0: a pasted path such as
    #: /api/v2/ or /authorize is dropped); True keeps the path (Okta's /oauth2/default).
    keep_path: bool = True
    #: When set, the issuer is built from the client id (WorkOS) unless OPENID_ISSUER is set.
    issuer_template: str | None = None
    #: When set, the JWKS URL is built from the client id instead of read from discovery.
    jwks_template: str | None = None
    #: Per error code, a hint naming the provider's own screens.
    hints: dict[str, str] = field(default_factory=dict)
    #: Where the admin finds the issuer, for the settings error message.
    issuer_help: str = "the provider's issuer URL"
    #: True when the provider issues verifiable (JWT) access tokens only for a named API, so
    #: OPENID_REUSE_TOKENS without OPENID_AUDIENCE cannot work (Auth0); `check` FAILs on it.
    jwt_access_needs_audience: bool = False

    # -- what the admin pastes ---------------------------------------------------------------
    #: (regex, template) pairs tried in order on the pasted value (whitespace and quotes
    #: trimmed, case kept): the first full match becomes the issuer, its named groups filled
    #: in (Entra's tenant id, Cognito's user-pool id, Keycloak's realm URL).
    paste_forms: tuple[tuple[str, str], ...] = ()
    #: (regex, message) pairs: pasted values that are a known wrong thing (Cognito's hosted-UI
    #: domain, a Keycloak URL without its realm): a settings error with that message.
    wrong_forms: tuple[tuple[str, str], ...] = ()
    #: Issuer path segments that mean "any tenant" (Entra's common / organizations): the
    #: discovery document's and each token's issuer is then a template, filled per token.
    multi_tenant_segments: tuple[str, ...] = ()
    #: The placeholder in a multi-tenant issuer, and the claim that fills it.
    tenant_placeholder: str = "{tenantid}"
    tenant_claim: str = "tid"
    #: Other `iss` values the provider's tokens may carry for the same issuer (Google's ID
    #: tokens say `accounts.google.com` as often as `https://accounts.google.com`).
    issuer_aliases: tuple[str, ...] = ()

    # -- roles ----------------------------------------------------------------------------------
    #: Default OPENID_REQUIRED_ROLE_PARAMETER_PATH and OPENID_ADMIN_ROLE_PARAMETER_PATH.
    role_path: str = "roles"
    #: Claims that say the groups did not fit in the token (Entra's group overage).
    overage_claims: tuple[str, ...] = ()
    #: The ROLE_REQUIRED hint when those claims are there.
    overage_hint: str | None = None

    # -- tokens -----------------------------------------------------------------------------
    #: Access tokens that name the client in this claim instead of `aud` (Cognito).
    access_client_claim: str | None = None
    #: A claim that says which kind a token is, and its values for ID and access tokens
    #: (Cognito's token_use).
    token_use_claim: str | None = None
    token_use_values: tuple[str, str] = ("id", "access")
    #: Access tokens meant for another API that only it can verify (Microsoft Graph): their
    #: `aud` values, whether a `nonce` in the header marks them, and what to do instead.
    foreign_audiences: tuple[str, ...] = ()
    foreign_header_nonce: bool = False
    foreign_hint: str | None = None
    #: When set, OPENID_REUSE_TOKENS is refused at start (and by check) with this reason
    #: (Google's access tokens are opaque).
    reuse_refused: str | None = None

    # -- refresh tokens ------------------------------------------------------------------------
    #: "scope": refresh tokens come with the offline_access scope (the standard);
    #: "params": offline_access is rejected, `offline_params` are sent instead (Google);
    #: "always": the provider issues them without asking, offline_access is not sent (Cognito).
    refresh_by: str = "scope"
    offline_params: tuple[tuple[str, str], ...] = ()

    # -- logout --------------------------------------------------------------------------------
    #: A logout URL on the authorization endpoint's origin instead of discovery's
    #: end_session_endpoint (Cognito's hosted UI), and its query: name -> "client_id" or
    #: "post_logout_redirect_uri".
    logout_path: str | None = None
    logout_params: tuple[tuple[str, str], ...] = ()
