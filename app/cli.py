"""`oidc-login serve | demo | check`."""

from __future__ import annotations

import argparse
import sys

from .settings import Settings, SettingsError, load_settings


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        print(f"oidc-login: {error}", file=sys.stderr)
        print("Fix these in the environment or in .env (see .env.example).", file=sys.stderr)
        raise SystemExit(2) from None


def serve(settings: Settings) -> int:
    """gunicorn with gthread workers, checked before it forks (see app/serving.py)."""
    from .serving import run

    return run(settings)


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
