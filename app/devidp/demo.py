"""``oidc-login demo``: the development provider and the login server, wired together.

The provider runs in this process (a threaded werkzeug server on loopback); the login
server runs as a child process with the project's production command,
``python -m app.cli serve``, so the demo shows exactly what an admin would deploy. Its
environment points it at the provider with token reuse on, an audience (JWT access
tokens), ``offline_access`` and a one-minute access token, so refreshes can be watched.

The child runs in a fresh working folder so a ``.env`` meant for a real provider cannot
leak into the demo; any ``OPENID_*`` variable in the shell is replaced for the same reason.
"""

from __future__ import annotations

import argparse
import errno
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import requests

from .config import DEFAULT_USERS, User
from .server import create_devidp, make_devidp_server

CLIENT_ID = "oidc-login-demo"
AUDIENCE = "https://api.oidc-login.dev"
BUTTON_LABEL = "Continue with Dev IdP"
STARTUP_TIMEOUT = 45.0
STOP_TIMEOUT = 15.0

#: Where the project lives: the child imports ``app`` from here wherever it runs.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class DemoError(Exception):
    """Something a newcomer must read: printed without a traceback, exit 1."""


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="oidc-login demo",
        description=(
            "Start the bundled development identity provider and the login server, configured "
            "against each other. Loopback only; Ctrl-C stops both."
        ),
    )
    parser.add_argument("--port", type=int, default=3080, help="login server port (default %(default)s)")
    parser.add_argument("--idp-port", type=int, default=3081, help="development provider port (default %(default)s)")
    parser.add_argument(
        "--access-token-ttl", type=int, default=60,
        help="access token lifetime in seconds; short so refreshes show (default %(default)s)",
    )
    parser.add_argument(
        "--instance-dir", default=os.environ.get("INSTANCE_PATH") or "instance",
        help="folder for the provider's keys and the server's sessions (default $INSTANCE_PATH or ./instance)",
    )
    parser.add_argument("--open", action="store_true", help="open the browser once both are up")
    argv = list(argv)
    if argv[:1] == ["--"]:  # a dispatcher may pass the rest after an explicit "--"
        argv = argv[1:]
    args = parser.parse_args(argv)
    for name in ("port", "idp_port"):
        if not 1 <= getattr(args, name) <= 65535:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 65535")
    if args.port == args.idp_port:
        parser.error("--port and --idp-port must differ")
    if args.access_token_ttl < 10:
        parser.error("--access-token-ttl must be at least 10 seconds")
    return args


def _port_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound (SO_REUSEADDR, as the real servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_taken(port: int, option: str, what: str) -> DemoError:
    return DemoError(
        f"port {port} on 127.0.0.1 is already in use, so the {what} cannot start. "
        f"Stop whatever listens there (another `oidc-login demo`?) or pick another port with {option}."
    )


#: Settings the demo decides itself: a shell that points a real deployment at Redis, a proxy
#: or another cookie must not bend the demo (or send its sessions to production's Redis).
_NOT_INHERITED_PREFIXES = ("OPENID_", "SESSION_", "REDIS_", "DOMAIN_")
_NOT_INHERITED = {"TRUST_PROXY", "INSTANCE_PATH", "HOST", "PORT"}


def _inherited(name: str) -> bool:
    if name == "DEBUG_OPENID_REQUESTS":
        return True
    return not name.startswith(_NOT_INHERITED_PREFIXES) and name not in _NOT_INHERITED


def server_env(args: argparse.Namespace, client_secret: str, instance_dir: Path) -> dict[str, str]:
    """The login server's settings for the demo (the contract's variables)."""
    env = {k: v for k, v in os.environ.items() if _inherited(k)}
    public = f"http://localhost:{args.port}"
    env.update(
        HOST="127.0.0.1",
        PORT=str(args.port),
        OPENID_PROVIDER="custom",
        OPENID_ISSUER=f"http://127.0.0.1:{args.idp_port}",
        OPENID_CLIENT_ID=CLIENT_ID,
        OPENID_CLIENT_SECRET=client_secret,
        OPENID_SCOPE="openid profile email offline_access",
        OPENID_AUDIENCE=AUDIENCE,
        OPENID_REUSE_TOKENS="true",
        OPENID_BUTTON_LABEL=BUTTON_LABEL,
        OPENID_SESSION_SECRET=secrets.token_urlsafe(48),
        OPENID_USE_END_SESSION_ENDPOINT="true",
        OPENID_POST_LOGOUT_REDIRECT_URI=f"{public}/login",
        OPENID_REQUIRED_ROLE_PARAMETER_PATH="roles",
        DOMAIN_SERVER=public,
        DOMAIN_CLIENT=public,
        INSTANCE_PATH=str(instance_dir),
        PYTHONPATH=os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p),
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_until_up(
    url: str, child: subprocess.Popen | None, stop: threading.Event, what: str, timeout: float = STARTUP_TIMEOUT
) -> None:
    """Poll ``url`` until it answers 200; fail early when the child dies or Ctrl-C arrives."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        if child is not None and child.poll() is not None:
            raise DemoError(f"the {what} exited during start-up (exit code {child.returncode}); see its output above")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise DemoError(f"the {what} did not answer at {url} within {int(timeout)} s")
        stop.wait(0.2)


def _stop_child(child: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it lingers."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)


def _banner(args: argparse.Namespace, user: User) -> str:
    url = f"http://localhost:{args.port}/"
    roles = f"   (roles: {', '.join(user.roles)})" if user.roles else ""
    return "\n".join([
        "",
        "  oidc-login demo is running.",
        "",
        f"  Open   {url}",
        f"  Login  {user.username} / {user.password}{roles}",
        "",
        f"  Login server       http://localhost:{args.port}   (oidc-login serve: token reuse on, audience {AUDIENCE})",
        f"  Identity provider  http://127.0.0.1:{args.idp_port}   (development only)",
        f"  Access tokens live {args.access_token_ttl} s, so the home page shows them being refreshed.",
        "",
        "  Press Ctrl-C to stop both.",
        "",
    ])


def main(argv: list[str], *, server_command: list[str] | None = None) -> int:
    """Run the demo until SIGINT/SIGTERM/SIGHUP; 0 on a clean stop, 1 when it cannot start.

    ``server_command`` replaces ``python -m app.cli serve`` (tests use a stub).
    """
    args = _parse(argv)
    stop = threading.Event()
    previous: dict[int, Callable | int | None] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, on_signal)

    child: subprocess.Popen | None = None
    idp_server = None
    idp_thread: threading.Thread | None = None
    try:
        instance_dir = Path(args.instance_dir).resolve()
        instance_dir.mkdir(parents=True, exist_ok=True)
        if not _port_free(args.idp_port):
            raise _port_taken(args.idp_port, "--idp-port", "development identity provider")
        if not _port_free(args.port):
            raise _port_taken(args.port, "--port", "login server")

        client_secret = secrets.token_urlsafe(32)
        app_bases = [f"http://localhost:{args.port}", f"http://127.0.0.1:{args.port}"]
        issuer = f"http://127.0.0.1:{args.idp_port}"
        idp_app = create_devidp(
            issuer,
            str(instance_dir),
            client_id=CLIENT_ID,
            client_secret=client_secret,
            redirect_uris=[f"{b}/oauth/openid/callback" for b in app_bases],
            post_logout_redirect_uris=[f"{b}/login" for b in app_bases],
            users=DEFAULT_USERS,
            access_token_ttl=args.access_token_ttl,
            backchannel_logout_uri=f"http://127.0.0.1:{args.port}/oauth/openid/backchannel-logout",
        )
        try:
            idp_server = make_devidp_server(idp_app, "127.0.0.1", args.idp_port)
        except SystemExit:  # werkzeug exits on EADDRINUSE (lost a race since the check above)
            raise _port_taken(args.idp_port, "--idp-port", "development identity provider") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise _port_taken(args.idp_port, "--idp-port", "development identity provider") from None
            raise DemoError(f"cannot listen on 127.0.0.1:{args.idp_port}: {exc.strerror or exc}") from None
        idp_thread = threading.Thread(target=idp_server.serve_forever, name="devidp", daemon=True)
        idp_thread.start()
        _wait_until_up(f"{issuer}/.well-known/openid-configuration", None, stop, "identity provider")
        if stop.is_set():
            return 0

        # A folder without a .env: the demo's settings are exactly the ones below.
        workdir = instance_dir / "demo"
        workdir.mkdir(exist_ok=True)
        command = server_command or [sys.executable, "-m", "app.cli", "serve"]
        child = subprocess.Popen(command, cwd=workdir, env=server_env(args, client_secret, instance_dir))
        _wait_until_up(f"http://127.0.0.1:{args.port}/healthz", child, stop, "login server")

        if not stop.is_set():
            print(_banner(args, User.from_dict(DEFAULT_USERS[0])), flush=True)
            if args.open:
                webbrowser.open(f"http://localhost:{args.port}/")
        while not stop.wait(0.5):
            if child.poll() is not None:
                raise DemoError(f"the login server stopped unexpectedly (exit code {child.returncode})")
        print("\n  Stopping the demo…", flush=True)
        return 0
    except DemoError as exc:
        print(f"oidc-login demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if child is not None:
            _stop_child(child)
        if idp_server is not None:
            idp_server.shutdown()
            idp_server.server_close()
        if idp_thread is not None:
            idp_thread.join(5)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
