"""oidc-login: an OpenID Connect relying-party login server."""

from __future__ import annotations

import logging
import os

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .errors import AuthError
from .logs import configure_logging
from .resources import templates_dir
from .services import Services, build_services
from .settings import Settings, load_settings, startup_warnings
from .store import LockTimeout, StoreUnavailable

TEMPLATES = templates_dir()  # the installed package's, else the checkout's (app/resources.py)


def create_app(settings: Settings | None = None) -> Flask:
    """settings -> extensions -> blueprints."""
    settings = settings or load_settings()
    configure_logging([settings.session_secret, settings.client_secret], settings.log_format)
    for note in startup_warnings(settings):
        logging.getLogger(__name__).warning(note)

    _no_stray_debugger()
    app = Flask(__name__, template_folder=TEMPLATES, instance_path=settings.instance_path)
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    services = build_services(settings)
    app.extensions["oidc_login"] = services
    _configure_sessions(app, services)

    from .oidc.refresh import store_unavailable
    from .web import api, auth, backchannel, guard, ops, pages
    from .web.errors import render_error
    from .web.middleware import csp_nonce

    auth.init_oauth(app, services)
    app.before_request(guard.load_principal)
    app.jinja_env.globals["csp_nonce"] = lambda: csp_nonce(request.environ)
    app.register_error_handler(AuthError, render_error)
    app.register_error_handler(StoreUnavailable, lambda e: render_error(store_unavailable()))
    app.register_error_handler(LockTimeout, lambda e: render_error(store_unavailable()))
    app.register_error_handler(404, lambda e: render_error(AuthError("INVALID_REQUEST", "No such page.", status=404)))
    app.register_error_handler(405, lambda e: render_error(AuthError("INVALID_REQUEST", "Method not allowed.", status=405)))
    app.register_error_handler(500, lambda e: render_error(AuthError("INVALID_REQUEST", "Internal error.", status=500, hint="See the server log.")))
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(backchannel.bp)
    app.register_blueprint(ops.bp)
    _wrap(app, settings)
    return app


def _wrap(app: Flask, settings: Settings) -> None:
    """The WSGI middlewares around Flask (web/middleware.py), outermost first: the proxy's
    view of the request, request ids, metrics, security headers, and forward auth's path
    answered below Flask's dispatch (web/verify.py)."""
    from .web.middleware import RequestIds, RequestMetrics, Routes, SecurityHeaders
    from .web.pages import HEALTHZ_PATH
    from .web.verify import VERIFY_PATH, ForwardAuth

    wsgi = Routes(app.wsgi_app, {VERIFY_PATH: ForwardAuth(app)})
    wsgi = SecurityHeaders(wsgi, https_only=settings.secure_cookies, bare=[VERIFY_PATH], cacheable=[HEALTHZ_PATH])
    wsgi = RequestIds(RequestMetrics(wsgi), trust_proxy=settings.trust_proxy > 0)
    if settings.trust_proxy:
        n = settings.trust_proxy
        wsgi = ProxyFix(wsgi, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[assignment]
    app.wsgi_app = wsgi  # type: ignore[method-assign]


def _configure_sessions(app: Flask, services: Services) -> None:
    """flask-session's server-side sessions with a ticket cookie (`web/ticket.py`); pending
    logins in their own sealed cookie (`web/pending.py`)."""
    from .web.pending import PendingLogins
    from .web.ticket import TicketSessionInterface

    settings = services.settings
    app.config.update(
        SECRET_KEY=settings.session_secret,
        PERMANENT_SESSION_LIFETIME=settings.max_lifetime,
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_COOKIE_NAME=settings.cookie_name,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
    )
    app.session_interface = TicketSessionInterface(app, services.store, services.keyer)
    app.extensions["oidc_login_pending"] = PendingLogins(
        (settings.session_secret, *settings.previous_secrets), settings.cookie_name, settings.secure_cookies
    )


def _no_stray_debugger() -> None:
    """`flask run` loads `.env`/`.flaskenv` from the nearest folder upwards: a FLASK_DEBUG
    from a file above the current folder (another project's) must not turn on the
    interactive debugger, which runs code for whoever can reach the port."""
    value = os.environ.get("FLASK_DEBUG")
    if not value:
        return
    from dotenv import dotenv_values, find_dotenv

    here = os.getcwd()
    for name in (".env", ".flaskenv"):
        path = find_dotenv(name, usecwd=True)
        if path and os.path.dirname(path) != here and dotenv_values(path).get("FLASK_DEBUG") == value:
            logging.getLogger(__name__).warning(
                "ignoring FLASK_DEBUG from %s (outside the current folder); set it in the "
                "environment or pass --debug to use the debugger", path,
            )
            os.environ.pop("FLASK_DEBUG", None)
            return
