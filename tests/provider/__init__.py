"""A controllable OpenID provider for the test-suite.

    from tests.provider import TestProvider, ProviderConfig

    with TestProvider(client_id="test-client", client_secret="test-secret") as p:
        p.config.id_token_alg = "ES256"          # change behaviour at any time
        requests.get(p.url("/.well-known/openid-configuration"))
        p.calls["discovery"]                     # -> 1

Modules:
  server.py  ``TestProvider``: the HTTP server (werkzeug, background thread) and its routes
  keys.py    signing keys (shared per process) and JWS/JWE minting with joserfc
  state.py   ``ProviderConfig`` (the knobs) and ``ProviderState`` (counters, codes,
             refresh-token families)

Endpoints live under the issuer (``base_url + config.issuer_suffix``):
``/.well-known/openid-configuration``, ``/jwks``, ``/authorize``, ``/token``,
``/userinfo``, ``/logout``, ``/revoke``. Endpoint names (for ``calls``, ``fail``, ``delay``):
discovery, jwks, authorize, token, userinfo, end_session, revocation (``/revoke``, RFC 7009).

Beyond the basic API: ``p.base_url``, ``p.discovery_url``, ``p.running``,
``p.end_session_requests``, ``p.userinfo_requests``, ``p.decode(token)`` (unverified
header/claims), ``p.keys``/``p.state`` (internals), and config fields
``access_token_alg`` (None => id_token_alg if asymmetric, else RS256),
``access_token_sign_with``, ``access_token_header``, ``code_ttl``, ``redirect_uris``
(None => any http(s) URL), ``require_client_auth``, ``rejected_scopes`` (answered with
``invalid_scope``), ``userinfo_claims`` (overrides of the /userinfo answer) and
``refresh_tokens="access_type_offline"`` (Google).

``presets.py`` dresses the provider up as Entra ID, Keycloak, Cognito or Google (issuer
forms, tenant templates, Graph-style tokens, ``client_id``/``token_use``, ``realm_access``,
opaque tokens, group overage, roles only in userinfo).
"""

from .server import TestProvider
from .state import DEFAULT_USER, ProviderConfig

__all__ = ["TestProvider", "ProviderConfig", "DEFAULT_USER"]
