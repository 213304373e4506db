"""oidc-login: an OpenID Connect relying-party login server."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from flask_session import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from .errors import AuthError
from .logs import configure_logging
from .services import build_services
from .settings import Settings, load_settings, startup_warnings
from .store.sessions import SessionCache

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")


def create_app(settings: Settings | None = None) -> Flask:
    """settings -> extensions -> blueprints."""
    settings = settings or load_settings()
    configure_logging([settings.session_secret, settings.client_secret])
    for note in startup_warnings(settings):
        logging.getLogger(__name__).warning(note)

    app = Flask(__name__, template_folder=TEMPLATES, instance_path=settings.instance_path)
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    services = build_services(settings)
    app.extensions["oidc_login"] = services
    _configure_sessions(app, settings, services.store)

    from .web import api, auth, guard, pages, verify
    from .web.errors import render_error
    from .web.headers import add_security_headers, csp_nonce

    auth.init_oauth(app, services)
    app.before_request(guard.load_principal)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.register_error_handler(AuthError, render_error)
    app.register_error_handler(404, lambda e: render_error(AuthError("INVALID_REQUEST", "No such page.", status=404)))
    app.register_error_handler(405, lambda e: render_error(AuthError("INVALID_REQUEST", "Method not allowed.", status=405)))
    app.register_error_handler(500, lambda e: render_error(AuthError("INVALID_REQUEST", "Internal error.", status=500, hint="See the server log.")))
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    verify.init_app(app)  # forward auth: registers /api/auth/verify, keeps it cookie-free

    if settings.trust_proxy:
        n = settings.trust_proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    return app


def _configure_sessions(app: Flask, settings: Settings, store: Any) -> None:
    """Server-side sessions in the shared store, written only when changed (a stale write of
    a whole session must never bring back old state)."""
    app.config.update(
        SECRET_KEY=settings.session_secret,
        SESSION_PERMANENT=True,
        PERMANENT_SESSION_LIFETIME=settings.max_lifetime,
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_COOKIE_NAME=settings.cookie_name,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_KEY_PREFIX="session:",
        SESSION_SERIALIZATION_FORMAT="json",
        SESSION_TYPE="cachelib",
        SESSION_CACHELIB=SessionCache(store, default_timeout=settings.max_lifetime),
    )
    Session(app)
