"""oidc-login: an OpenID Connect relying-party login server."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_session import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from .errors import AuthError
from .logs import configure_logging
from .services import build_services
from .settings import Settings, load_settings, startup_warnings

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
    _configure_sessions(app, settings)

    from .web import api, auth, guard, pages
    from .web.errors import render_error

    auth.init_oauth(app, services)
    app.before_request(guard.load_principal)
    app.register_error_handler(AuthError, render_error)
    app.register_error_handler(404, lambda e: render_error(AuthError("INVALID_REQUEST", "No such page.", status=404)))
    app.register_error_handler(405, lambda e: render_error(AuthError("INVALID_REQUEST", "Method not allowed.", status=405)))
    app.register_error_handler(500, lambda e: render_error(AuthError("INVALID_REQUEST", "Internal error.", status=500, hint="See the server log.")))
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)

    if settings.trust_proxy:
        n = settings.trust_proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    return app


def _configure_sessions(app: Flask, settings: Settings) -> None:
    """Server-side sessions that are written only when changed (a stale write of a whole
    session must never bring back old state)."""
    app.config.update(
        SECRET_KEY=settings.session_secret,
        SESSION_PERMANENT=True,
        PERMANENT_SESSION_LIFETIME=settings.max_lifetime,
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_COOKIE_NAME=settings.cookie_name,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_KEY_PREFIX="oidc-login:session:",
        SESSION_SERIALIZATION_FORMAT="json",
    )
    if settings.redis_uri:
        import redis

        app.config.update(
            SESSION_TYPE="redis",
            SESSION_REDIS=redis.Redis.from_url(settings.redis_uri, socket_timeout=2, socket_connect_timeout=2),
        )
    else:
        from cachelib import FileSystemCache

        directory = os.path.join(settings.instance_path, "sessions")
        cache = FileSystemCache(directory, threshold=0, mode=0o600)  # 0: never evict live sessions
        app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=cache)
        app.before_request(_expired_session_sweeper(cache))
    Session(app)


def _expired_session_sweeper(cache: Any, every: float = 600.0) -> Callable[[], None]:
    """Deletes expired session files now and then, off the request path. Without a threshold
    cachelib never prunes, and sessions nobody comes back for would pile up on disk."""
    state = {"next": 0.0}
    lock = threading.Lock()

    def sweep() -> None:
        try:
            cache._remove_expired(time.time())  # cachelib's own expiry scan
        except Exception:  # a sweep must never break a request
            logging.getLogger(__name__).warning("session sweep failed", exc_info=True)

    def maybe_sweep() -> None:
        now = time.monotonic()
        if now < state["next"] or not lock.acquire(blocking=False):
            return
        try:
            state["next"] = now + every
            threading.Thread(target=sweep, name="session-sweep", daemon=True).start()
        finally:
            lock.release()

    return maybe_sweep
