"""A development provider on a free loopback port, in a thread, plus a tiny browser-ish client."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from app.devidp import create_devidp, make_devidp_server

CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret-0123456789"
REDIRECT_URI = "http://localhost:3999/oauth/openid/callback"
POST_LOGOUT = "http://localhost:3999/login"
AUDIENCE = "https://api.oidc-login.dev"


class Clock:
    """A movable clock shared by the provider's token tables."""

    def __init__(self) -> None:
        import time

        self.offset = 0.0
        self._time = time.time

    def __call__(self) -> float:
        return self._time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Idp:
    base: str
    instance_dir: Path
    clock: Clock
    client_secret: str | None
    app: Any = None
    _jwks: KeySet | None = field(default=None, repr=False)

    def url(self, path: str) -> str:
        return self.base + path

    @property
    def jwks(self) -> KeySet:
        if self._jwks is None:
            self._jwks = KeySet.import_key_set(requests.get(self.url("/.well-known/jwks.json"), timeout=5).json())
        return self._jwks

    def decode(self, token: str) -> jwt.Token:
        """Verify a token against the served JWKS (RS256 only) and return it."""
        return jwt.decode(token, self.jwks, algorithms=["RS256"])

    # -- the relying party's side of the flow ----------------------------------------------
    def auth_params(self, scope: str = "openid profile email offline_access", **extra: str) -> dict[str, str]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "_verifier": verifier,
        }
        params.update(extra)
        return params

    def authorize(self, browser: requests.Session, params: dict[str, str]) -> requests.Response:
        query = {k: v for k, v in params.items() if not k.startswith("_")}
        return browser.get(self.url("/authorize"), params=query, allow_redirects=False, timeout=5)

    def follow_to_client(
        self,
        browser: requests.Session,
        params: dict[str, str],
        *,
        username: str = "demo",
        password: str = "demo",
        consent: str = "allow",
    ) -> dict[str, str]:
        """Drive authorize → login form → consent until the redirect back to the client."""
        resp = self.authorize(browser, params)
        for _ in range(6):
            assert resp.status_code in (200, 302, 303), resp.text
            if resp.status_code in (302, 303):
                loc = resp.headers["Location"]
                if loc.startswith(REDIRECT_URI):
                    return {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}
                resp = browser.get(requests.compat.urljoin(self.base + "/", loc), allow_redirects=False, timeout=5)
                continue
            form = form_fields(resp.text)
            action = requests.compat.urljoin(resp.url, form.pop("_action"))
            if "password" in form:
                form.update(username=username, password=password, action="login")
            else:
                form["decision"] = consent
            resp = browser.post(action, data=form, allow_redirects=False, timeout=5)
        raise AssertionError("the flow did not come back to the client")

    def exchange(self, code: str, verifier: str | None, *, auth: str = "basic", **extra: str) -> requests.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        if verifier is not None:
            data["code_verifier"] = verifier
        data.update(extra)
        return self.token_request(data, auth=auth)

    def refresh(self, refresh_token: str, **extra: str) -> requests.Response:
        return self.token_request({"grant_type": "refresh_token", "refresh_token": refresh_token, **extra})

    def token_request(self, data: dict[str, str], *, auth: str = "basic") -> requests.Response:
        if self.client_secret is None or auth == "none":
            data = {**data, "client_id": CLIENT_ID}
            return requests.post(self.url("/oauth/token"), data=data, timeout=5)
        if auth == "post":
            data = {**data, "client_id": CLIENT_ID, "client_secret": self.client_secret}
            return requests.post(self.url("/oauth/token"), data=data, timeout=5)
        return requests.post(self.url("/oauth/token"), data=data, auth=(CLIENT_ID, self.client_secret), timeout=5)

    def login(self, scope: str = "openid profile email offline_access", **extra: str) -> dict[str, Any]:
        """A whole login in a fresh browser: the token response plus what the flow used."""
        browser = requests.Session()
        params = self.auth_params(scope, **extra)
        back = self.follow_to_client(browser, params)
        resp = self.exchange(back["code"], params["_verifier"])
        assert resp.status_code == 200, resp.text
        return {"tokens": resp.json(), "params": params, "browser": browser, "callback": back}


def form_fields(page: str) -> dict[str, str]:
    """The first form's action and hidden inputs (what a browser would post)."""
    action = re.search(r'<form[^>]*action="([^"]*)"', page)
    assert action, page
    fields = {"_action": html.unescape(action.group(1))}
    for m in re.finditer(r"<input([^>]*)>", page):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if "name" in attrs:
            fields[attrs["name"]] = html.unescape(attrs.get("value", ""))
    return fields


def start_idp(
    instance_dir: Path, *, client_secret: str | None = CLIENT_SECRET, **kwargs: Any
) -> tuple[Idp, Any, threading.Thread]:
    """Bind a free port first (so the issuer is known), then build the app behind it."""
    holder: dict[str, Any] = {}
    server = make_devidp_server(lambda env, start: holder["app"](env, start), "127.0.0.1", 0)
    clock = kwargs.pop("clock", None) or Clock()
    base = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = create_devidp(
        base,
        str(instance_dir),
        client_id=CLIENT_ID,
        client_secret=client_secret,
        redirect_uris=[REDIRECT_URI],
        post_logout_redirect_uris=[POST_LOGOUT],
        clock=clock,
        **kwargs,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return Idp(base, instance_dir, clock, client_secret, holder["app"]), server, thread


@pytest.fixture
def idp_factory(tmp_path: Path) -> Iterator[Any]:
    servers: list[Any] = []

    def make(instance_dir: Path | None = None, **kwargs: Any) -> Idp:
        idp, server, _ = start_idp(instance_dir or tmp_path, **kwargs)
        servers.append(server)
        return idp

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def idp(idp_factory: Any) -> Idp:
    return idp_factory()
