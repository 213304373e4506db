"""`oidc-login serve`: gunicorn as a service.

Before any worker forks: every setting, then what only the running system can say (Redis
answers with this password, the role policy parses, the instance folder is writable, the CA
bundle loads, the metrics port is free), all problems named at once. Then: multiprocess
metrics on their own listener (METRICS_ADDRESS, never the public port), access and error
logs through the same redaction in text or JSON, a graceful timeout that covers the
longest wait a request can have, and SIGHUP re-reading the environment and `.env`.
"""

from __future__ import annotations

import atexit
import gc
import glob
import logging
import os
import shutil
import socket
import sys
import tempfile
from typing import Any

from .settings import Settings, SettingsError, load_settings

log = logging.getLogger("app.serve")


# -- checks before forking -----------------------------------------------------------------------


def preflight(settings: Settings) -> list[str]:
    """What the settings alone cannot tell; one line per problem, nothing secret."""
    problems = []
    try:
        os.makedirs(settings.instance_path, mode=0o700, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.instance_path, prefix=".write-test-"):
            pass
    except OSError as exc:
        problems.append(
            f"INSTANCE_PATH={settings.instance_path!r} is not a writable folder ({exc.strerror or exc}): "
            "create it or point INSTANCE_PATH at one this user can write."
        )
    if settings.redis_uri:
        from .check import _first_line, _redacted
        from .services import open_settings_store

        store = None
        try:
            store = open_settings_store(settings)
            store.ping()
        except Exception as exc:  # StoreUnavailable, or a malformed URI's ValueError
            problems.append(
                f"REDIS_URI={_redacted(settings.redis_uri)}: {_first_line(exc)}. Check that Redis "
                "runs, the host, port and password (and the CA file for rediss://)."
            )
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()
    if settings.role_policy_path:
        from .oidc.roles import RolePolicy

        try:
            RolePolicy.load(settings.role_policy_path)
        except Exception as exc:
            problems.append(f"OPENID_ROLE_POLICY={settings.role_policy_path!r} cannot be read: {exc}")
    if settings.ca_bundle:
        from .oidc.http import ssl_context

        try:
            ssl_context(settings.ca_bundle)
        except (OSError, ValueError) as exc:
            problems.append(f"OPENID_CA_BUNDLE={settings.ca_bundle!r} holds no usable PEM certificate ({exc}).")
    if settings.metrics_address:
        host, port = settings.metrics_address
        if port == settings.port:
            problems.append("METRICS_ADDRESS must use another port than PORT: metrics are never public.")
        else:
            try:
                with socket.create_server((host, port)):
                    pass
            except OSError as exc:
                problems.append(f"METRICS_ADDRESS={host}:{port} cannot be bound ({exc.strerror or exc}).")
    return problems


def longest_request_wait(settings: Settings) -> int:
    """Seconds a request may legitimately take: the refresh lock's wait, then discovery,
    JWKS and the token call, each bounded by the HTTP timeout (with one retry for discovery)."""
    from .oidc.refresh import RefreshPolicy

    return int(RefreshPolicy().lock_wait + 4 * settings.http_timeout) + 5


# -- metrics across workers ----------------------------------------------------------------------


def prepare_metrics_dir() -> str:
    """PROMETHEUS_MULTIPROC_DIR for this run: the admin's (emptied of old values) or a fresh
    temporary one removed at exit. Must run before prometheus-client is imported."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        for stale in glob.glob(os.path.join(given, "*.db")):
            os.remove(stale)
        return given
    path = tempfile.mkdtemp(prefix="oidc-login-metrics-")
    atexit.register(_remove_in, os.getpid(), path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def _remove_in(pid: int, path: str) -> None:
    """At the master's exit only: forked workers inherit atexit handlers."""
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def start_metrics_listener(address: tuple[str, int]) -> None:
    """`GET /metrics` of all workers on its own socket, served by the gunicorn master."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(address[1], addr=address[0], registry=registry)


# -- gunicorn ------------------------------------------------------------------------------------


def _logger_class(settings_ref: list[Settings]) -> type:
    from gunicorn.glogging import Logger

    from .logs import RedactingFilter, Redactor, RequestContext, formatter

    class ServiceLogger(Logger):  # type: ignore[misc]
        """gunicorn's logs through our redaction, in text or JSON."""

        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            settings = settings_ref[0]
            redactor = RedactingFilter(Redactor([settings.session_secret, settings.client_secret]))
            for log_ in (self.error_log, self.access_log):
                for handler in log_.handlers:
                    handler.addFilter(redactor)
                    if log_ is self.error_log:  # access lines carry the id from the response
                        handler.addFilter(RequestContext())
                    if settings.log_format == "json":
                        handler.setFormatter(formatter("json"))

        def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
            if settings_ref[0].log_format != "json":
                return super().access(resp, req, environ, request_time)
            atoms = self.atoms(resp, req, environ, request_time)
            http = {
                "method": atoms["m"], "path": atoms["U"], "status": atoms["s"],
                "bytes": atoms["B"], "ms": atoms["M"], "remote": atoms["h"],
            }
            rid = atoms.get("{x-request-id}o") or "-"
            self.access_log.info(
                "%s %s %s", atoms["m"], atoms["U"], atoms["s"], extra={"http": http, "request_id": rid, "user": None}
            )

    return ServiceLogger


def gunicorn_options(settings: Settings, logger_class: type) -> dict[str, Any]:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return {
        "bind": f"{host}:{settings.port}",
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "errorlog": "-",
        # The path only, never a query string (the callback's holds the authorization code).
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s',
        "logger_class": logger_class,
        "proxy_allow_ips": "127.0.0.1,::1",
        "forwarded_allow_ips": "127.0.0.1,::1" if settings.trust_proxy else "",
        "graceful_timeout": longest_request_wait(settings),
        "keepalive": 5,
        # Several servers may run on one host (tests, blue/green): no shared control socket.
        "control_socket_disable": True,
    }


def say(settings: Settings, message: str, level: str = "info") -> None:
    """A line of the master before logging is set up, in the configured format."""
    if settings.log_format == "json":
        from .logs import JsonFormatter

        record = logging.LogRecord("app.serve", getattr(logging, level.upper()), "", 0, message, (), None)
        print(JsonFormatter().format(record), file=sys.stderr, flush=True)
    else:
        print(f"oidc-login: {message}", file=sys.stderr, flush=True)


def _reload_settings(current: Settings) -> Settings:
    """SIGHUP: the environment and `.env` again; a broken file keeps the running settings."""
    try:
        return load_settings()
    except SettingsError as error:
        say(current, f"SIGHUP ignored, keeping the running settings. {error}", "error")
        return current


def run(settings: Settings) -> int:
    prepare_metrics_dir()
    problems = preflight(settings)
    if problems:
        say(settings, "cannot start:\n" + "\n".join(f"  - {p}" for p in problems), "error")
        return 2
    from gunicorn.app.base import BaseApplication

    from . import create_app

    # Startup warnings (e.g. the file store behind a proxy) are logged by create_app.
    settings_ref = [settings]
    logger_class = _logger_class(settings_ref)
    metrics_address = settings.metrics_address

    def when_ready(server: Any) -> None:
        if metrics_address:
            start_metrics_listener(metrics_address)
            server.log.info("metrics on http://%s:%s/metrics", *metrics_address)

    def post_worker_init(worker: Any) -> None:
        """Everything the app made at start (modules, settings, the app) lives as long as the
        worker: moved out of the garbage collector's sight, so its collections, which run every
        few hundred allocations on the request path, do not walk it again and again."""
        gc.collect()
        gc.freeze()

    def child_exit(server: Any, worker: Any) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    class Server(BaseApplication):  # type: ignore[misc]
        loaded = False

        def load_config(self) -> None:
            if self.loaded:  # SIGHUP: gunicorn reloads its config, we re-read ours
                settings_ref[0] = _reload_settings(settings_ref[0])
            self.loaded = True
            options = gunicorn_options(settings_ref[0], logger_class)
            options.update(when_ready=when_ready, child_exit=child_exit, post_worker_init=post_worker_init)
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings_ref[0])

    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    say(settings, f"serving on http://{shown}:{settings.port} (public URL {settings.domain_server})")
    Server().run()
    return 0

