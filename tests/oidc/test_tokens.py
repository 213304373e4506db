"""Token classification and verification: every contract failure path with its exact code."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import joserfc.jwt
import pytest

from app.errors import AuthError
from app.oidc.tokens import VerifiedCache, classify, token_digest
from tests.provider import keys as K

from .conftest import API, claims_for


def _code(fn, *args, **kwargs) -> AuthError:
    with pytest.raises(AuthError) as info:
        fn(*args, **kwargs)
    return info.value


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.fixture
def decode_counter(monkeypatch):
    """Counts signature verifications (joserfc.jwt.decode calls)."""
    calls = {"n": 0}
    real = joserfc.jwt.decode

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(joserfc.jwt, "decode", counting)
    return calls


# -- classify -------------------------------------------------------------------------


def test_classify_jws_is_jwt(provider):
    assert classify(provider.mint_id_token()) == "jwt"
    assert classify(provider.mint_access_token()) == "jwt"


def test_classify_five_segments_is_jwe(provider):
    token = K.encrypt({"sub": "x"})
    assert token.count(".") == 4
    assert classify(token) == "jwe"


def test_classify_random_is_opaque():
    assert classify(secrets.token_urlsafe(32)) == "opaque"
    assert classify(K.opaque_token()) == "opaque"


@pytest.mark.parametrize(
    "token",
    ["a.b.c", "x.y", "a.b.c.d", "e30.e30.e30", _b64({"typ": "JWT"}) + ".e30.sig", "%%%.%%%.%%%"],
)
def test_classify_garbage_is_opaque(token):
    assert classify(token) == "opaque"


def test_classify_nothing_is_none():
    assert classify(None) is None
    assert classify("") is None


# -- ID tokens: the good path -----------------------------------------------------------


def test_valid_id_token(provider, core):
    claims = core.verifier.verify_id_token(provider.mint_id_token())
    assert claims["sub"] == "user-123"
    assert claims["iss"] == provider.issuer
    assert claims["email"] == "ada@example.com"


def test_id_token_from_token_response_with_nonce_and_at_hash(provider, core):
    tokens = provider.issue_tokens(scope="openid", nonce="n-123")
    assert "at_hash" in provider.decode(tokens["id_token"])[1]
    claims = core.verifier.verify_id_token(
        tokens["id_token"], nonce="n-123", access_token=tokens["access_token"]
    )
    assert claims["nonce"] == "n-123"


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("alg", ["RS384", "PS256", "ES256", "ES384", "ES512", "EdDSA"])
def test_advertised_asymmetric_algorithms_are_accepted(provider, core, alg):
    provider.config.id_token_alg = alg
    tokens = provider.issue_tokens(scope="openid", nonce="n")
    assert provider.decode(tokens["id_token"])[0]["alg"] == alg
    claims = core.verifier.verify_id_token(tokens["id_token"], nonce="n", access_token=tokens["access_token"])
    assert claims["sub"] == "user-123"


# -- ID tokens: iss / aud / azp ---------------------------------------------------------


def test_wrong_issuer(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint_id_token(iss="https://evil.example.com"))
    assert err.code == "INVALID_ISSUER"
    assert "https://evil.example.com" in err.message


def test_missing_issuer(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint(claims_for(provider, iss=None)))
    assert err.code == "INVALID_ISSUER"


def test_issuer_with_extra_trailing_slash_is_wrong(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint_id_token(iss=provider.issuer + "/"))
    assert err.code == "INVALID_ISSUER"


@pytest.mark.parametrize("aud", ["other-client", ["other-client", "third"], []])
def test_audience_without_client_id(provider, core, aud):
    err = _code(core.verifier.verify_id_token, provider.mint_id_token(aud=aud))
    assert err.code == "INVALID_AUDIENCE"


def test_missing_audience(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint(claims_for(provider, aud=None)))
    assert err.code == "INVALID_AUDIENCE"


def test_several_audiences_without_azp(provider, core):
    token = provider.mint_id_token(aud=[provider.client_id, "other-client"])
    err = _code(core.verifier.verify_id_token, token)
    assert err.code == "INVALID_AUDIENCE"
    assert "azp" in err.message


def test_several_audiences_with_azp_of_this_client(provider, core):
    token = provider.mint_id_token(aud=[provider.client_id, "other-client"], azp=provider.client_id)
    assert core.verifier.verify_id_token(token)["azp"] == provider.client_id


def test_azp_of_another_client(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint_id_token(azp="other-client"))
    assert err.code == "INVALID_AUDIENCE"
    err = _code(
        core.verifier.verify_id_token,
        provider.mint_id_token(aud=[provider.client_id, "other-client"], azp="other-client"),
    )
    assert err.code == "INVALID_AUDIENCE"


def test_single_audience_list_without_azp_is_fine(provider, core):
    assert core.verifier.verify_id_token(provider.mint_id_token(aud=[provider.client_id]))


# -- ID tokens: time ------------------------------------------------------------------


def test_expired(provider, make_core):
    core = make_core(leeway=60)
    now = int(time.time())
    err = _code(core.verifier.verify_id_token, provider.mint_id_token(iat=now - 600, exp=now - 61))
    assert err.code == "TOKEN_EXPIRED"
    assert err.status == 401


def test_expired_within_clock_tolerance_is_accepted(provider, make_core):
    now = int(time.time())
    token = provider.mint_id_token(iat=now - 600, exp=now - 30)
    assert make_core(leeway=60).verifier.verify_id_token(token)
    # ... and it is the tolerance that accepts it.
    assert _code(make_core(leeway=0).verifier.verify_id_token, token).code == "TOKEN_EXPIRED"


def test_missing_exp_is_refused(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint(claims_for(provider, exp=None)))
    assert err.code == "TOKEN_EXPIRED"


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_issued_or_valid_in_the_future(provider, make_core, claim):
    now = int(time.time())
    token = provider.mint_id_token(**{claim: now + 300, "exp": now + 900})
    err = _code(make_core(leeway=60).verifier.verify_id_token, token)
    assert err.code == "TOKEN_NOT_YET_VALID"
    assert claim in err.message


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_future_within_clock_tolerance_is_accepted(provider, make_core, claim):
    now = int(time.time())
    token = provider.mint_id_token(**{claim: now + 30, "exp": now + 900})
    assert make_core(leeway=60).verifier.verify_id_token(token)
    assert _code(make_core(leeway=0).verifier.verify_id_token, token).code == "TOKEN_NOT_YET_VALID"


# -- ID tokens: sub / nonce / at_hash ---------------------------------------------------


def test_missing_sub(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint(claims_for(provider, sub=None)))
    assert err.code == "MISSING_SUB"


@pytest.mark.parametrize("sub", ["", 123])
def test_empty_or_non_string_sub(provider, core, sub):
    err = _code(core.verifier.verify_id_token, provider.mint(claims_for(provider, sub=sub)))
    assert err.code == "MISSING_SUB"


def test_nonce_mismatch(provider, core):
    token = provider.mint_id_token(nonce="sent-by-someone-else")
    err = _code(core.verifier.verify_id_token, token, nonce="ours")
    assert err.code == "INVALID_NONCE"
    assert err.status == 400


def test_nonce_missing_when_one_was_sent(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint_id_token(), nonce="ours")
    assert err.code == "INVALID_NONCE"


def test_nonce_not_a_string(provider, core):
    err = _code(core.verifier.verify_id_token, provider.mint_id_token(nonce=["ours"]), nonce="ours")
    assert err.code == "INVALID_NONCE"


def test_nonce_match(provider, core):
    assert core.verifier.verify_id_token(provider.mint_id_token(nonce="ours"), nonce="ours")["nonce"] == "ours"


def test_at_hash_mismatch(provider, core):
    tokens = provider.issue_tokens(scope="openid", nonce="n")
    other = provider.mint_access_token()
    err = _code(core.verifier.verify_id_token, tokens["id_token"], nonce="n", access_token=other)
    assert err.code == "INVALID_SIGNATURE"
    assert "at_hash" in err.message


def test_at_hash_garbage(provider, core):
    access = provider.mint_access_token()
    token = provider.mint_id_token(at_hash="AAAAAAAAAAAAAAAAAAAAAA")
    err = _code(core.verifier.verify_id_token, token, access_token=access)
    assert err.code == "INVALID_SIGNATURE"


# -- ID tokens: signatures and algorithms --------------------------------------------------


def test_bad_signature(provider, core):
    provider.config.sign_with = "wrong"  # an unpublished key under the published kid
    err = _code(core.verifier.verify_id_token, provider.mint_id_token())
    assert err.code == "INVALID_SIGNATURE"


def test_tampered_payload(provider, core):
    head, _, sig = provider.mint_id_token().split(".")
    forged = head + "." + _b64(claims_for(provider, sub="admin")) + "." + sig
    err = _code(core.verifier.verify_id_token, forged)
    assert err.code == "INVALID_SIGNATURE"


def test_alg_none(provider, core):
    token = provider.mint(claims_for(provider), header={"alg": "none"})
    assert provider.decode(token)[0]["alg"] == "none"
    err = _code(core.verifier.verify_id_token, token)
    assert err.code == "UNSUPPORTED_ALGORITHM"


def test_alg_none_refused_even_when_advertised(provider, core):
    provider.config.discovery_overrides = {"id_token_signing_alg_values_supported": ["none", "RS256"]}
    err = _code(core.verifier.verify_id_token, provider.mint(claims_for(provider), header={"alg": "none"}))
    assert err.code == "UNSUPPORTED_ALGORITHM"


def test_hs256_keyed_with_public_key(provider, core):
    token = provider.mint(claims_for(provider), key="hmac_public")
    assert provider.decode(token)[0]["alg"] == "HS256"
    err = _code(core.verifier.verify_id_token, token)
    assert err.code == "UNSUPPORTED_ALGORITHM"


def test_hs256_refused_even_when_advertised(provider, core):
    provider.config.discovery_overrides = {"id_token_signing_alg_values_supported": ["HS256", "RS256"]}
    err = _code(core.verifier.verify_id_token, provider.mint(claims_for(provider), key="hmac_public"))
    assert err.code == "UNSUPPORTED_ALGORITHM"


def test_asymmetric_alg_not_advertised(provider, core):
    provider.add_key("EC")  # the key exists, so only the advertisement refuses it
    token = provider.mint(claims_for(provider), header={"alg": "ES256"})
    doc = core.discovery.metadata()
    assert "ES256" not in doc["id_token_signing_alg_values_supported"]
    err = _code(core.verifier.verify_id_token, token)
    assert err.code == "UNSUPPORTED_ALGORITHM"
    assert provider.calls["jwks"] == 0  # refused before any key lookup


def test_advertised_list_limits_algorithms(provider, core):
    provider.config.discovery_overrides = {"id_token_signing_alg_values_supported": ["ES256"]}
    err = _code(core.verifier.verify_id_token, provider.mint_id_token())  # RS256
    assert err.code == "UNSUPPORTED_ALGORITHM"


def test_silent_provider_means_rs256_only(provider, core):
    provider.config.discovery_overrides = {"id_token_signing_alg_values_supported": None}
    assert core.verifier.verify_id_token(provider.mint_id_token())
    provider.config.id_token_alg = "ES256"
    core.discovery.invalidate()
    err = _code(core.verifier.verify_id_token, provider.mint_id_token())
    assert err.code == "UNSUPPORTED_ALGORITHM"


def test_non_string_alg_header(provider, core):
    token = _b64({"alg": ["RS256"], "typ": "JWT"}) + "." + _b64(claims_for(provider)) + ".c2ln"
    assert classify(token) == "jwt"
    err = _code(core.verifier.verify_id_token, token)
    assert err.code == "UNSUPPORTED_ALGORITHM"


def test_id_token_must_be_a_jws(provider, core):
    assert _code(core.verifier.verify_id_token, K.encrypt(claims_for(provider))).code == "INVALID_SIGNATURE"
    assert _code(core.verifier.verify_id_token, "opaque-token").code == "INVALID_SIGNATURE"
    assert _code(core.verifier.verify_id_token, "").code == "INVALID_SIGNATURE"


def test_access_token_typed_at_jwt_is_not_an_id_token(provider, core):
    token = provider.mint_id_token()
    at = provider.mint(provider.decode(token)[1], header={"typ": "at+jwt"})
    err = _code(core.verifier.verify_id_token, at)
    assert err.code == "INVALID_SIGNATURE"


# -- reused access tokens ------------------------------------------------------------------


@pytest.fixture
def api_core(make_core):
    return make_core(audience=API)


def _access(provider, **overrides: Any) -> str:
    return provider.mint_access_token(**{"aud": [API, provider.url("/userinfo")], **overrides})


def test_access_token_valid(provider, api_core):
    claims = api_core.verifier.verify_access_token(_access(provider))
    assert claims["sub"] == "user-123"


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", None])
def test_access_token_typ_accepted(provider, api_core, typ):
    provider.config.access_token_header = {"typ": typ}
    token = _access(provider)
    assert provider.decode(token)[0].get("typ") == typ
    assert api_core.verifier.verify_access_token(token)


@pytest.mark.parametrize("typ", ["dpop+jwt", "logout+jwt", "JOSE"])
def test_access_token_other_typ_refused(provider, api_core, typ):
    provider.config.access_token_header = {"typ": typ}
    err = _code(api_core.verifier.verify_access_token, _access(provider))
    assert err.code == "INVALID_SIGNATURE"
    assert typ in err.message


def test_access_token_audience_must_contain_openid_audience(provider, api_core):
    err = _code(api_core.verifier.verify_access_token, provider.mint_access_token(aud=provider.client_id))
    assert err.code == "INVALID_AUDIENCE"
    err = _code(api_core.verifier.verify_access_token, provider.mint_access_token(aud="https://other.api"))
    assert err.code == "INVALID_AUDIENCE"
    assert api_core.verifier.verify_access_token(provider.mint_access_token(aud=API))


def test_access_token_audience_defaults_to_client_id(provider, core):
    assert core.verifier.verify_access_token(provider.mint_access_token(aud=provider.client_id))
    err = _code(core.verifier.verify_access_token, provider.mint_access_token(aud=API))
    assert err.code == "INVALID_AUDIENCE"


def test_access_token_has_no_clock_tolerance(provider, make_core):
    core = make_core(audience=API, leeway=60)
    now = int(time.time())
    err = _code(core.verifier.verify_access_token, _access(provider, iat=now - 300, exp=now - 5))
    assert err.code == "TOKEN_EXPIRED"


def test_access_token_wrong_issuer(provider, api_core):
    err = _code(api_core.verifier.verify_access_token, _access(provider, iss="https://evil.example.com"))
    assert err.code == "INVALID_ISSUER"


def test_access_token_bad_signature(provider, api_core):
    provider.config.access_token_sign_with = "wrong"
    assert _code(api_core.verifier.verify_access_token, _access(provider)).code == "INVALID_SIGNATURE"


def test_access_token_hmac_and_none(provider, api_core):
    claims = provider.decode(_access(provider))[1]
    assert _code(api_core.verifier.verify_access_token, provider.mint(claims, key="hmac_public")).code == (
        "UNSUPPORTED_ALGORITHM"
    )
    assert _code(
        api_core.verifier.verify_access_token, provider.mint(claims, header={"alg": "none"})
    ).code == "UNSUPPORTED_ALGORITHM"


@pytest.mark.parametrize("fmt", ["opaque", "jwe"])
def test_opaque_or_encrypted_access_token(provider, api_core, fmt):
    provider.config.access_token_format = fmt
    token = provider.issue_tokens(audience=API)["access_token"]
    assert classify(token) == fmt
    err = _code(api_core.verifier.verify_access_token, token)
    assert err.code == "OPAQUE_ACCESS_TOKEN"
    assert "OPENID_AUDIENCE" in err.hint


# -- bearer tokens --------------------------------------------------------------------------


def test_bearer_id_token(provider, api_core):
    kind, claims = api_core.verifier.verify_bearer(provider.mint_id_token())
    assert kind == "id"
    assert claims["sub"] == "user-123"


def test_bearer_access_token(provider, api_core):
    provider.config.access_token_header = {"typ": "at+jwt"}
    kind, claims = api_core.verifier.verify_bearer(_access(provider))
    assert kind == "access"
    assert claims["sub"] == "user-123"


@pytest.mark.parametrize("fmt", ["opaque", "jwe"])
def test_bearer_opaque_or_encrypted(provider, api_core, fmt):
    provider.config.access_token_format = fmt
    token = provider.issue_tokens(audience=API)["access_token"]
    err = _code(api_core.verifier.verify_bearer, token)
    assert err.code == "OPAQUE_ACCESS_TOKEN"


@pytest.mark.parametrize("token", ["a.b.c", "random-opaque-token"])
def test_bearer_garbage_is_opaque(api_core, token):
    assert _code(api_core.verifier.verify_bearer, token).code == "OPAQUE_ACCESS_TOKEN"


def test_bearer_for_another_audience(provider, api_core):
    err = _code(api_core.verifier.verify_bearer, provider.mint_access_token(aud="https://other.api"))
    assert err.code == "INVALID_AUDIENCE"


def test_bearer_access_token_without_openid_audience_configured(provider, core):
    # No OPENID_AUDIENCE: only ID tokens (aud = client id) are bearers.
    err = _code(core.verifier.verify_bearer, provider.mint_access_token(aud=API))
    assert err.code == "INVALID_AUDIENCE"


def test_bearer_access_token_typ_checked(provider, api_core):
    provider.config.access_token_header = {"typ": "dpop+jwt"}
    assert _code(api_core.verifier.verify_bearer, _access(provider)).code == "INVALID_SIGNATURE"


def test_bearer_id_token_azp_checked(provider, api_core):
    err = _code(api_core.verifier.verify_bearer, provider.mint_id_token(azp="other-client"))
    assert err.code == "INVALID_AUDIENCE"


def test_bearer_expired_and_tolerance(provider, make_core):
    now = int(time.time())
    core = make_core(audience=API, leeway=60)
    assert core.verifier.verify_bearer(provider.mint_id_token(iat=now - 600, exp=now - 30))[0] == "id"
    err = _code(core.verifier.verify_bearer, provider.mint_id_token(iat=now - 600, exp=now - 61))
    assert err.code == "TOKEN_EXPIRED"
    err = _code(core.verifier.verify_bearer, provider.mint_id_token(iat=now + 300))
    assert err.code == "TOKEN_NOT_YET_VALID"


def test_bearer_wrong_issuer_named_precisely(provider, api_core):
    err = _code(api_core.verifier.verify_bearer, provider.mint_id_token(iss="https://evil.example.com"))
    assert err.code == "INVALID_ISSUER"


def test_bearer_missing_sub(provider, api_core):
    err = _code(api_core.verifier.verify_bearer, provider.mint(claims_for(provider, sub=None)))
    assert err.code == "MISSING_SUB"


def test_bearer_bad_signature_and_algorithms(provider, api_core):
    claims = claims_for(provider)
    assert _code(api_core.verifier.verify_bearer, provider.mint(claims, key="wrong")).code == "INVALID_SIGNATURE"
    assert _code(api_core.verifier.verify_bearer, provider.mint(claims, key="hmac_public")).code == (
        "UNSUPPORTED_ALGORITHM"
    )
    assert _code(api_core.verifier.verify_bearer, provider.mint(claims, header={"alg": "none"})).code == (
        "UNSUPPORTED_ALGORITHM"
    )


# -- the verified-claims cache ------------------------------------------------------------


def test_second_access_token_verification_does_no_signature_work(provider, api_core, decode_counter):
    token = _access(provider)
    first = api_core.verifier.verify_access_token(token)
    assert decode_counter["n"] == 1
    second = api_core.verifier.verify_access_token(token)
    assert second == first
    assert decode_counter["n"] == 1
    # A different token is verified for real.
    api_core.verifier.verify_access_token(_access(provider))
    assert decode_counter["n"] == 2


def test_second_bearer_verification_does_no_signature_work(provider, api_core, decode_counter):
    token = provider.mint_id_token()
    assert api_core.verifier.verify_bearer(token) == api_core.verifier.verify_bearer(token)
    assert decode_counter["n"] == 1


def test_failures_are_not_cached(provider, api_core, decode_counter):
    token = provider.mint_access_token(aud="https://other.api")
    for _ in range(2):
        assert _code(api_core.verifier.verify_access_token, token).code == "INVALID_AUDIENCE"
    assert decode_counter["n"] == 2


def test_cache_entry_expires_with_the_token(provider, api_core, decode_counter, clock):
    now = int(time.time())
    token = _access(provider, iat=now, exp=now + 120)
    api_core.verifier.verify_access_token(token)
    clock.advance_wall(100)
    api_core.verifier.verify_access_token(token)
    assert decode_counter["n"] == 1
    clock.advance_wall(21)
    err = _code(api_core.verifier.verify_access_token, token)
    assert err.code == "TOKEN_EXPIRED"
    assert decode_counter["n"] == 2  # verified again, not answered from the cache


def test_bearer_cache_entry_lasts_until_exp_plus_tolerance(provider, make_core, decode_counter, clock):
    core = make_core(audience=API, leeway=60)
    now = int(time.time())
    token = provider.mint_id_token(iat=now, exp=now + 120)
    core.verifier.verify_bearer(token)
    clock.advance_wall(150)  # past exp, within exp + tolerance
    core.verifier.verify_bearer(token)
    assert decode_counter["n"] == 1
    clock.advance_wall(31)
    assert _code(core.verifier.verify_bearer, token).code == "TOKEN_EXPIRED"


def test_reuse_and_bearer_cache_entries_are_separate(provider, api_core, decode_counter):
    # A token verified as a reused access token (no leeway) is not thereby a bearer, and v.v.
    token = _access(provider)
    api_core.verifier.verify_access_token(token)
    assert api_core.verifier.verify_bearer(token)[0] == "access"
    assert decode_counter["n"] == 2


def test_verified_cache_expiry_and_lru_bound(clock):
    cache = VerifiedCache(maxsize=2)
    now = time.time()
    cache.put("gone", now - 1, "x")
    assert cache.get("gone") is None
    cache.put("a", now + 100, "A")
    cache.put("b", now + 100, "B")
    assert cache.get("a") == "A"  # a is now the most recently used
    cache.put("c", now + 100, "C")
    assert cache.get("b") is None  # the least recently used was evicted
    assert cache.get("a") == "A"
    assert cache.get("c") == "C"
    assert len(cache._items) == 2
    clock.advance_wall(101)
    assert cache.get("a") is None


def test_verifier_cache_is_bounded(provider, api_core):
    api_core.verifier.cache.maxsize = 3
    tokens = [_access(provider) for _ in range(5)]
    for token in tokens:
        api_core.verifier.verify_access_token(token)
    assert len(api_core.verifier.cache._items) == 3
    assert api_core.verifier.cache.get(token_digest(tokens[0])) is None
    assert api_core.verifier.cache.get(token_digest(tokens[-1])) is not None


def test_cache_keys_are_digests_not_tokens(provider, api_core):
    token = _access(provider)
    api_core.verifier.verify_access_token(token)
    assert token not in api_core.verifier.cache._items
    assert token_digest(token) in api_core.verifier.cache._items


# -- wiring from settings ---------------------------------------------------------------------


def test_services_wire_the_core_from_settings(provider, tmp_path):
    from app.services import build_services
    from app.settings import load_settings

    settings = load_settings(
        {
            "OPENID_ISSUER": provider.issuer,
            "OPENID_CLIENT_ID": provider.client_id,
            "OPENID_SESSION_SECRET": "x" * 40,
            "OPENID_AUDIENCE": API,
            "OPENID_CLOCK_TOLERANCE": "7",
            "INSTANCE_PATH": str(tmp_path),
        },
        use_dotenv=False,
    )
    services = build_services(settings)
    verifier = services.verifier
    assert verifier.leeway == 7
    assert verifier.audience == API
    assert verifier.client_id == provider.client_id
    assert verifier.issuer == provider.issuer
    assert services.keys.ttl == 3600 and services.keys.forced_interval == 60
    assert provider.calls["discovery"] == 0  # lazy: nothing fetched at build time
    assert verifier.verify_id_token(provider.mint_id_token())["sub"] == "user-123"
    now = int(time.time())
    err = _code(verifier.verify_id_token, provider.mint_id_token(iat=now - 600, exp=now - 8))
    assert err.code == "TOKEN_EXPIRED"
