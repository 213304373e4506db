"""`oidc-login serve | demo | check`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .settings import Settings, SettingsError, load_settings


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        print(f"oidc-login: {error}", file=sys.stderr)
        print("Fix these in the environment or in .env (see .env.example).", file=sys.stderr)
        raise SystemExit(2) from None


def serve(settings: Settings) -> int:
    """gunicorn with gthread workers; access logs carry the path only, never a query string
    (the callback's query holds the authorization code)."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    from . import create_app
    from .logs import RedactingFilter, Redactor

    redactor = Redactor([settings.session_secret, settings.client_secret])

    class RedactingLogger(Logger):
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.addFilter(RedactingFilter(redactor))

    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    options = {
        "bind": f"{host}:{settings.port}",
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        "logger_class": RedactingLogger,
        "proxy_allow_ips": "127.0.0.1,::1",
        "forwarded_allow_ips": "127.0.0.1,::1" if settings.trust_proxy else "",
        "graceful_timeout": 10,
        "keepalive": 5,
        # Several servers may run on one host (tests, blue/green): no shared control socket.
        "control_socket_disable": True,
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)

    print(f"oidc-login serving on http://{host}:{settings.port} (public URL {settings.domain_server})", file=sys.stderr)
    Server().run()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["demo"]:  # its options are the demo's own
        from .devidp.demo import main as demo_main

        return demo_main(argv[1:])
    parser = argparse.ArgumentParser(prog="oidc-login", description="OpenID Connect login server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the production server (gunicorn) on HOST:PORT")
    sub.add_parser("demo", help="run a development provider and the server, configured together")
    check = sub.add_parser("check", help="test the connection to the provider")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    if args.command == "serve":
        return serve(_settings_or_exit())
    from .check import main as check_main

    return check_main(json_output=args.json)


if __name__ == "__main__":
    sys.exit(main())
