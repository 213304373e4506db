"""Debian's nginx and Caddy running the shipped configurations (deploy/), on free loopback
ports, terminating TLS with a certificate made at test time.

The files are used as they are: nginx's ${UPPER_CASE} placeholders are replaced (ports,
paths, certificate locations) and a minimal main configuration includes the result; Caddy
reads its {$VARIABLES} from the environment itself."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.browser.servers import REPO, ManagedProcess, _base_env
from tests.interop.harness import free_port

NGINX_CONF = REPO / "deploy" / "nginx" / "oidc-login.conf"
CADDYFILE = REPO / "deploy" / "caddy" / "Caddyfile"
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def require(binary: str, package: str) -> str:
    """The binary's path; a missing one skips the test, or fails it under CI=true."""
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if path is None:
        message = f"{binary} is missing (apt-get install {package}; ./run-tests installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def render_nginx(template: str, values: dict[str, str]) -> str:
    """Replaces every ${NAME} outside comments; an unknown one is an error (the file and the
    test disagree)."""

    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return "\n".join(
        line if line.lstrip().startswith("#") else _PLACEHOLDER.sub(value, line)
        for line in template.splitlines()
    )


class Proxy(ManagedProcess):
    """Common to both: the public https URL and the certificate clients trust."""

    kind = "proxy"

    def __init__(self, *, cert: Path, key: Path, oidc_login: str, app: str) -> None:
        super().__init__()
        self.https_port = free_port()
        self.http_port = free_port()
        self.cert, self.key = cert, key
        self.oidc_login, self.app = oidc_login, app
        self.url = f"https://127.0.0.1:{self.https_port}"
        #: nginx: the configuration text rendered at start (the benchmark turns auth off in it).
        self.template = NGINX_CONF.read_text()

    def _wait_tls(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.logs()}")
            try:
                requests.get(self.url + "/login", verify=str(self.cert), timeout=2, allow_redirects=False)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready at {self.url}:\n{self.logs()}")


class Nginx(Proxy):
    name = "nginx"

    def start(self) -> "Nginx":
        binary = require("nginx", "nginx")
        site = render_nginx(self.template, {
            "SERVER_NAME": "127.0.0.1 localhost",
            "HTTPS_PORT": f"127.0.0.1:{self.https_port}",
            "HTTP_PORT": f"127.0.0.1:{self.http_port}",
            "TLS_CERT": str(self.cert),
            "TLS_KEY": str(self.key),
            "OIDC_LOGIN": self.oidc_login,
            "APP": self.app,
        })
        (self.workdir / "oidc-login.conf").write_text(site)
        temp = self.workdir / "temp"
        temp.mkdir()
        # The main context a distribution's nginx.conf would give, inside this test's folder.
        (self.workdir / "nginx.conf").write_text(f"""
daemon off;
master_process on;
worker_processes 2;
pid {self.workdir}/nginx.pid;
error_log {self.log_path} warn;
{"user root;" if os.getuid() == 0 else ""}
events {{ worker_connections 1024; }}
http {{
    access_log {self.workdir}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include /etc/nginx/mime.types;
    include {self.workdir}/oidc-login.conf;
}}
""")
        self._spawn([binary, "-p", str(self.workdir), "-e", str(self.log_path),
                     "-c", str(self.workdir / "nginx.conf")], _base_env())
        self._wait_tls()
        return self


class Caddy(Proxy):
    name = "caddy"

    def start(self) -> "Caddy":
        binary = require("caddy", "caddy")
        env = _base_env()
        env.update({
            "HOME": str(self.workdir),
            "XDG_DATA_HOME": str(self.workdir / "data"),
            "XDG_CONFIG_HOME": str(self.workdir / "config"),
            "SITE_ADDRESS": "127.0.0.1",
            "HTTPS_PORT": str(self.https_port),
            "HTTP_PORT": str(self.http_port),
            "TLS_CERT": str(self.cert),
            "TLS_KEY": str(self.key),
            "OIDC_LOGIN": self.oidc_login,
            "APP": self.app,
            "CADDY_ADMIN": "off",
        })
        self._spawn([binary, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"], env)
        self._wait_tls()
        return self


PROXIES = {"nginx": Nginx, "caddy": Caddy}


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
