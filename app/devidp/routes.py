"""The development provider's endpoints: discovery, JWKS, authorize (login and consent
pages), token, userinfo, end session and revocation.

Error handling follows OAuth: a bad ``client_id`` or ``redirect_uri`` gets an error page
(redirecting there could hand a code to an attacker); every later problem is redirected
back to the client with ``error``, ``state`` and ``iss``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import escape

from .backchannel import send_logout_token
from .config import User
from .grants import Grant, GrantError, new_token
from .keys import SIGNING_ALG, public_jwks
from .server import SUPPORTED_SCOPES, Provider

bp = Blueprint("devidp", __name__)

_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url(SHA-256), no padding
_MAX_PENDING = 8  # authorization requests remembered per browser


def _p() -> Provider:
    return current_app.extensions["devidp"]


# -- page helpers ---------------------------------------------------------------------------


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _csrf_ok() -> bool:
    sent = request.form.get("csrf", "")
    return bool(sent) and hmac.compare_digest(sent, session.get("csrf", ""))


def _page(template: str, status: int = 200, **ctx: Any) -> tuple[str, int]:
    p = _p()
    return render_template(template, issuer=p.issuer, csrf=_csrf_token(), **ctx), status


def _error_page(title: str, detail: str, status: int = 400) -> tuple[str, int]:
    return _page("error.html", status, title=title, detail=detail)


@bp.after_request
def _headers(resp: Response) -> Response:
    """Pages must not be framed or cached; responses carrying tokens must not be stored."""
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    if resp.mimetype == "text/html":
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'",
        )
    resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def _with_params(url: str, params: dict[str, str]) -> str:
    """Add query parameters to a registered redirect URI, keeping its own."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _back_to_client(tx: dict, **params: str | None) -> Response:
    """Redirect to the client with RFC 9207 ``iss`` and the request's ``state``."""
    out = {k: v for k, v in params.items() if v is not None}
    if tx.get("state") is not None:
        out["state"] = tx["state"]
    out["iss"] = _p().issuer
    return redirect(_with_params(tx["redirect_uri"], out), 302)


def _error_to_client(tx: dict, error: str, description: str) -> Response:
    return _back_to_client(tx, error=error, error_description=description)


# -- login session ----------------------------------------------------------------------------


def _current_login(max_age: int | None = None) -> tuple[User, int, str] | None:
    """(user, auth_time, sid) of the browser's sign-in at this provider, if still valid."""
    p = _p()
    s = p.store.get_session(session.get("sid"))
    if s is None:
        return None
    user = p.user_by_sub(s.sub)
    if user is None:
        return None
    if max_age is not None and p.clock() - s.auth_time > max_age:
        return None
    return user, s.auth_time, s.sid


def _pending(txn: str | None) -> dict | None:
    return (session.get("tx") or {}).get(txn or "")


def _drop_pending(txn: str) -> None:
    tx = dict(session.get("tx") or {})
    tx.pop(txn, None)
    session["tx"] = tx


# -- discovery and keys ---------------------------------------------------------------------


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    p = _p()
    methods = ["client_secret_basic", "client_secret_post"]
    if p.client.public:
        methods.append("none")
    return jsonify(
        issuer=p.issuer,
        authorization_endpoint=p.url("/authorize"),
        token_endpoint=p.url("/oauth/token"),
        userinfo_endpoint=p.url("/userinfo"),
        jwks_uri=p.url("/.well-known/jwks.json"),
        end_session_endpoint=p.url("/oidc/logout"),
        revocation_endpoint=p.url("/oauth/revoke"),
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=["authorization_code", "refresh_token"],
        subject_types_supported=["public"],
        scopes_supported=list(SUPPORTED_SCOPES),
        claims_supported=[
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp",
            "name", "nickname", "preferred_username", "picture", "email", "email_verified",
            "roles", "https://oidc-login.dev/roles",
        ],
        id_token_signing_alg_values_supported=[SIGNING_ALG],
        token_endpoint_auth_methods_supported=methods,
        revocation_endpoint_auth_methods_supported=methods,
        backchannel_logout_supported=True,
        backchannel_logout_session_supported=True,
        code_challenge_methods_supported=["S256"],
        authorization_response_iss_parameter_supported=True,
        request_parameter_supported=False,
        claims_parameter_supported=False,
        prompt_values_supported=["none", "login", "consent"],
    )


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    resp = jsonify(public_jwks(_p().minter.key))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# -- authorization ---------------------------------------------------------------------------


@bp.get("/authorize")
def authorize() -> Response | tuple[str, int]:
    p = _p()
    args = request.args
    client_id = args.get("client_id", "")
    redirect_uri = args.get("redirect_uri", "")
    if client_id != p.client.client_id:
        return _error_page("Unknown application", f"client_id {client_id!r} is not registered at this provider.")
    if redirect_uri not in p.client.redirect_uris:
        return _error_page(
            "Redirect URI not allowed",
            f"redirect_uri {redirect_uri!r} is not registered for this client. Registered: "
            + ", ".join(p.client.redirect_uris),
        )
    tx: dict[str, Any] = {"redirect_uri": redirect_uri, "state": args.get("state")}
    if args.get("response_type") != "code":
        return _error_to_client(tx, "unsupported_response_type", "only response_type=code is supported")
    if args.get("response_mode", "query") != "query":
        return _error_to_client(tx, "invalid_request", "only response_mode=query is supported")
    if args.get("request") or args.get("request_uri"):
        return _error_to_client(tx, "request_not_supported", "request objects are not supported")
    requested = args.get("scope", "").split()
    if "openid" not in requested:
        return _error_to_client(tx, "invalid_scope", "the openid scope is required")
    challenge = args.get("code_challenge", "")
    method = args.get("code_challenge_method", "")
    if not challenge:
        return _error_to_client(tx, "invalid_request", "code_challenge is required (PKCE with S256)")
    if method != "S256":
        return _error_to_client(
            tx, "invalid_request", "code_challenge_method must be S256 (plain is not supported)"
        )
    if not _CHALLENGE.match(challenge):
        return _error_to_client(tx, "invalid_request", "code_challenge is not a base64url SHA-256 value")
    max_age: int | None = None
    if args.get("max_age"):
        try:
            max_age = max(0, int(args["max_age"]))
        except ValueError:
            return _error_to_client(tx, "invalid_request", "max_age must be a number of seconds")
    prompt = set(args.get("prompt", "").split())
    if "none" in prompt and len(prompt) > 1:
        return _error_to_client(tx, "invalid_request", "prompt=none cannot be combined")

    tx.update(
        client_id=client_id,
        scope=[s for s in SUPPORTED_SCOPES if s in requested],
        code_challenge=challenge,
        nonce=args.get("nonce") or None,
        audience=args.get("audience") or None,
        max_age=max_age,
        force_login="login" in prompt,
    )
    login = None if tx["force_login"] else _current_login(max_age)
    if "none" in prompt:
        if login is None:
            return _error_to_client(tx, "login_required", "no sign-in at the provider")
        if "offline_access" in tx["scope"]:
            return _error_to_client(tx, "consent_required", "offline_access needs the user's consent")
        return _finish(tx, *login)

    txn = new_token(12)
    pending = dict(session.get("tx") or {})
    while len(pending) >= _MAX_PENDING:
        pending.pop(next(iter(pending)))
    pending[txn] = tx
    session["tx"] = pending
    if login is None:
        return redirect(url_for(".login", txn=txn))
    return _next_step(txn, tx, *login)


def _next_step(txn: str, tx: dict, user: User, auth_time: int, sid: str) -> Response:
    """After sign-in: ask for consent when offline access is asked for, else issue the code."""
    if "offline_access" in tx["scope"]:
        return redirect(url_for(".consent", txn=txn))
    _drop_pending(txn)
    return _finish(tx, user, auth_time, sid)


def _finish(tx: dict, user: User, auth_time: int, sid: str) -> Response:
    p = _p()
    grant = Grant(
        grant_id=new_token(12),
        sub=user.sub,
        client_id=tx["client_id"],
        scope=tuple(tx["scope"]),
        audience=tx["audience"],
        auth_time=auth_time,
        sid=sid,
        nonce=tx["nonce"],
    )
    code = p.store.issue_code(grant, tx["redirect_uri"], tx["code_challenge"], p.code_ttl)
    return _back_to_client(tx, code=code)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    p = _p()
    txn = request.values.get("txn", "")
    tx = _pending(txn)
    if txn and tx is None:
        return _error_page(
            "Sign-in request expired",
            "This sign-in request is unknown or already finished. Go back to the application and start again.",
        )
    ctx = {"txn": txn, "default_user": p.default_user, "username": "", "error": None}
    if request.method == "GET":
        return _page("login.html", **ctx)
    if not _csrf_ok():
        return _error_page("Form expired", "The sign-in form was stale. Reload the page and try again.")
    if request.form.get("action") == "cancel" and tx is not None:
        _drop_pending(txn)
        return _error_to_client(tx, "access_denied", "the user cancelled the sign-in")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    user = p.users.get(username)
    if user is None or not hmac.compare_digest(password.encode(), user.password.encode()):
        ctx.update(username=username, error="Wrong username or password.")
        return _page("login.html", 401, **ctx)
    if user.sub in p.disabled:
        ctx.update(username=username, error="This account is disabled (see the provider's admin page).")
        return _page("login.html", 403, **ctx)
    old = session.get("sid")
    p.store.end_session(old)
    s = p.store.start_session(user.sub, p.session_ttl)
    session["sid"] = s.sid
    session.permanent = True
    if tx is None:
        return redirect(url_for(".index"))
    return _next_step(txn, tx, user, s.auth_time, s.sid)


@bp.route("/consent", methods=["GET", "POST"])
def consent() -> Response | tuple[str, int]:
    txn = request.values.get("txn", "")
    tx = _pending(txn)
    if tx is None:
        return _error_page(
            "Sign-in request expired",
            "This sign-in request is unknown or already finished. Go back to the application and start again.",
        )
    login = _current_login(tx.get("max_age"))
    if login is None:
        return redirect(url_for(".login", txn=txn))
    if request.method == "GET":
        return _page("consent.html", txn=txn, user=login[0], tx=tx, client_id=tx["client_id"])
    if not _csrf_ok():
        return _error_page("Form expired", "The consent form was stale. Reload the page and try again.")
    _drop_pending(txn)
    if request.form.get("decision") != "allow":
        return _error_to_client(tx, "access_denied", "the user denied access")
    return _finish(tx, *login)


# -- token endpoint -----------------------------------------------------------------------------


def _oauth_error(error: str, description: str, status: int = 400, basic: bool = False) -> Response:
    resp = jsonify(error=error, error_description=description)
    resp.status_code = status
    if basic:
        resp.headers["WWW-Authenticate"] = 'Basic realm="devidp"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _authenticate_client() -> str | Response:
    """client_secret_basic, client_secret_post, or none for a public client: the client_id."""
    p = _p()
    auth = request.headers.get("Authorization", "")
    form = request.form
    basic = auth[:6].lower() == "basic "
    if basic:
        if "client_secret" in form:
            return _oauth_error("invalid_request", "use one client authentication method", 400)
        try:
            raw = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
            cid, _, secret = raw.partition(":")
            cid, secret = unquote_plus(cid), unquote_plus(secret)
        except (ValueError, UnicodeDecodeError):
            return _oauth_error("invalid_client", "malformed Basic credentials", 401, basic=True)
        if form.get("client_id") not in (None, cid):
            return _oauth_error("invalid_request", "client_id differs from the authenticated client")
    else:
        cid, secret = form.get("client_id", ""), form.get("client_secret")
    client = p.client
    if cid != client.client_id:
        return _oauth_error("invalid_client", "unknown client", 401, basic=basic)
    if client.public:
        if secret:
            return _oauth_error("invalid_client", "this client is public: send no secret", 401, basic=basic)
        return cid
    if not secret or not hmac.compare_digest(secret.encode(), client.client_secret.encode()):  # type: ignore[union-attr]
        return _oauth_error("invalid_client", "client authentication failed", 401, basic=basic)
    return cid


def _token_response(
    user: User, grant: Grant, refresh_token: str | None, *, nonce: str | None
) -> Response:
    """Auth0's shape: opaque access token without an audience, an at+jwt with one."""
    p = _p()
    scope = grant.scope
    if grant.audience:
        access = p.minter.access_token_jwt(user, grant, p.access_token_ttl)
    else:
        access = p.store.issue_opaque_access(grant, p.access_token_ttl)
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": p.access_token_ttl,
        "scope": " ".join(scope),
    }
    if "openid" in scope:
        body["id_token"] = p.minter.id_token(user, grant, p.id_token_ttl, access_token=access, nonce=nonce)
    if refresh_token:
        body["refresh_token"] = refresh_token
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


@bp.post("/oauth/token")
def token() -> Response:
    p = _p()
    client_id = _authenticate_client()
    if isinstance(client_id, Response):
        return client_id
    grant_type = request.form.get("grant_type", "")
    try:
        if grant_type == "authorization_code":
            grant = p.store.redeem_code(
                request.form.get("code", ""),
                client_id,
                request.form.get("redirect_uri"),
                request.form.get("code_verifier"),
            )
            refresh = p.store.issue_refresh(grant, p.refresh_token_ttl) if grant.offline else None
            nonce = grant.nonce
        elif grant_type == "refresh_token":
            asked = request.form.get("scope", "").split()
            grant, refresh = p.store.rotate_refresh(
                request.form.get("refresh_token", ""), client_id, p.refresh_token_ttl, asked
            )
            nonce = None  # the nonce belongs to the authorization request, not to refreshes
        else:
            return _oauth_error("unsupported_grant_type", "use authorization_code or refresh_token")
    except GrantError as exc:
        return _oauth_error(exc.error, exc.description)
    user = p.user_by_sub(grant.sub)
    if user is None:
        return _oauth_error("invalid_grant", "the user no longer exists")
    return _token_response(user, grant, refresh, nonce=nonce)


@bp.post("/oauth/revoke")
def revoke() -> Response:
    client_id = _authenticate_client()
    if isinstance(client_id, Response):
        return client_id
    _p().store.revoke(request.form.get("token", ""), client_id)
    return Response(status=200)


# -- userinfo ------------------------------------------------------------------------------------


def _bearer_error(description: str, error: str | None = "invalid_token") -> Response:
    resp = jsonify(error=error or "invalid_request", error_description=description)
    resp.status_code = 401
    challenge = 'Bearer realm="devidp"'
    if error:
        challenge += f', error="{error}", error_description="{description}"'
    resp.headers["WWW-Authenticate"] = challenge
    return resp


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    p = _p()
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.form.get("access_token", "")
    if not token:
        return _bearer_error("no access token", error=None)
    if token.count(".") == 2:
        claims = p.minter.verify(token, typ="at+jwt")
        aud = (claims or {}).get("aud") or []
        if not claims or p.minter.userinfo_url not in aud or p.store.is_revoked(claims.get("gid", "")):
            return _bearer_error("access token invalid, expired or not meant for userinfo")
        sub, scope = claims["sub"], tuple(claims.get("scope", "").split())
    else:
        grant = p.store.lookup_access(token)
        if grant is None:
            return _bearer_error("access token invalid or expired")
        sub, scope = grant.sub, grant.scope
    user = p.user_by_sub(sub)
    if user is None:
        return _bearer_error("the user no longer exists")
    return jsonify(p.minter.user_claims(user, scope))


# -- logout --------------------------------------------------------------------------------------


@bp.route("/oidc/logout", methods=["GET", "POST"])
def end_session() -> Response | tuple[str, int]:
    """RP-initiated logout: end our sign-in, then go to a registered post-logout URI."""
    p = _p()
    v = request.values
    hint, client_id = v.get("id_token_hint"), v.get("client_id")
    post_logout, state = v.get("post_logout_redirect_uri"), v.get("state")
    if hint:
        claims = p.minter.verify(hint, check_exp=False)
        if claims is None:
            return _error_page("Sign-out failed", "id_token_hint is not an ID token issued by this provider.")
        aud = claims.get("aud")
        hint_client = aud if isinstance(aud, str) else (aud or [None])[0]
        if client_id and client_id != hint_client:
            return _error_page("Sign-out failed", "client_id does not match the id_token_hint's audience.")
        client_id = hint_client
    if post_logout:
        if client_id != p.client.client_id:
            return _error_page(
                "Sign-out failed",
                "post_logout_redirect_uri needs client_id or id_token_hint to identify the application.",
            )
        if post_logout not in p.client.post_logout_redirect_uris:
            return _error_page(
                "Sign-out failed",
                f"post_logout_redirect_uri {post_logout!r} is not registered for this client. Registered: "
                + (", ".join(p.client.post_logout_redirect_uris) or "none"),
            )
    if request.method == "POST" and "csrf" in request.form and not _csrf_ok():
        return _error_page("Form expired", "The sign-out form was stale. Reload the page and try again.")
    signed_in = p.store.get_session(session.get("sid"))
    p.store.end_session(session.get("sid"))
    session.clear()
    if signed_in is not None:
        send_logout_token(p, sub=signed_in.sub, sid=signed_in.sid)  # the back-channel, to the client
    if post_logout:
        return redirect(_with_params(post_logout, {"state": state} if state else {}), 302)
    return _page("signed_out.html")


# -- the provider's own pages --------------------------------------------------------------------


@bp.get("/")
def index() -> tuple[str, int]:
    p = _p()
    login = _current_login()
    return _page(
        "index.html",
        user=login[0] if login else None,
        default_user=p.default_user,
        client=p.client,
        discovery_url=p.url("/.well-known/openid-configuration"),
        access_token_ttl=p.access_token_ttl,
        refresh_token_ttl=p.refresh_token_ttl,
    )


_PALETTE = ("#2563eb", "#7c3aed", "#db2777", "#059669", "#d97706", "#0891b2")


@bp.get("/avatar/<username>.svg")
def avatar(username: str) -> Response:
    """A generated initials avatar, so ``picture`` works without the internet."""
    user = _p().users.get(username)
    if user is None:
        return Response("unknown user", status=404, mimetype="text/plain")
    initials = "".join(w[0] for w in user.name.split()[:2]).upper() or user.username[:1].upper()
    color = _PALETTE[hashlib.sha256(user.username.encode()).digest()[0] % len(_PALETTE)]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        f'<circle cx="48" cy="48" r="48" fill="{color}"/>'
        '<text x="48" y="48" dy=".35em" text-anchor="middle" font-family="system-ui,sans-serif" '
        f'font-size="38" font-weight="600" fill="#fff">{escape(initials)}</text></svg>'
    )
    resp = Response(svg, mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "public, max-age=3600"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return resp
