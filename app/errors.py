"""The contract's error codes: what happened, what to do about it, and the HTTP status.

Every failure a user, admin or API client can see is an `AuthError` carrying one of these
codes. The protocol core raises them; the web layer renders them as JSON or as a page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    message: str
    hint: str


SPECS: dict[str, ErrorSpec] = {
    "LOGIN_REQUIRED": ErrorSpec(
        401,
        "You are not signed in, or your session has ended.",
        "Sign in again at /login.",
    ),
    "INVALID_STATE": ErrorSpec(
        400,
        "The login response does not belong to a login started here (missing, unknown or "
        "already used state).",
        "Start the login again from /login. If it keeps failing, check that DOMAIN_SERVER is the "
        "URL you browse (the session cookie must come back to the same host) and that cookies "
        "are not blocked.",
    ),
    "INVALID_NONCE": ErrorSpec(
        400,
        "The ID token's nonce does not match the one sent with this login.",
        "Start the login again. A persistent mismatch means the provider returns a cached or "
        "foreign ID token.",
    ),
    "INVALID_ISSUER": ErrorSpec(
        401,
        "The token or response comes from another issuer than the one configured.",
        "Set OPENID_ISSUER to exactly the provider's issuer (see its "
        "/.well-known/openid-configuration), and OPENID_PROVIDER to its preset.",
    ),
    "INVALID_AUDIENCE": ErrorSpec(
        401,
        "The token was not issued for this application (aud/azp).",
        "ID tokens must name OPENID_CLIENT_ID in aud; access tokens must carry OPENID_AUDIENCE. "
        "Check both variables against the application and API configured at the provider.",
    ),
    "INVALID_SIGNATURE": ErrorSpec(
        401,
        "The token's signature (or at_hash) does not verify against the provider's keys.",
        "Check that OPENID_ISSUER points at the provider that issued the token, and that the "
        "application signs tokens with an asymmetric key (RS256) published in its JWKS.",
    ),
    "UNSUPPORTED_ALGORITHM": ErrorSpec(
        401,
        "The token is signed with an algorithm that is not allowed.",
        "Only asymmetric algorithms the provider advertises are accepted (RS256, PS256, ES256, "
        "EdDSA ...); 'none' and HS256 are refused. Switch the application's signing algorithm "
        "to RS256 at the provider.",
    ),
    "TOKEN_EXPIRED": ErrorSpec(
        401,
        "The token has expired.",
        "Get a new token. If fresh tokens are reported expired, the clocks differ: sync this "
        "host's clock or raise OPENID_CLOCK_TOLERANCE.",
    ),
    "TOKEN_NOT_YET_VALID": ErrorSpec(
        401,
        "The token is not valid yet (iat or nbf in the future).",
        "This host's clock is behind the provider's: sync it (NTP) or raise "
        "OPENID_CLOCK_TOLERANCE.",
    ),
    "MISSING_SUB": ErrorSpec(
        401,
        "The token has no subject (sub).",
        "The provider must put the user's identifier in 'sub'; check the token's claims and "
        "any rule or action that rewrites them.",
    ),
    "OPAQUE_ACCESS_TOKEN": ErrorSpec(
        401,
        "The provider's access token is not a signed JWT (it is opaque or encrypted), so it "
        "cannot be verified here.",
        "Set OPENID_AUDIENCE to an API identifier so the provider issues JWT access tokens "
        "(Auth0: Dashboard → Applications → APIs, create an API, use its Identifier, and "
        "enable 'Allow Offline Access'); encrypted (JWE) access tokens must be turned off for "
        "that API. Or set OPENID_REUSE_TOKENS=false.",
    ),
    "MISSING_REFRESH_TOKEN": ErrorSpec(
        401,
        "The provider issued no refresh token, so the session could not be kept alive.",
        "Add offline_access to OPENID_SCOPE and allow offline access for the API at the "
        "provider (Auth0: Applications → APIs → your API → Settings → 'Allow Offline "
        "Access'; also enable the Refresh Token grant for the application).",
    ),
    "REFRESH_FAILED": ErrorSpec(
        401,
        "Your session could not be renewed with the provider and has ended.",
        "Sign in again. If this happens often, check the refresh-token lifetime and rotation "
        "settings at the provider.",
    ),
    "JWKS_FETCH_FAILED": ErrorSpec(
        503,
        "The provider's signing keys (JWKS) could not be fetched.",
        "Check that the provider is reachable from this server and that jwks_uri in its "
        "discovery document answers; then try again.",
    ),
    "DISCOVERY_FAILED": ErrorSpec(
        502,
        "The provider's discovery document could not be fetched or is not valid.",
        "Check OPENID_ISSUER (the URL whose /.well-known/openid-configuration answers) and "
        "that the provider is reachable from this server. Run `oidc-login check`.",
    ),
    "TOKEN_EXCHANGE_FAILED": ErrorSpec(
        400,
        "The provider refused to exchange the authorization code for tokens.",
        "Check OPENID_CLIENT_ID and OPENID_CLIENT_SECRET, that the callback URL "
        "(DOMAIN_SERVER + OPENID_CALLBACK_URL) is an allowed callback at the provider, and "
        "that the application allows the authorization-code grant.",
    ),
    "PROVIDER_ERROR": ErrorSpec(
        400,
        "The provider answered the login with an error.",
        "Read the provider's description above; check the application's settings and the "
        "user's access at the provider, then try again.",
    ),
    "ROLE_REQUIRED": ErrorSpec(
        403,
        "Your account does not have a role this application requires.",
        "Ask an administrator to give you one of the roles in OPENID_REQUIRED_ROLE, or check "
        "OPENID_REQUIRED_ROLE_TOKEN_KIND and OPENID_REQUIRED_ROLE_PARAMETER_PATH against the "
        "token's claims.",
    ),
    "INVALID_REQUEST": ErrorSpec(
        400,
        "The request is not valid here.",
        "Check the method, the parameters and the settings this endpoint needs.",
    ),
    "STORE_UNAVAILABLE": ErrorSpec(
        503,
        "The session store cannot be reached just now; your session is kept.",
        "Try again in a few seconds. Admins: check that Redis (REDIS_URI) is up and reachable, "
        "or, with the file store, that the instance folder (INSTANCE_PATH) is writable and its "
        "disk is not full.",
    ),
}


class AuthError(Exception):
    """A failure with a contract error code; safe to show (never contains a token)."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        hint: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
        ends_session: bool = False,
    ) -> None:
        if code not in SPECS:
            raise ValueError(f"unknown error code {code}")
        spec = SPECS[code]
        self.code = code
        self.detail = detail
        self.message = spec.message if not detail else f"{spec.message} {detail}"
        self.hint = hint or spec.hint
        self.status = status or spec.status
        #: Seconds for the Retry-After header of a 503 (the client may try again then).
        self.retry_after = retry_after
        #: The failure ended the user's session (a page then goes to /login?error=CODE).
        self.ends_session = ends_session
        super().__init__(f"{code}: {self.message}")

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint}}


def error_for_code(code: str) -> AuthError:
    """An AuthError for a code received from elsewhere (e.g. `/login?error=`); unknown codes
    become INVALID_REQUEST so a crafted URL cannot show arbitrary text."""
    return AuthError(code if code in SPECS else "INVALID_REQUEST")
