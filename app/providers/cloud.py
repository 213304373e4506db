"""Presets for Microsoft Entra ID, Keycloak, Amazon Cognito and Google: what the admin pastes
becomes the issuer, plus each one's token shapes, role claim, logout and hints naming its
own screens. Each quirk is a field of `Preset` (see preset.py), read where it applies."""

from __future__ import annotations

from .preset import Preset

_ENTRA_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
GRAPH_AUDIENCES = (
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
)

ENTRA = Preset(
    name="entra",
    label="Continue with Microsoft",
    trailing_slash="bare",
    issuer_help="https://login.microsoftonline.com/{tenant}/v2.0, or just the Directory (tenant) "
    "ID from Azure portal → Microsoft Entra ID → App registrations → your app → Overview "
    "(common or organizations for multi-tenant apps)",
    paste_forms=(
        # the issuer, the discovery URL, an /oauth2/v2.0/authorize URL, the v1 issuer
        (r"(?i)(?:https?://)?login\.microsoftonline\.com/(?P<tenant>[^/?#]+)(?:[/?#].*)?", _ENTRA_ISSUER),
        (r"(?i)(?:https?://)?sts\.windows\.net/(?P<tenant>[^/?#]+)/?", _ENTRA_ISSUER),
        # a bare tenant: GUID, common/organizations/consumers, or *.onmicrosoft.com
        (r"(?i)(?P<tenant>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
         r"|common|organizations|consumers|[a-z0-9-]+\.onmicrosoft\.com)", _ENTRA_ISSUER),
    ),
    multi_tenant_segments=("common", "organizations"),
    overage_claims=("_claim_names", "hasgroups"),
    overage_hint="This user is in too many groups for Entra ID to list them in the token "
    "(group overage: the token carries _claim_names or hasgroups instead of groups), so "
    "OPENID_REQUIRED_ROLE cannot be matched against groups. Use app roles instead: App "
    "registrations → your app → App roles, assign them (to users or to those groups) in "
    "Enterprise applications → your app → Users and groups, and set "
    "OPENID_REQUIRED_ROLE_PARAMETER_PATH=roles.",
    foreign_audiences=GRAPH_AUDIENCES,
    foreign_header_nonce=True,
    foreign_hint="This access token is for Microsoft Graph (its aud is Graph's and its header "
    "carries a nonce): only Graph can verify it, so it cannot be reused as the session. Expose "
    "an API for this app (Azure portal → App registrations → your app → Expose an API → Add a "
    "scope), add that scope (api://<client-id>/<scope>) to OPENID_SCOPE, set "
    "\"accessTokenAcceptedVersion\": 2 in the app's Manifest and OPENID_AUDIENCE to the "
    "Application (client) ID; or set OPENID_REUSE_TOKENS=false.",
    hints={
        "INVALID_ISSUER": "Entra ID issuers are https://login.microsoftonline.com/{tenant}/v2.0: "
        "paste the Directory (tenant) ID from App registrations → your app → Overview into "
        "OPENID_ISSUER. Access tokens with iss https://sts.windows.net/… are v1 tokens: set "
        "\"accessTokenAcceptedVersion\": 2 in App registrations → your app → Manifest. With a "
        "multi-tenant issuer (common, organizations) the user's tenant id must be in "
        "OPENID_ALLOWED_TENANTS when that is set.",
        "INVALID_AUDIENCE": "ID tokens carry the Application (client) ID (App registrations → "
        "your app → Overview): compare OPENID_CLIENT_ID. Access tokens for your own API carry "
        "its client id (accessTokenAcceptedVersion 2) or its Application ID URI (Expose an "
        "API): set OPENID_AUDIENCE to that value.",
        "OPAQUE_ACCESS_TOKEN": "Entra ID issues verifiable access tokens only for an API of your "
        "own: App registrations → your app → Expose an API → Add a scope, put "
        "api://<client-id>/<scope> in OPENID_SCOPE and set OPENID_AUDIENCE to the client id "
        "(with \"accessTokenAcceptedVersion\": 2 in the Manifest). Or set OPENID_REUSE_TOKENS=false.",
        "MISSING_REFRESH_TOKEN": "Add offline_access to OPENID_SCOPE: Entra ID issues refresh "
        "tokens only when it is asked for.",
        "TOKEN_EXCHANGE_FAILED": "Use the client secret's Value (not its Secret ID) from App "
        "registrations → your app → Certificates & secrets, and list DOMAIN_SERVER + "
        "OPENID_CALLBACK_URL as a Web redirect URI under Authentication.",
        "ROLE_REQUIRED": "Define app roles in App registrations → your app → App roles and "
        "assign users or groups to them in Enterprise applications → your app → Users and "
        "groups: they arrive in the roles claim. Groups (OPENID_REQUIRED_ROLE_PARAMETER_PATH="
        "groups) arrive as object ids, and not at all for users in too many groups.",
    },
)

KEYCLOAK = Preset(
    name="keycloak",
    label="Continue with Keycloak",
    trailing_slash="bare",
    issuer_help="your realm URL, e.g. https://sso.example.com/realms/myrealm (Realm settings → "
    "General → Endpoints → OpenID Endpoint Configuration)",
    paste_forms=(
        # the realm URL, or anything below it (an endpoint, the account console)
        (r"(?i)(?P<base>(?:https?://)?[^/]+(?:/[^/]+)*?/realms/[^/?#]+)(?:[/?#].*)?", "{base}"),
        # the admin console's address of a realm
        (r"(?i)(?P<host>(?:https?://)?[^/]+)(?P<path>(?:/[^/]+)*?)/admin/[^/]+/console/?#/(?P<realm>[^/?#]+).*",
         "{host}{path}/realms/{realm}"),
    ),
    wrong_forms=(
        (r"(?i)^(?!.*/realms/).*$", "is not a Keycloak realm URL: Keycloak issuers are "
         "https://{host}/realms/{realm} (https://{host}/auth/realms/{realm} before Keycloak 17)."),
    ),
    role_path="realm_access.roles",
    hints={
        "INVALID_ISSUER": "Keycloak issuers are https://{host}/realms/{realm} (/auth/realms/… "
        "before Keycloak 17): copy the issuer from Realm settings → General → Endpoints → "
        "OpenID Endpoint Configuration. A Frontend URL or hostname setting changes it.",
        "INVALID_AUDIENCE": "Keycloak access tokens carry aud 'account' unless an audience "
        "mapper adds yours: Clients → your client → Client scopes → <client>-dedicated → "
        "Add mapper → By configuration → Audience, with 'Included Client Audience' set to "
        "OPENID_CLIENT_ID (or the client named in OPENID_AUDIENCE) and 'Add to access token' on.",
        "OPAQUE_ACCESS_TOKEN": "Keycloak's access tokens are JWTs unless the client uses "
        "lightweight or encrypted access tokens: check Clients → your client → Advanced.",
        "MISSING_REFRESH_TOKEN": "Turn on 'Use refresh tokens' in Clients → your client → "
        "Advanced → OpenID Connect Compatibility Modes, and keep offline_access in OPENID_SCOPE "
        "(the user needs the offline_access realm role).",
        "TOKEN_EXCHANGE_FAILED": "With Client authentication on (Clients → your client → "
        "Settings), set OPENID_CLIENT_SECRET from the Credentials tab; the callback URL must "
        "be in Valid redirect URIs.",
        "ROLE_REQUIRED": "Assign the realm role in Users → the user → Role mapping; realm roles "
        "are in realm_access.roles (client roles: OPENID_REQUIRED_ROLE_PARAMETER_PATH="
        "resource_access.<client-id>.roles). The realm roles mapper (Client scopes → roles → "
        "Mappers) adds them to access tokens only: turn 'Add to ID token' on, or set "
        "OPENID_REQUIRED_ROLE_TOKEN_KIND=access.",
    },
)

COGNITO = Preset(
    name="cognito",
    label="Continue with Cognito",
    trailing_slash="bare",
    issuer_help="https://cognito-idp.{region}.amazonaws.com/{userPoolId}, or just the User pool ID "
    "(e.g. eu-west-1_AbCdEf123) from Amazon Cognito → User pools → your pool → Overview",
    paste_forms=(
        (r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)_(?P<pool>[A-Za-z0-9]+)",
         "https://cognito-idp.{region}.amazonaws.com/{region}_{pool}"),
    ),
    wrong_forms=(
        (r"(?i)^(?:https?://)?[^/]+\.auth\.[a-z0-9-]+\.amazoncognito\.com(?:/.*)?$",
         "is the Cognito hosted-UI domain, not the issuer: set OPENID_ISSUER to the User pool ID "
         "(e.g. eu-west-1_AbCdEf123) or https://cognito-idp.{region}.amazonaws.com/{userPoolId}."),
    ),
    role_path="cognito:groups",
    access_client_claim="client_id",
    token_use_claim="token_use",
    refresh_by="always",
    logout_path="/logout",
    logout_params=(("client_id", "client_id"), ("logout_uri", "post_logout_redirect_uri")),
    hints={
        "INVALID_ISSUER": "Cognito issuers are https://cognito-idp.{region}.amazonaws.com/"
        "{userPoolId}: paste the User pool ID from Amazon Cognito → User pools → your pool → "
        "Overview (e.g. eu-west-1_AbCdEf123) into OPENID_ISSUER; the region is its prefix.",
        "INVALID_AUDIENCE": "Cognito ID tokens carry the app client's ID in aud, access tokens in "
        "client_id, and each says what it is in token_use: set OPENID_CLIENT_ID to the Client ID "
        "under User pools → your pool → App integration → App clients, and leave "
        "OPENID_AUDIENCE unset (Cognito access tokens have no aud).",
        "MISSING_REFRESH_TOKEN": "Cognito returns refresh tokens with the code grant when the app "
        "client allows them: App clients → your client → Authentication flows "
        "(ALLOW_REFRESH_TOKEN_AUTH). offline_access is never sent to Cognito, which rejects it.",
        "TOKEN_EXCHANGE_FAILED": "An app client created with a secret needs OPENID_CLIENT_SECRET "
        "(App clients → your client → Client secret); the callback URL must be in the app "
        "client's Login pages → Allowed callback URLs.",
        "ROLE_REQUIRED": "Add the user to a group in User pools → your pool → Groups: groups "
        "arrive in cognito:groups, in ID and access tokens.",
    },
)

GOOGLE = Preset(
    name="google",
    label="Continue with Google",
    trailing_slash="bare",
    keep_path=False,
    issuer_template="https://accounts.google.com",
    issuer_help="https://accounts.google.com (or leave OPENID_ISSUER unset)",
    issuer_aliases=("accounts.google.com",),
    reuse_refused="Google's access tokens are opaque: nobody but Google can verify them, so they "
    "cannot be reused as the session. Set OPENID_REUSE_TOKENS=false (the session is then this "
    "server's own, which is all a login needs).",
    refresh_by="params",
    offline_params=(("access_type", "offline"), ("prompt", "consent")),
    hints={
        "INVALID_ISSUER": "Google's issuer is https://accounts.google.com: set OPENID_ISSUER to "
        "exactly that (OPENID_PROVIDER=google does).",
        "INVALID_AUDIENCE": "Google ID tokens carry the OAuth client ID: compare OPENID_CLIENT_ID "
        "with Google Cloud console → APIs & Services → Credentials → OAuth 2.0 Client IDs.",
        "OPAQUE_ACCESS_TOKEN": "Google's access tokens are opaque and cannot be reused: set "
        "OPENID_REUSE_TOKENS=false.",
        "TOKEN_EXCHANGE_FAILED": "Check the client secret and that the callback URL is listed "
        "under Authorized redirect URIs in Google Cloud console → APIs & Services → "
        "Credentials → your OAuth client (type Web application).",
        "ROLE_REQUIRED": "Google puts no roles in its tokens: use OPENID_REQUIRED_ROLE_TOKEN_KIND="
        "userinfo with a claim your Workspace adds, or restrict sign-in on the OAuth consent "
        "screen (User type Internal: your Workspace only).",
    },
)

CLOUD_PRESETS: dict[str, Preset] = {p.name: p for p in (ENTRA, KEYCLOAK, COGNITO, GOOGLE)}
