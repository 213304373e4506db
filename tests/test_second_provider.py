"""Interop with an OpenID provider implementation nobody here wrote: django-oauth-toolkit
(installed from PyPI by ./run-tests through the `test` extra), configured as an OpenID
provider with RS256 ID tokens, PKCE, refresh tokens and RP-initiated logout, on loopback.
Its access tokens are opaque, so token reuse does not apply; login, roles (ID token and
userinfo), admin and logout are driven over HTTP as a browser would, through its own
Django login form."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.web.test_auth import error_code

ROOT = Path(__file__).resolve().parents[1]

try:
    import oauth2_provider  # noqa: F401
except ImportError:  # pragma: no cover - the test extra installs it
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("django-oauth-toolkit is not installed (pip install -e .[test])", allow_module_level=True)

from tests.second_provider.dot_server import CLIENT_ID, CLIENT_SECRET, PASSWORD, USER  # noqa: E402


@pytest.fixture(scope="module")
def dot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The toolkit's provider in a subprocess; yields its issuer."""
    workdir = tmp_path_factory.mktemp("dot")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.second_provider.dot_server", str(workdir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""  # blocks until ready (or exit)
        if not line.startswith("PORT "):
            proc.kill()
            raise RuntimeError("django-oauth-toolkit did not start: " + (proc.stderr.read() if proc.stderr else ""))
        yield f"http://127.0.0.1:{int(line.split()[1])}/o"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def app_for(make_app, issuer: str, **env: str):
    return make_app(OPENID_ISSUER=issuer, OPENID_CLIENT_ID=CLIENT_ID, OPENID_CLIENT_SECRET=CLIENT_SECRET, **env)


def sign_in(live, http: requests.Session | None = None) -> tuple[requests.Session, requests.Response]:
    """Start a login, fill in the toolkit's Django login form, follow it back to us."""
    http = http or requests.Session()
    form = http.get(live.url + "/oauth/openid", timeout=15)
    assert form.status_code == 200 and "csrfmiddlewaretoken" in form.text, form.text[:300]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    after = re.search(r'name="next" value="([^"]*)"', form.text).group(1)
    done = http.post(form.url, data={"csrfmiddlewaretoken": token, "username": USER, "password": PASSWORD,
                                     "next": html.unescape(after)}, timeout=15)
    return http, done


def test_login_profile_roles_and_admin(make_app, dot):
    live = app_for(make_app, dot, OPENID_REQUIRED_ROLE="chat", OPENID_ADMIN_ROLE="admin")
    http, done = sign_in(live)
    assert done.status_code == 200 and done.url.startswith(live.url), done.url
    me = live.get(http, "/api/user").json()
    assert me["iss"] == dot
    assert (me["email"], me["name"], me["username"]) == ("ada@example.com", "Ada Lovelace", "ada")
    assert set(me["roles"]) == {"chat", "admin"} and me["admin"] is True
    assert me["session"]["access_token_format"] == "opaque"


def test_required_role_missing(make_app, dot):
    live = app_for(make_app, dot, OPENID_REQUIRED_ROLE="billing")
    http, done = sign_in(live)
    assert done.status_code == 403 and error_code(done) == "ROLE_REQUIRED"
    assert live.get(http, "/api/user").status_code == 401


def test_roles_from_its_userinfo_endpoint(make_app, dot):
    live = app_for(make_app, dot, OPENID_REQUIRED_ROLE="chat", OPENID_REQUIRED_ROLE_TOKEN_KIND="userinfo",
                   OPENID_ADMIN_ROLE="admin", OPENID_ADMIN_ROLE_TOKEN_KIND="userinfo")
    http, done = sign_in(live)
    assert done.status_code == 200, done.text[:300]
    me = live.get(http, "/api/user").json()
    assert "chat" in me["roles"] and me["admin"] is True


def test_logout_ends_our_session_and_the_providers(make_app, dot):
    live = app_for(make_app, dot, OPENID_USE_END_SESSION_ENDPOINT="true")
    http, _ = sign_in(live)
    response = live.post(http, "/api/auth/logout", json={}, headers={"Origin": live.url})
    assert response.status_code == 200
    target = response.json()["redirect"]
    assert target.startswith(dot + "/logout/") and "id_token_hint=" in target
    back = http.get(target, timeout=15)  # the toolkit ends its session, then sends us back
    assert back.status_code == 200 and back.url.startswith(live.url + "/login"), back.url
    assert live.get(http, "/api/user").status_code == 401
    again = http.get(live.url + "/oauth/openid", timeout=15)
    assert "csrfmiddlewaretoken" in again.text  # the provider asks for the password again


def test_check_passes_against_it(dot, monkeypatch, capsys, tmp_path):
    from app import check

    for name in list(os.environ):
        if name.startswith(("OPENID_", "DOMAIN_", "REDIS_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    for name, value in {"OPENID_ISSUER": dot, "OPENID_CLIENT_ID": CLIENT_ID, "OPENID_CLIENT_SECRET": CLIENT_SECRET,
                        "OPENID_SESSION_SECRET": "Zq8v3LkP0xWm7RtY2bN5cJ9hF4sD6gA1eUoI",
                        "DOMAIN_SERVER": "http://127.0.0.1:3080"}.items():
        monkeypatch.setenv(name, value)
    assert check.main(json_output=True) == 0, capsys.readouterr().out
