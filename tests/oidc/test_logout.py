"""The Flask-free pieces of logout everywhere: logout-token time rules at their edges, the
end-session URL builder, and the sid/sub session index over a real store."""

from __future__ import annotations

import time

import pytest

from app.oidc.logout import LogoutTokenError, LogoutTokenValidator, end_session_url, session_sid
from app.store.files import FileStore
from app.store.index import SessionIndex

SECRET = "an-index-secret-that-is-long-enough-000"


@pytest.fixture
def store(tmp_path):
    return FileStore(str(tmp_path / "store"))


@pytest.fixture
def validator(make_core, store):
    return LogoutTokenValidator(make_core(leeway=60).verifier, store, leeway=60)


def test_iat_within_the_clock_tolerance_is_accepted(validator, provider):
    now = int(time.time())
    found = validator.validate(provider.mint_logout_token(iat=now + 50, sid="s1"))
    assert (found.sid, found.sub) == ("s1", provider.user["sub"])
    validator.validate(provider.mint_logout_token(iat=now - 300 - 50, exp=None, sid="s2"))


@pytest.mark.parametrize("claims", [
    {"iat": "yesterday"}, {"iat": True}, {"iat": None},
    {"exp": "soon"}, {"sid": 42}, {"sub": ""}, {"jti": ""},
])
def test_malformed_claims_are_refused(validator, provider, claims):
    with pytest.raises(LogoutTokenError):
        validator.validate(provider.mint_logout_token(**({"sid": "s"} | claims)))


@pytest.mark.parametrize("typ", [None, "JWT", "logout+jwt", "Logout+JWT"])
def test_accepted_typ_headers(validator, provider, typ):
    validator.validate(provider.mint_logout_token(header={"typ": typ}, sid="s"))


def test_a_refused_token_does_not_burn_its_jti(validator, provider):
    jti = "jti-once"
    with pytest.raises(LogoutTokenError):
        validator.validate(provider.mint_logout_token(jti=jti, nonce="n", sid="s"))
    validator.validate(provider.mint_logout_token(jti=jti, sid="s"))
    with pytest.raises(LogoutTokenError, match="already used"):
        validator.validate(provider.mint_logout_token(jti=jti, sid="s"))


# -- end-session URL ---------------------------------------------------------------------------

def build(id_token, hint="sid-1", max_length=2000, endpoint="https://idp.example.com/logout"):
    return end_session_url(endpoint, client_id="c1", post_logout_redirect_uri="https://app/login",
                           id_token=id_token, logout_hint=hint, max_length=max_length)


def test_end_session_url_shapes():
    assert build(None, endpoint=None) is None
    assert "id_token_hint=abc" in build("abc") and "logout_hint" not in build("abc")
    long = build("a" * 3000)
    assert "id_token_hint" not in long and "logout_hint=sid-1" in long and "client_id=c1" in long
    assert len(long) < 2000
    assert build("abc", endpoint="https://idp/logout?p=1").startswith("https://idp/logout?p=1&")
    assert "logout_hint" not in build(None, hint=None)


def test_session_sid_reads_the_verified_id_tokens_sid(provider):
    assert session_sid(provider.mint_id_token(sid="sid-9")) == "sid-9"
    assert session_sid(provider.mint_id_token()) is None
    assert session_sid("garbage") is None and session_sid(None) is None


# -- the index ---------------------------------------------------------------------------------

def live_session(store, name: str) -> list[str]:
    keys = [f"session:{name}", f"tokens:{name}"]
    for key in keys:
        store.set(key, {"v": name}, 600)
    return keys


def test_end_by_sid_and_by_sub(store):
    index = SessionIndex(store, SECRET)
    a, b, c = live_session(store, "a"), live_session(store, "b"), live_session(store, "c")
    index.add("sid-1", "alice", a, 600)
    index.add("sid-2", "alice", b, 600)
    index.add("sid-3", "bob", c, 600)
    assert index.end(sid="sid-1") == 1
    assert all(store.get(k) is None for k in a) and store.get(b[0]) is not None
    assert index.end(sub="alice") == 1  # b; a is gone already
    assert store.get(b[1]) is None and store.get(c[1]) is not None
    assert index.end(sid="unknown") == 0 and index.end() == 0


def test_entries_are_pruned_and_never_grow_without_bound(store):
    index = SessionIndex(store, SECRET)
    for i in range(50):
        keys = live_session(store, f"s{i}")
        index.add(None, "alice", keys, 600)
        for key in keys:  # the session ends by itself (expiry, logout elsewhere)
            store.delete(key)
    entry = store.get(index._key("bcl-sub", "alice"))
    assert entry is not None and len(entry["sessions"]) == 1


def test_expired_sessions_are_dropped_and_forget_removes(store):
    index = SessionIndex(store, SECRET)
    old, new = live_session(store, "old"), live_session(store, "new")
    index.add("sid-x", "alice", old, 0.01)
    time.sleep(0.05)
    index.add("sid-y", "alice", new, 600)
    assert len(store.get(index._key("bcl-sub", "alice"))["sessions"]) == 1
    index.forget("sid-y", "alice", new)
    assert store.get(index._key("bcl-sub", "alice")) is None
    assert store.get(index._key("bcl-sid", "sid-y")) is None


def test_index_keys_reveal_neither_sid_nor_sub(store):
    key = SessionIndex(store, SECRET)._key("bcl-sid", "sid-plain")
    assert key.startswith("bcl-sid:") and "sid-plain" not in key
    assert key != SessionIndex(store, SECRET + "x")._key("bcl-sid", "sid-plain")


def test_a_logout_token_is_never_an_id_or_bearer_token(make_core, provider):
    from app.errors import AuthError

    verifier = make_core().verifier
    for token in (
        provider.mint_logout_token(sid="s"),  # typ logout+jwt
        provider.mint_logout_token(sid="s", header={"typ": "JWT"}, nonce="n"),  # the events claim
    ):
        with pytest.raises(AuthError):
            verifier.verify_id_token(token, check_nonce=False)
        with pytest.raises(AuthError):
            verifier.verify_bearer(token)


@pytest.mark.parametrize("payload", [b"[]", b"null", b"123", b'"text"', b"\xff\xfe", b"{",
                                     b'{"iat": NaN}', b'{"iat": Infinity}'])
def test_odd_payloads_are_refused_not_crashing(validator, provider, payload):
    from joserfc import jws

    key = provider.keys.signing_key("RSA")
    token = jws.serialize_compact({"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, payload, key)
    with pytest.raises(LogoutTokenError):
        validator.validate(token)


def test_non_finite_iat_is_refused(validator, provider):
    from joserfc import jws

    key = provider.keys.signing_key("RSA")
    claims = (f'{{"iss": "{provider.issuer}", "aud": "{provider.client_id}", "iat": NaN, "jti": "j-nan", '
              '"sid": "s", "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}')
    token = jws.serialize_compact({"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, claims.encode(), key)
    with pytest.raises(LogoutTokenError, match="iat"):
        validator.validate(token)
