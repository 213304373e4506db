"""Self-test of the controllable test identity provider (tests/provider)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from tests.provider import ProviderConfig, TestProvider

REDIRECT = "http://localhost:3080/oauth/openid/callback"


@pytest.fixture(scope="module")
def provider():
    with TestProvider(client_id="test-client", client_secret="test-secret") as p:
        yield p


@pytest.fixture
def p(provider: TestProvider) -> TestProvider:
    provider.reset()
    return provider


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(p: TestProvider, **params: Any) -> tuple[int, dict[str, str], str]:
    """GET /authorize; returns (status, redirect query params, verifier)."""
    verifier, challenge = pkce()
    query = {
        "client_id": p.client_id, "redirect_uri": REDIRECT, "response_type": "code",
        "scope": "openid profile email offline_access", "state": "st", "nonce": "nn",
        "code_challenge": challenge, "code_challenge_method": "S256", **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    r = requests.get(p.url("/authorize"), params=query, allow_redirects=False, timeout=5)
    if r.status_code != 302:
        return r.status_code, {}, verifier
    qs = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}
    return r.status_code, qs, verifier


def redeem(p: TestProvider, code: str, verifier: str, auth: Any = ("test-client", "test-secret"), **extra: str):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier, **extra}
    return requests.post(p.url("/token"), data=data, auth=auth, timeout=5)


def refresh(p: TestProvider, token: str) -> requests.Response:
    return requests.post(p.url("/token"), data={"grant_type": "refresh_token", "refresh_token": token},
                         auth=("test-client", "test-secret"), timeout=10)


def login(p: TestProvider, **params: Any) -> dict[str, Any]:
    status, qs, verifier = authorize(p, **params)
    assert status == 302 and "code" in qs, qs
    r = redeem(p, qs["code"], verifier)
    assert r.status_code == 200, r.text
    return r.json()


def verify(p: TestProvider, token: str) -> dict[str, Any]:
    """Verify with joserfc against the JWKS served over HTTP."""
    jwks = KeySet.import_key_set(requests.get(p.url("/jwks"), timeout=5).json())
    return jwt.decode(token, jwks, algorithms=["RS256", "RS384", "PS256", "ES256", "EdDSA"]).claims


def test_discovery_shape_and_overrides(p: TestProvider) -> None:
    doc = requests.get(p.discovery_url, timeout=5).json()
    assert doc["issuer"] == p.issuer == f"http://127.0.0.1:{p.port}"
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"):
        assert doc[key].startswith(p.issuer + "/")
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "offline_access" in doc["scopes_supported"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]

    p.config.id_token_alg = "ES256"
    p.config.discovery_overrides = {"issuer": "https://evil", "code_challenge_methods_supported": None}
    doc = requests.get(p.discovery_url, timeout=5).json()
    assert doc["issuer"] == "https://evil" and "code_challenge_methods_supported" not in doc
    assert doc["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert p.calls["discovery"] == 2


@pytest.mark.parametrize("suffix", ["/", "/oauth2/default"])
def test_issuer_suffix_moves_every_endpoint(p: TestProvider, suffix: str) -> None:
    p.config.issuer_suffix = suffix
    assert p.issuer == f"http://127.0.0.1:{p.port}{suffix}"
    doc = requests.get(p.issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=5).json()
    assert doc["issuer"] == p.issuer
    assert doc["token_endpoint"] == p.issuer.rstrip("/") + "/token"
    if suffix != "/":
        assert requests.get(p.base_url + "/.well-known/openid-configuration", timeout=5).status_code == 404
    tokens = login(p)
    assert verify(p, tokens["id_token"])["iss"] == p.issuer


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["RS256", "RS384", "PS256", "ES256", "EdDSA"])
def test_minted_tokens_verify_against_jwks(p: TestProvider, alg: str) -> None:
    p.config.id_token_alg = alg
    claims = verify(p, p.mint_id_token(nonce="abc"))
    assert claims["sub"] == "user-123" and claims["aud"] == "test-client" and claims["nonce"] == "abc"
    assert claims["exp"] > time.time()
    access = verify(p, p.mint_access_token())
    assert access["aud"] == "test-client" and access["roles"] == ["admin", "user"]
    assert p.decode(p.mint_id_token(sub=None))[1].get("sub") is None


def test_bad_tokens_on_request(p: TestProvider) -> None:
    with pytest.raises(BadSignatureError):
        verify(p, p.mint({"sub": "x"}, key="wrong"))
    kid = p.jwks()["keys"][0]["kid"]
    header, _ = p.decode(p.mint({"sub": "x"}, key="hmac_public"))
    assert header["alg"] == "HS256" and header["kid"] == kid
    token = p.mint({"sub": "x"}, header={"alg": "none"})
    assert p.decode(token)[0]["alg"] == "none" and token.endswith(".")
    p.config.id_token_header = {"kid": None}
    assert "kid" not in p.decode(p.mint_id_token())[0]
    p.config.sign_with = "wrong"
    with pytest.raises(BadSignatureError):
        verify(p, login(p)["id_token"])


def test_code_flow_single_use_nonce_at_hash_and_iss(p: TestProvider) -> None:
    status, qs, verifier = authorize(p, audience="https://api.example.com")
    assert status == 302 and qs["state"] == "st" and qs["iss"] == p.issuer
    r = redeem(p, qs["code"], verifier)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300 and body["refresh_token"]
    claims = verify(p, body["id_token"])
    assert claims["nonce"] == "nn"
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert verify(p, body["access_token"])["aud"] == ["https://api.example.com", p.url("/userinfo")]
    again = redeem(p, qs["code"], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert p.grants["authorization_code"] == 2
    assert p.authorize_requests[-1]["code_challenge_method"] == "S256"
    assert p.token_requests[-1]["code_verifier"] == verifier and p.token_requests[-1]["auth"] == "basic"
    info = requests.get(p.url("/userinfo"), headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5)
    assert info.json()["email"] == "ada@example.com"


def test_pkce_and_client_auth_enforced(p: TestProvider) -> None:
    status, qs, _ = authorize(p)
    assert redeem(p, qs["code"], "not-the-verifier").json()["error"] == "invalid_grant"
    status, qs, _ = authorize(p, code_challenge=None, code_challenge_method=None)
    assert status == 302 and qs["error"] == "invalid_request"
    status, qs, verifier = authorize(p)
    r = redeem(p, qs["code"], verifier, auth=("test-client", "nope"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # client_secret_post works too
    r = redeem(p, qs["code"], verifier, auth=None, client_id="test-client", client_secret="test-secret")
    assert r.status_code == 200 and p.token_requests[-1]["auth"] == "post"
    status, qs, verifier = authorize(p)
    assert redeem(p, qs["code"], verifier, redirect_uri="http://localhost/other").json()["error"] == "invalid_grant"
    assert authorize(p, client_id="unknown")[0] == 400


def test_public_client() -> None:
    with TestProvider(client_secret=None) as pub:
        status, qs, verifier = authorize(pub)
        r = redeem(pub, qs["code"], verifier, auth=None, client_id="test-client")
        assert r.status_code == 200 and pub.token_requests[-1]["auth"] == "none"


def test_refresh_rotation_and_reuse_revokes_family(p: TestProvider) -> None:
    first = login(p)["refresh_token"]
    r = refresh(p, first)
    assert r.status_code == 200
    second = r.json()["refresh_token"]
    assert second != first and "id_token" in r.json()
    assert refresh(p, first).json()["error"] == "invalid_grant"  # reuse
    assert p.revoked_families == 1
    assert refresh(p, second).json()["error"] == "invalid_grant"  # whole family is dead
    assert p.grants["refresh_token"] == 3

    p.config.refresh_sub_override = "someone-else"
    r = refresh(p, p.issue_tokens()["refresh_token"])
    assert verify(p, r.json()["id_token"])["sub"] == "someone-else"


def test_concurrent_refresh_is_exact(p: TestProvider) -> None:
    token = p.issue_tokens()["refresh_token"]
    p.config.delay = {"token": 0.2}
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: refresh(p, token).status_code, range(50)))
    assert results.count(200) == 1 and results.count(400) == 49
    assert p.revoked_families == 1 and p.grants["refresh_token"] == 50


def test_refresh_policies(p: TestProvider) -> None:
    assert "refresh_token" not in p.issue_tokens(scope="openid")
    p.config.refresh_tokens = "always"
    assert "refresh_token" in p.issue_tokens(scope="openid")
    p.config.refresh_tokens = "never"
    assert "refresh_token" not in p.issue_tokens()
    p.config.refresh_tokens = "offline_access"
    p.config.refresh_error = "invalid_grant"
    assert refresh(p, p.issue_tokens()["refresh_token"]).json()["error"] == "invalid_grant"


def test_access_token_formats(p: TestProvider) -> None:
    p.config.access_token_format = "opaque"
    assert "." not in login(p)["access_token"]
    p.config.access_token_format = "jwe"
    assert login(p)["access_token"].count(".") == 4


def test_authorize_error_and_iss_override(p: TestProvider) -> None:
    p.config.authorize_error = ("access_denied", "<b>User</b> said no")
    p.config.iss_param_value = "https://evil"
    status, qs, _ = authorize(p)
    assert qs == {"error": "access_denied", "error_description": "<b>User</b> said no",
                  "state": "st", "iss": "https://evil"}
    p.reset()
    p.config.iss_param = False
    assert "iss" not in authorize(p)[1]


def test_fail_delay_and_down(p: TestProvider) -> None:
    p.config.fail = {"jwks": 500, "token": 503}
    r = requests.get(p.url("/jwks"), timeout=5)
    assert r.status_code == 500 and r.json() == {"error": "server_error"}
    assert refresh(p, "x").status_code == 503
    p.config.fail = {}
    p.config.delay = {"discovery": 0.3}
    started = time.monotonic()
    requests.get(p.discovery_url, timeout=5)
    assert time.monotonic() - started >= 0.3
    p.config.down = True
    with pytest.raises(requests.ConnectionError):
        requests.get(p.discovery_url, timeout=5)
    p.config.down = False
    assert requests.get(p.discovery_url, timeout=5).status_code == 200


def test_restart_on_same_port() -> None:
    with TestProvider() as q:
        port = q.port
        assert requests.get(q.discovery_url, timeout=5).status_code == 200
        q.stop()
        with pytest.raises(requests.ConnectionError):
            requests.get(q.discovery_url, timeout=2)
        q.start()
        assert q.port == port
        assert requests.get(q.discovery_url, timeout=5).json()["issuer"] == f"http://127.0.0.1:{port}"


def test_key_rotation_and_extra_keys(p: TestProvider) -> None:
    old_token = p.mint_id_token()
    old_kid = p.jwks()["keys"][0]["kid"]
    p.rotate_keys()
    kids = [k["kid"] for k in p.jwks()["keys"]]
    assert old_kid not in kids and len(kids) == 1
    with pytest.raises(Exception):
        verify(p, old_token)
    assert verify(p, p.mint_id_token())["sub"] == "user-123"
    p.add_key("EC")
    p.add_key("OKP")
    assert [k["kty"] for k in p.jwks()["keys"]] == ["RSA", "EC", "OKP"]
    p.reset()
    assert [k["kid"] for k in p.jwks()["keys"]] == [old_kid]


def test_logout_records_and_redirects(p: TestProvider) -> None:
    r = requests.get(p.url("/logout"), params={"post_logout_redirect_uri": "http://localhost:3080/login",
                                               "state": "s", "id_token_hint": "t"}, allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"] == "http://localhost:3080/login?state=s"
    assert p.end_session_requests[-1]["id_token_hint"] == "t" and p.calls["end_session"] == 1
    assert requests.get(p.url("/logout"), timeout=5).status_code == 200


def test_config_is_a_dataclass() -> None:
    cfg = ProviderConfig()
    assert cfg.id_token_alg == "RS256" and cfg.fail == {} and cfg.pkce_required is True
