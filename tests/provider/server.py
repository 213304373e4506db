"""The controllable test OpenID provider: a real HTTP server on 127.0.0.1 in a thread.

Routes (all under the issuer): discovery, JWKS, authorize (no UI: redirects straight back
with a code), token (authorization_code + refresh_token with rotation and reuse
detection), userinfo and end-session. Behaviour is driven by ``TestProvider.config``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from . import keys as K
from .state import DEFAULT_USER, AuthCode, ProviderConfig, ProviderState

#: path below the issuer -> endpoint name
ROUTES = {
    "/.well-known/openid-configuration": "discovery",
    "/jwks": "jwks",
    "/authorize": "authorize",
    "/token": "token",
    "/userinfo": "userinfo",
    "/logout": "end_session",
    "/revoke": "revocation",
}

#: user claims that stay out of access tokens (profile data belongs in the ID token)
_PROFILE_CLAIMS = frozenset({
    "email", "email_verified", "name", "given_name", "family_name", "middle_name",
    "nickname", "preferred_username", "picture", "profile", "website", "locale",
    "zoneinfo", "updated_at", "phone_number", "phone_number_verified", "address",
    "gender", "birthdate",
})


class _Handler(WSGIRequestHandler):
    """Request handler: HTTP/1.0 (one request per connection), quiet, and able to go "down"."""

    protocol_version = "HTTP/1.0"  # no keep-alive: stop()/down take effect at once

    def handle(self) -> None:
        provider: TestProvider = self.server.provider  # type: ignore[attr-defined]
        if provider.config.down:
            self._drop(provider)
            return
        super().handle()

    def _drop(self, provider: TestProvider) -> None:
        """Read the request (to count it), then close without answering."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if self.raw_requestline and self.parse_request():
                name = provider._endpoint_for(urlsplit(self.path).path)
                if name:
                    provider.state.hit(name)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
        except (OSError, ValueError):
            pass
        self.close_connection = True

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """No access log: tests run quietly."""

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)


class _Server(ThreadedWSGIServer):
    """Threaded WSGI server with a deep accept backlog (race tests open 50+ connections)."""

    request_queue_size = 256
    provider: TestProvider


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, mimetype="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _oauth_error(error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
    return _json({"error": error, "error_description": description}, status, headers)


def _page(title: str, text: str, status: int = 200) -> Response:
    body = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    return Response(body, status=status, mimetype="text/html")


def _with_query(url: str, params: dict[str, Any]) -> str:
    """``url`` with ``params`` (None values skipped) appended to its query string."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TestProvider:
    """A real OpenID provider on 127.0.0.1 whose behaviour tests control at run time.

    ``client_secret=None`` makes the (single) registered client public.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        client_id: str = "test-client",
        client_secret: str | None = "test-secret",
        *,
        config: ProviderConfig | None = None,
        user: dict[str, Any] | None = None,
        tls: Any = None,
    ) -> None:
        self.tls = tls  # an ssl.SSLContext: serve https (a certificate for 127.0.0.1)
        self.client_id = client_id
        self.client_secret = client_secret
        self.config: ProviderConfig = config or ProviderConfig()
        self.user: dict[str, Any] = dict(user or DEFAULT_USER)
        self.keys = K.KeySet()
        self.state = ProviderState()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._lifecycle = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> TestProvider:
        """Serve in a background thread; after a ``stop()`` this reuses the same port."""
        with self._lifecycle:
            if self._server is not None:
                return self
            try:
                server = _Server("127.0.0.1", self._port or 0, self._wsgi, _Handler, ssl_context=self.tls)
            except SystemExit as exc:  # werkzeug exits when the bind fails
                raise OSError(f"test provider cannot bind 127.0.0.1:{self._port or 0}") from exc
            server.provider = self
            self._port = server.socket.getsockname()[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"test-provider-{self._port}", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (the port is kept for a restart)."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> TestProvider:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def reset(self) -> None:
        """Default config, default user, the shared default keys, zeroed counters."""
        self.config = ProviderConfig()
        self.user = dict(DEFAULT_USER)
        self.keys.reset()
        self.state.reset()

    # -- addresses ------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("TestProvider not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``tls``; no path, no trailing slash)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        """Base URL + ``config.issuer_suffix``."""
        return self.base_url + self.config.issuer_suffix

    def url(self, path: str = "") -> str:
        """Absolute URL of ``path`` below the issuer, e.g. ``url("/token")``."""
        return self.issuer.rstrip("/") + path

    @property
    def discovery_url(self) -> str:
        return self.url("/.well-known/openid-configuration")

    def _endpoint_for(self, path: str) -> str | None:
        prefix = urlsplit(self.issuer).path.rstrip("/")
        if not path.startswith(prefix + "/"):
            return None
        return ROUTES.get(path[len(prefix):])

    # -- recorded state (views on self.state) --------------------------------------------

    @property
    def calls(self):  # noqa: ANN201 - Counter[str]
        return self.state.calls

    @property
    def grants(self):  # noqa: ANN201 - Counter[str]
        return self.state.grants

    @property
    def authorize_requests(self) -> list[dict[str, Any]]:
        return self.state.authorize_requests

    @property
    def token_requests(self) -> list[dict[str, Any]]:
        return self.state.token_requests

    @property
    def end_session_requests(self) -> list[dict[str, Any]]:
        return self.state.end_session_requests

    @property
    def userinfo_requests(self) -> list[dict[str, Any]]:
        return self.state.userinfo_requests

    @property
    def revoked_families(self) -> int:
        return self.state.revoked_families

    # -- keys -------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The public JWKS currently served."""
        return self.keys.jwks()

    def rotate_keys(self) -> None:
        """Fresh signing key(s) with new kids; the old ones leave the JWKS."""
        self.keys.rotate()

    def add_key(self, kind: str = "RSA") -> dict[str, Any]:
        """Publish an extra key ("RSA", "EC", "OKP"); returns its public JWK."""
        return K.public_jwk(self.keys.add(kind))

    # -- minting ----------------------------------------------------------------------

    def mint(self, claims: dict[str, Any], header: dict[str, Any] | None = None, key: str = "good") -> str:
        """Sign arbitrary ``claims``. Alg: ``header["alg"]``, else HS256 for
        ``key="hmac_public"``, else ``config.id_token_alg``."""
        alg = (header or {}).get("alg") or ("HS256" if key == "hmac_public" else self.config.id_token_alg)
        return K.sign(self.keys, claims, alg, header, key)

    def mint_id_token(self, **overrides: Any) -> str:
        """A valid ID token for ``self.user`` (config overrides applied, then ``overrides``)."""
        return self._id_token(dict(self.user), nonce=None, access_token=None, extra=overrides)

    def mint_access_token(self, **overrides: Any) -> str:
        """A valid JWT access token (``aud`` = default_audience or client_id), whatever
        ``config.access_token_format`` says. Known to /userinfo."""
        return self._access_token(dict(self.user), "openid", None, fmt="jwt", extra=overrides)

    def mint_logout_token(self, header: dict[str, Any] | None = None, key: str = "good", **overrides: Any) -> str:
        """A valid back-channel logout token for ``self.user`` (typ logout+jwt, a fresh jti,
        the back-channel event); ``overrides`` set claims (None removes one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 120,
            "jti": secrets.token_urlsafe(16), "sub": self.user.get("sub"),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        }
        claims = {k: v for k, v in K.apply_overrides(claims, overrides).items() if v is not None}
        alg = (header or {}).get("alg") or ("HS256" if key == "hmac_public" else self.config.id_token_alg)
        return K.sign(self.keys, claims, alg, {"typ": "logout+jwt"} | (header or {}), key)

    @property
    def revocation_requests(self) -> list[dict[str, Any]]:
        return list(self.state.revocation_requests)

    def secrets_seen(self) -> set[str]:
        """Every code, verifier, refresh token, state, nonce and challenge of this run: what
        must never appear in a log."""
        found: set[str] = set()
        for request in self.token_requests:
            found.update(request[key] for key in ("code", "code_verifier", "refresh_token") if request.get(key))
        for request in self.authorize_requests:
            found.update(request[key] for key in ("state", "nonce", "code_challenge") if request.get(key))
        return found

    def issue_tokens(
        self, scope: str = "openid offline_access", audience: str | None = None, nonce: str | None = None
    ) -> dict[str, Any]:
        """A token-endpoint response minted directly; its refresh token is a live family."""
        refresh = None
        if self._wants_refresh(scope):
            refresh = self.state.new_family(self.client_id, scope, audience)
        return self._token_response(dict(self.user), scope, audience, nonce, with_id_token=True, refresh_token=refresh)

    @staticmethod
    def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(header, claims) of a JWS, unverified: for assertions in tests."""
        return K.decode_unverified(token)

    def _access_alg(self) -> str:
        cfg = self.config
        if cfg.access_token_alg:
            return cfg.access_token_alg
        return cfg.id_token_alg if cfg.id_token_alg in K.ASYMMETRIC_ALGS else "RS256"

    def _id_token(
        self, user: dict[str, Any], nonce: str | None, access_token: str | None, extra: dict[str, Any] | None = None
    ) -> str:
        cfg = self.config
        now = int(time.time()) + cfg.clock_skew
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": user.get("sub"), "aud": self.client_id,
            "iat": now, "exp": now + cfg.id_token_ttl, "auth_time": now,
        }
        if cfg.clock_skew:
            claims["nbf"] = now
        claims.update({k: v for k, v in user.items() if k != "sub"})
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None and cfg.include_at_hash:
            claims["at_hash"] = K.half_hash(access_token, cfg.id_token_alg)
        claims = K.apply_overrides(K.apply_overrides(claims, cfg.id_token_claims), extra)
        claims = {k: v for k, v in claims.items() if v is not None}
        return K.sign(self.keys, claims, cfg.id_token_alg, cfg.id_token_header, cfg.sign_with)

    def _access_token(
        self, user: dict[str, Any], scope: str, audience: str | None,
        fmt: str | None = None, extra: dict[str, Any] | None = None,
    ) -> str:
        cfg = self.config
        fmt = fmt or cfg.access_token_format
        now = int(time.time()) + cfg.clock_skew
        aud: Any = [audience, self.url("/userinfo")] if audience else (cfg.default_audience or self.client_id)
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": user.get("sub"), "aud": aud,
            "iat": now, "exp": now + cfg.access_token_ttl, "scope": scope,
            "client_id": self.client_id, "azp": self.client_id, "jti": secrets.token_hex(8),
        }
        if cfg.clock_skew:
            claims["nbf"] = now
        claims.update({k: v for k, v in user.items() if k != "sub" and k not in _PROFILE_CLAIMS})
        claims = K.apply_overrides(K.apply_overrides(claims, cfg.access_token_claims), extra)
        claims = {k: v for k, v in claims.items() if v is not None}
        if fmt == "opaque":
            token = K.opaque_token()
        elif fmt == "jwe":
            token = K.encrypt(claims)
        elif fmt == "jwt":
            token = K.sign(self.keys, claims, self._access_alg(), cfg.access_token_header, cfg.access_token_sign_with)
        else:
            raise ValueError(f"unknown access_token_format {fmt!r}")
        self.state.remember_access_token(token, user, now + cfg.access_token_ttl, scope)
        return token

    def _wants_refresh(self, scope: str, access_type: str | None = None) -> bool:
        mode = self.config.refresh_tokens
        if mode == "access_type_offline":
            return access_type == "offline"
        return mode == "always" or (mode == "offline_access" and "offline_access" in scope.split())

    def _token_response(
        self, user: dict[str, Any], scope: str, audience: str | None, nonce: str | None,
        *, with_id_token: bool, refresh_token: str | None,
    ) -> dict[str, Any]:
        access = self._access_token(user, scope, audience)
        body: dict[str, Any] = {
            "access_token": access, "token_type": "Bearer",
            "expires_in": self.config.access_token_ttl, "scope": scope,
        }
        if with_id_token and "openid" in scope.split():
            body["id_token"] = self._id_token(user, nonce, access)
        if refresh_token:
            body["refresh_token"] = refresh_token
        return body

    # -- HTTP ---------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._dispatch(request)(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        name = self._endpoint_for(request.path)
        if name is None:
            return _json({"error": "not_found"}, 404)
        self.state.hit(name)
        self._record(name, request)
        cfg = self.config
        delay = cfg.delay.get(name)
        if delay:
            time.sleep(delay)
        status = cfg.fail.get(name)
        if status:
            return _json({"error": "server_error"}, status)
        return getattr(self, f"_route_{name}")(request)

    def _record(self, name: str, request: Request) -> None:
        if name == "authorize":
            self.state.record(self.state.authorize_requests, request.values.to_dict())
        elif name == "token":
            params: dict[str, Any] = request.form.to_dict()
            params["auth"] = self._client_credentials(request)[0]
            self.state.record(self.state.token_requests, params)
            self.state.count_grant(params.get("grant_type", ""))
        elif name == "end_session":
            self.state.record(self.state.end_session_requests, request.values.to_dict())
        elif name == "userinfo":
            self.state.record(self.state.userinfo_requests, {"authorization": request.headers.get("Authorization")})

    def _route_discovery(self, request: Request) -> Response:
        cfg = self.config
        algs = ["RS256"]
        if cfg.id_token_alg in K.ASYMMETRIC_ALGS and cfg.id_token_alg not in algs:
            algs.append(cfg.id_token_alg)
        doc: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("/authorize"),
            "token_endpoint": self.url("/token"),
            "userinfo_endpoint": self.url("/userinfo"),
            "jwks_uri": self.url("/jwks"),
            "end_session_endpoint": self.url("/logout"),
            "revocation_endpoint": self.url("/revoke"),
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "scopes_supported": list(cfg.scopes_supported),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "name", "picture", "roles"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": list(cfg.code_challenge_methods_supported),
        }
        if cfg.advertise_iss_param:
            doc["authorization_response_iss_parameter_supported"] = True
        return _json(K.apply_overrides(doc, cfg.discovery_overrides))

    def _route_jwks(self, request: Request) -> Response:
        return _json(self.jwks())

    def _route_authorize(self, request: Request) -> Response:
        cfg = self.config
        params = request.values
        if params.get("client_id") != self.client_id:
            return _page("Unknown client", f"client_id {params.get('client_id')!r} is not registered", 400)
        redirect_uri = params.get("redirect_uri") or ""
        allowed = cfg.redirect_uris
        if (allowed is not None and redirect_uri not in allowed) or urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _page("Invalid redirect_uri", f"{redirect_uri!r} is not allowed for this client", 400)

        iss = (cfg.iss_param_value or self.issuer) if cfg.iss_param else None

        def back(**values: Any) -> Response:
            values.update(state=params.get("state"), iss=iss)
            return Response(status=302, headers={"Location": _with_query(redirect_uri, values)})

        if cfg.authorize_error:
            error, description = cfg.authorize_error
            return back(error=error, error_description=description)
        if params.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="only response_type=code")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method") or ("plain" if challenge else None)
        if cfg.pkce_required and (not challenge or method != "S256"):
            return back(error="invalid_request", error_description="PKCE with code_challenge_method=S256 is required")
        if challenge and method not in ("S256", "plain"):
            return back(error="invalid_request", error_description="unsupported code_challenge_method")
        rejected = set(params.get("scope", "").split()) & set(cfg.rejected_scopes)
        if rejected:
            return back(error="invalid_scope", error_description=f"unsupported scope: {' '.join(sorted(rejected))}")
        code = self.state.new_code(AuthCode(
            client_id=self.client_id, redirect_uri=redirect_uri, scope=params.get("scope", ""),
            nonce=params.get("nonce"), code_challenge=challenge, code_challenge_method=method,
            audience=params.get("audience"), user=dict(self.user), expires_at=time.time() + cfg.code_ttl,
            access_type=params.get("access_type"),
        ))
        return back(code=code)

    def _client_credentials(self, request: Request) -> tuple[str, str | None, str | None]:
        """(auth method "basic"/"post"/"none", client_id, secret) as presented."""
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            try:
                raw = base64.b64decode(header[6:].strip()).decode("utf-8")
                cid, _, secret = raw.partition(":")
                return "basic", unquote_plus(cid), unquote_plus(secret)
            except ValueError:
                return "basic", None, None
        if "client_secret" in request.form:
            return "post", request.form.get("client_id"), request.form.get("client_secret")
        return "none", request.form.get("client_id"), None

    def _authenticate(self, request: Request) -> tuple[str | None, Response | None]:
        """The authenticated client_id, or an error response (401 invalid_client)."""
        method, client_id, secret = self._client_credentials(request)
        challenge = {"WWW-Authenticate": 'Basic realm="test-provider"'} if method == "basic" else None
        if method == "basic" and "client_secret" in request.form:
            return None, _oauth_error("invalid_request", "more than one client authentication method")
        if client_id != self.client_id:
            return None, _oauth_error("invalid_client", "unknown client", 401, challenge)
        if self.client_secret is not None and self.config.require_client_auth:
            if method == "none":
                return None, _oauth_error("invalid_client", "client authentication required", 401)
            if not secrets.compare_digest((secret or "").encode(), self.client_secret.encode()):
                return None, _oauth_error("invalid_client", "wrong client secret", 401, challenge)
        return client_id, None

    def _route_token(self, request: Request) -> Response:
        if request.method != "POST":
            return _oauth_error("invalid_request", "use POST", 405)
        client_id, error = self._authenticate(request)
        if error is not None:
            return error
        cfg = self.config
        grant = request.form.get("grant_type")
        if cfg.token_error:
            return _oauth_error(cfg.token_error, "configured token_error")
        if grant == "authorization_code":
            return self._grant_code(request, client_id or "")
        if grant == "refresh_token":
            if cfg.refresh_error:
                return _oauth_error(cfg.refresh_error, "configured refresh_error")
            return self._grant_refresh(request, client_id or "")
        return _oauth_error("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _grant_code(self, request: Request, client_id: str) -> Response:
        form = request.form
        data = self.state.take_code(form.get("code", ""))
        if data is None:
            return _oauth_error("invalid_grant", "authorization code is invalid, expired or already used")
        if data.client_id != client_id:
            return _oauth_error("invalid_grant", "code was issued to another client")
        if form.get("redirect_uri") != data.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
        if data.code_challenge:
            verifier = form.get("code_verifier") or ""
            expected = _s256(verifier) if data.code_challenge_method == "S256" else verifier
            if not verifier or not secrets.compare_digest(expected, data.code_challenge):
                return _oauth_error("invalid_grant", "PKCE verification failed")
        refresh = None
        if self._wants_refresh(data.scope, data.access_type):
            refresh = self.state.new_family(client_id, data.scope, data.audience)
        nonce = self.config.nonce_override if self.config.nonce_override is not None else data.nonce
        body = self._token_response(data.user, data.scope, data.audience, nonce,
                                    with_id_token=True, refresh_token=refresh)
        return _json(body)

    def _grant_refresh(self, request: Request, client_id: str) -> Response:
        cfg = self.config
        family, new_token, why = self.state.use_refresh_token(
            request.form.get("refresh_token", ""), client_id, cfg.rotate_refresh_tokens
        )
        if family is None:
            return _oauth_error("invalid_grant", why)
        user = dict(self.user)
        if cfg.refresh_sub_override is not None:
            user["sub"] = cfg.refresh_sub_override
        body = self._token_response(user, family.scope, family.audience, None,
                                    with_id_token=cfg.refresh_returns_id_token, refresh_token=new_token)
        if cfg.on_refresh is not None:
            cfg.on_refresh()
        return _json(body)

    def _route_revocation(self, request: Request) -> Response:
        """RFC 7009: authenticated like the token endpoint; revokes the token's family."""
        if request.method != "POST":
            return _oauth_error("invalid_request", "use POST", 405)
        client_id, error = self._authenticate(request)
        self.state.record(self.state.revocation_requests, {
            "token_type_hint": request.form.get("token_type_hint"),
            "auth": self._client_credentials(request)[0], "client_id": client_id,
        })
        if error is not None:
            return error
        self.state.revoke_family(request.form.get("token", ""))
        return Response(b"", 200)

    def _route_userinfo(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        info = self.state.lookup_access_token(token) if token else None
        if info is None:
            return _json({"error": "invalid_token"}, 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return _json(K.apply_overrides(info["user"], self.config.userinfo_claims))

    def _route_end_session(self, request: Request) -> Response:
        target = request.values.get("post_logout_redirect_uri")
        if target:
            location = _with_query(target, {"state": request.values.get("state")})
            return Response(status=302, headers={"Location": location})
        return _page("Signed out", "You have been signed out of the test provider.")
