"""Sessions at rest: everything the store and the instance folder hold is worthless to a thief.

Several users log in, with and without token reuse, on the file store and on a real
redis-server; then every key, value and file is dumped and searched for what a thief wants.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from app.store.sealed import Ticket
from tests.conftest import REUSE
from tests.redis_server import RedisServer, redis_available
from tests.web.test_auth import assert_no_session

USERS = [
    {"sub": "user-ada", "email": "ada@example.com", "name": "Ada Lovelace", "roles": ["user"]},
    {"sub": "user-bob", "email": "bob@example.org", "name": "Robert Tables", "roles": ["admin"]},
    {"sub": "user-cy", "email": "cy@example.net", "name": "Cyrille Dupont", "roles": []},
]


@pytest.fixture(scope="module")
def redis_uri() -> Iterator[str]:
    if not redis_available():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with RedisServer() as server:
        yield server.uri


def dump_files(folder: str) -> bytes:
    """Every byte of every file under the instance folder, names included."""
    chunks = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            chunks.append(path.encode())
            try:
                chunks.append(Path(path).read_bytes())
            except OSError:
                pass
    return b"\n".join(chunks)


def dump_redis(uri: str) -> tuple[list[str], bytes]:
    client = redis.Redis.from_url(uri)
    keys = [k.decode() for k in client.keys("*")]
    values = [client.dump(k) or b"" for k in keys]
    client.close()
    return keys, b"\n".join([k.encode() for k in keys] + values)


def secrets_of(live, http) -> list[str]:
    """What a thief wants from one browser's session: the cookie and every token."""
    tokens = live.services.refresher.load(live.vault(http))
    found = [live.cookie(http), Ticket.parse(live.cookie(http)).id]
    found += [t for t in (tokens.access_token, tokens.refresh_token, tokens.id_token) if t]
    return found


@pytest.mark.parametrize("backend", ["files", pytest.param("redis", marks=pytest.mark.redis)])
def test_store_dump_yields_no_cookie_token_email_or_name(make_app, provider, request, backend):
    extra = {"REDIS_URI": request.getfixturevalue("redis_uri")} if backend == "redis" else {}
    apps = [make_app(**extra), make_app(**REUSE, **extra)]
    browsers = []
    for live in apps:
        for user in USERS:
            provider.user = dict(user)
            http = live.login()
            assert live.get(http, "/api/user").json()["email"] == user["email"]
            browsers.append((live, http))
    wanted = [s for live, http in browsers for s in secrets_of(live, http)]
    wanted += [u["email"] for u in USERS] + [u["name"] for u in USERS] + [u["sub"] for u in USERS]
    wanted += ["Lovelace"]
    blobs = [dump_files(live.services.settings.instance_path) for live in apps]
    keys: list[str] = []
    if backend == "redis":
        keys, blob = dump_redis(extra["REDIS_URI"])
        blobs.append(blob)
        assert any(k.startswith("oidc-login:session:") for k in keys)
    jwt_shaped = re.compile(rb"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")  # any JWT, not only ours
    for blob in blobs:
        for secret in wanted:
            assert secret.encode() not in blob, f"{secret[:12]}... found at rest"
        assert not jwt_shaped.search(blob)
    # A cookie built from any stored key (or file name) opens nothing.
    names = keys + [name for live in apps for _r, _d, files in os.walk(live.services.settings.instance_path)
                    for name in files]
    for live in apps[:1]:
        for name in names:
            for candidate in {name, name.split(":")[-1], name.split(".")[0]}:
                thief = requests.Session()
                thief.cookies.set(live.services.settings.cookie_name, candidate)
                response = live.get(thief, "/api/user")
                assert response.status_code == 401
    for live, http in browsers:  # and the real users are still signed in
        assert live.get(http, "/api/user").status_code == 200


def test_tampered_cookie_or_value_is_simply_not_signed_in(make_app):
    live = make_app(**REUSE)
    http = live.login()
    cookie = live.cookie(http)
    ident, secret = cookie.split(".")
    flipped_secret = secret[:-2] + ("AA" if secret[-2:] != "AA" else "BB")
    for forged in (ident + "." + flipped_secret, Ticket.new().id + "." + secret, cookie + "x", ident, secret):
        thief = requests.Session()
        thief.cookies.set(live.services.settings.cookie_name, forged)
        assert live.get(thief, "/api/user").status_code == 401
        page = live.get(thief, "/", allow_redirects=False)
        assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    # A stored value changed by someone with write access to the store: not signed in, no 500.
    store = live.services.store
    vault = live.vault(http)
    raw = store.get(vault.key("session"))
    raw["sealed"] = re.sub(r"[A-Za-z]", "A", raw["sealed"], count=5)
    store.set(vault.key("session"), raw, 60)
    assert live.get(http, "/api/user").status_code == 401


def test_rotating_the_secret_signs_nobody_out(make_app, tmp_path):
    instance = str(tmp_path / "shared-instance")
    old_secret = "the-old-session-secret-that-is-long-enough-0001"
    new_secret = "the-new-session-secret-that-is-long-enough-0002"
    before = make_app(**REUSE, INSTANCE_PATH=instance, OPENID_SESSION_SECRET=old_secret)
    http = before.login()
    after = make_app(**REUSE, INSTANCE_PATH=instance, OPENID_SESSION_SECRET=new_secret,
                     OPENID_SESSION_SECRET_PREVIOUS=old_secret)
    rebound = requests.Session()
    rebound.cookies.set(after.services.settings.cookie_name, before.cookie(http))
    assert after.get(rebound, "/api/user").status_code == 200
    # New writes go under the current secret: a server that knows only it still opens them.
    after.post(rebound, "/api/auth/refresh", json={}, headers={"Origin": after.url})
    only_new = make_app(**REUSE, INSTANCE_PATH=instance, OPENID_SESSION_SECRET=new_secret)
    tokens = only_new.services.refresher.load(only_new.app.session_interface.vault(before.cookie(http)))
    assert tokens is not None and tokens.refreshed == 1
    # Without the old secret listed, sessions written only under it are gone (not a 500).
    other = make_app(**REUSE, INSTANCE_PATH=instance, OPENID_SESSION_SECRET=old_secret)
    fresh = other.login()
    stranger = requests.Session()
    stranger.cookies.set(only_new.services.settings.cookie_name, other.cookie(fresh))
    assert_no_session(only_new, stranger)
