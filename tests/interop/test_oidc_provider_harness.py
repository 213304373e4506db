"""Self-test of the oidc-provider harness: it really behaves like Auth0 where oidc-login cares.

A scripted code flow (plain HTTP, no browser) proves: discovery advertises S256 and the RFC 9207
`iss` parameter, `audience` yields an RS256 JWT access token with that `aud`, no audience yields an
opaque one, `offline_access` yields a (rotating) refresh token, and the ID token carries the
profile claims and roles.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests

from tests.interop.harness import OidcProviderProcess, node_modules_ready

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        not node_modules_ready(),
        reason="oidc-provider not installed (run `npm ci --prefix tests/interop`) or node missing",
    ),
]

REDIRECT_URI = "http://127.0.0.1:9/oauth/openid/callback"  # never contacted
AUDIENCE = "https://api.interop.test"


def b64url_json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def scripted_login(op: OidcProviderProcess, *, audience: str | None, scope: str) -> dict:
    """Authorization code + PKCE through the provider's own login and consent pages."""
    disco = op.discovery()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": op.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if audience:
        params["audience"] = audience
    s = requests.Session()
    r = s.get(disco["authorization_endpoint"], params=params, allow_redirects=False, timeout=5)
    seen = set()
    for _ in range(12):
        assert r.status_code in (302, 303), (r.status_code, r.text[:500])
        location = urljoin(r.url, r.headers["Location"])
        if location.startswith(REDIRECT_URI):
            break
        if location in seen and "/interaction/" not in location:
            pytest.fail(f"redirect loop at {location}")
        seen.add(location)
        r = s.get(location, allow_redirects=False, timeout=5)
        if r.status_code == 200 and "/interaction/" in location:
            uid = urlparse(location).path.rsplit("/", 1)[-1]
            if 'name="password"' in r.text:
                r = s.post(f"{op.issuer}/interaction/{uid}/login",
                           data={"login": op.user["login"], "password": op.user["password"]},
                           allow_redirects=False, timeout=5)
            else:
                assert "Accept" in r.text, r.text[:500]
                r = s.post(f"{op.issuer}/interaction/{uid}/confirm", allow_redirects=False, timeout=5)
    else:
        pytest.fail("no redirect back to the client")
    q = parse_qs(urlparse(location).query)
    assert "error" not in q, q
    assert q["state"] == [state]
    assert q["iss"] == [op.issuer], "RFC 9207 iss parameter"
    tokens = requests.post(
        disco["token_endpoint"],
        data={"grant_type": "authorization_code", "code": q["code"][0],
              "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
        auth=(op.client_id, op.client_secret), timeout=5,
    )
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    body["_nonce"] = nonce
    return body


def test_discovery_like_auth0():
    with OidcProviderProcess(redirect_uri=REDIRECT_URI) as op:
        d = op.discovery()
        assert d["issuer"] == op.issuer
        assert op.issuer.startswith("http://127.0.0.1:")
        assert d["code_challenge_methods_supported"] == ["S256"]
        assert d["authorization_response_iss_parameter_supported"] is True
        assert "offline_access" in d["scopes_supported"]
        assert d["end_session_endpoint"].startswith(op.issuer)
        assert "RS256" in d["id_token_signing_alg_values_supported"]
        keys = requests.get(d["jwks_uri"], timeout=5).json()["keys"]
        assert len(keys) == 1 and keys[0]["kty"] == "RSA" and "d" not in keys[0]


def test_audience_gives_jwt_access_token_and_rotating_refresh_token():
    from joserfc import jwt
    from joserfc.jwk import KeySet

    with OidcProviderProcess(redirect_uri=REDIRECT_URI, audience=AUDIENCE, access_token_ttl=20) as op:
        t = scripted_login(op, audience=AUDIENCE, scope="openid profile email offline_access")
        assert t["expires_in"] <= 20
        assert "refresh_token" in t, "offline_access must yield a refresh token"
        keys = KeySet.import_key_set(requests.get(op.discovery()["jwks_uri"], timeout=5).json())
        at = jwt.decode(t["access_token"], keys)
        assert at.header["alg"] == "RS256"
        assert at.claims["iss"] == op.issuer
        aud = at.claims["aud"]
        assert aud == AUDIENCE or AUDIENCE in aud
        assert at.claims["sub"] == op.user["sub"]
        assert at.claims["exp"] - at.claims["iat"] == 20

        idt = jwt.decode(t["id_token"], keys).claims
        assert idt["aud"] == op.client_id and idt["nonce"] == t["_nonce"]
        for claim in ("email", "name", "picture"):
            assert idt[claim] == (op.user.get(claim) or idt[claim])
        assert idt["email"] == op.user["email"] and idt["name"] == op.user["name"]
        assert idt["roles"] == ["user"]

        # Refresh keeps the audience (JWT again) and rotates the refresh token.
        time.sleep(1.1)
        r = requests.post(op.discovery()["token_endpoint"],
                          data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"]},
                          auth=(op.client_id, op.client_secret), timeout=5)
        assert r.status_code == 200, r.text
        t2 = r.json()
        assert t2["refresh_token"] != t["refresh_token"]
        at2 = jwt.decode(t2["access_token"], keys).claims
        assert at2["exp"] > at.claims["exp"]
        assert AUDIENCE in (at2["aud"] if isinstance(at2["aud"], list) else [at2["aud"]])
        assert "id_token" in t2


def test_no_audience_gives_opaque_access_token():
    with OidcProviderProcess(redirect_uri=REDIRECT_URI, audience=AUDIENCE, expose_tokens=True) as op:
        t = scripted_login(op, audience=None, scope="openid profile email offline_access")
        deadline = time.monotonic() + 5
        while not op.token_responses and time.monotonic() < deadline:
            time.sleep(0.05)
        assert t["access_token"] in op.issued_tokens()
        assert t["access_token"] not in op.logs()
        assert t["access_token"].count(".") == 0, "access token must be opaque without audience"
        assert "refresh_token" in t


def test_no_offline_access_no_refresh_token():
    with OidcProviderProcess(redirect_uri=REDIRECT_URI, audience=AUDIENCE) as op:
        t = scripted_login(op, audience=AUDIENCE, scope="openid profile email")
        assert "refresh_token" not in t
        assert t["access_token"].count(".") == 2
