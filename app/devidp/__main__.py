"""``python -m app.devidp``: run the development provider standalone (see the package docstring)."""

from __future__ import annotations

import argparse
import sys

from .config import ConfigError, EnvSettings, require_loopback
from .server import create_devidp, run


def main(argv: list[str] | None = None) -> int:
    try:
        env = EnvSettings.from_env()
    except ConfigError as exc:
        print(f"devidp: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="python -m app.devidp",
        description="Development OpenID provider for oidc-login (loopback only, not for production).",
    )
    parser.add_argument("--host", default=env.host, help="loopback address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=env.port, help="port (default %(default)s)")
    parser.add_argument("--issuer", default=env.issuer, help="issuer URL (default http://HOST:PORT)")
    parser.add_argument("--instance-dir", default=env.instance_dir, help="key folder (default %(default)s)")
    args = parser.parse_args(argv)

    try:
        require_loopback(args.host)
        host_in_url = f"[{args.host}]" if ":" in args.host else args.host
        issuer = args.issuer or f"http://{host_in_url}:{args.port}"
        app = create_devidp(
            issuer,
            args.instance_dir,
            client_id=env.client_id,
            client_secret=env.client_secret,
            redirect_uris=env.redirect_uris,
            post_logout_redirect_uris=env.post_logout_redirect_uris,
            users=env.users,
            access_token_ttl=env.access_token_ttl,
            id_token_ttl=env.id_token_ttl,
            refresh_token_ttl=env.refresh_token_ttl,
            code_ttl=env.code_ttl,
            backchannel_logout_uri=env.backchannel_logout_uri,
        )
    except ConfigError as exc:
        print(f"devidp: {exc}", file=sys.stderr)
        return 2
    print(f"Development identity provider (NOT for production) at {issuer}", file=sys.stderr)
    print(f"  discovery: {issuer.rstrip('/')}/.well-known/openid-configuration", file=sys.stderr)
    print(f"  client id: {env.client_id}  demo login: {env.users[0]['username']} / {env.users[0]['password']}",
          file=sys.stderr)
    try:
        run(app, args.host, args.port)
    except OSError as exc:
        print(f"devidp: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
