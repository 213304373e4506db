"""The bundled development identity provider (loopback only) and ``oidc-login demo``.

A small OpenID Connect provider that behaves like Auth0 where it matters to a relying
party: discovery, JWKS with a stable RS256 key, a login form and an ``offline_access``
consent screen, code flow with PKCE S256 only, RFC 9207 ``iss`` in the authorization
response, opaque access tokens without an ``audience`` and ``at+jwt`` access tokens with
one, rotating refresh tokens with reuse detection, userinfo and RP-initiated logout.

Run it alone with ``python -m app.devidp --host 127.0.0.1 --port 3081``. It refuses any
address but loopback. Standalone it reads these environment variables (flags win):

``DEVIDP_HOST`` / ``DEVIDP_PORT``
    Where to listen; default ``127.0.0.1:3081``. Loopback only.
``DEVIDP_ISSUER``
    Issuer URL; default ``http://{host}:{port}`` (a trailing slash, Auth0-style, is kept).
``DEVIDP_INSTANCE_DIR``
    Folder for ``devidp/signing-key.json`` and ``devidp/session-secret`` (0600), created on
    first start; default ``./instance``.
``DEVIDP_CLIENT_ID`` / ``DEVIDP_CLIENT_SECRET``
    The one registered client; default ``oidc-login-dev`` / ``oidc-login-dev-secret``.
    ``DEVIDP_CLIENT_SECRET=`` (set but empty) registers a public client (auth method ``none``).
``DEVIDP_REDIRECT_URIS``
    Comma list, matched exactly; default ``http://localhost:3080/oauth/openid/callback`` and
    its ``127.0.0.1`` form.
``DEVIDP_POST_LOGOUT_REDIRECT_URIS``
    Comma list; default ``http://localhost:3080/login`` and its ``127.0.0.1`` form.
``DEVIDP_USERS``
    Comma list of ``user:password:Name:email:role1|role2`` (only user and password are
    required). Default: ``demo:demo:Demo User:demo@example.com:user|admin``. The first user
    is shown on the login page.
``DEVIDP_ACCESS_TOKEN_TTL`` / ``DEVIDP_ID_TOKEN_TTL`` / ``DEVIDP_REFRESH_TOKEN_TTL`` / ``DEVIDP_CODE_TTL``
    Lifetimes in seconds; defaults 300 / 300 / 86400 / 60.
``DEVIDP_BACKCHANNEL_LOGOUT_URI``
    Where logout tokens go when a user signs out here or is disabled at ``/admin``.

Token state (codes, sessions, refresh families) lives in memory: a restart signs everyone
out of the provider, but the signing key survives it.
"""

from .config import ConfigError, NonLoopbackError, is_loopback_host
from .server import create_devidp, make_devidp_server

__all__ = ["ConfigError", "NonLoopbackError", "create_devidp", "is_loopback_host", "make_devidp_server"]
