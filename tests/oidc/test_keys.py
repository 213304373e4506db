"""JWKS cache: TTL, throttled forced refetch on unknown kid, kid-less tokens, failures."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import AuthError
from app.oidc.keys import KeyCache

from .conftest import claims_for


def _verify(core, token: str) -> dict[str, Any]:
    return core.verifier.verify_id_token(token)


def _code(fn, *args, **kwargs) -> AuthError:
    with pytest.raises(AuthError) as info:
        fn(*args, **kwargs)
    return info.value


def test_first_fetch_then_cached(provider, core):
    _verify(core, provider.mint_id_token())
    _verify(core, provider.mint_id_token())
    assert provider.calls["jwks"] == 1


def test_refetched_after_ttl(provider, make_core, clock):
    core = make_core(jwks_ttl=100)
    _verify(core, provider.mint_id_token())
    clock.advance(101)
    _verify(core, provider.mint_id_token())
    assert provider.calls["jwks"] == 2


# -- kid-less tokens ----------------------------------------------------------------


def test_kidless_token_accepted_with_exactly_one_key(provider, core):
    token = provider.mint(claims_for(provider), header={"kid": None})
    assert "kid" not in provider.decode(token)[0]
    assert _verify(core, token)["sub"] == "user-123"


def test_kidless_token_refused_with_two_usable_keys(provider, core):
    provider.add_key("RSA")
    token = provider.mint(claims_for(provider), header={"kid": None})
    err = _code(_verify, core, token)
    assert err.code == "INVALID_SIGNATURE"
    assert "kid" in err.message
    # Not an unknown kid: no forced refetch for a kid-less token.
    assert provider.calls["jwks"] == 1


def test_kidless_token_counts_only_keys_usable_for_its_alg(provider, core):
    provider.add_key("EC")  # an EC key cannot verify RS256: still one usable key
    token = provider.mint(claims_for(provider), header={"kid": None})
    assert _verify(core, token)["sub"] == "user-123"


# -- unknown kid ------------------------------------------------------------------


def test_unknown_kid_one_forced_refetch_then_throttled(provider, core):
    _verify(core, provider.mint_id_token())
    assert provider.calls["jwks"] == 1
    err = _code(_verify, core, provider.mint(claims_for(provider), header={"kid": "unknown-1"}))
    assert err.code == "INVALID_SIGNATURE"
    assert provider.calls["jwks"] == 2  # exactly one forced refetch
    err = _code(_verify, core, provider.mint(claims_for(provider), header={"kid": "unknown-2"}))
    assert err.code == "INVALID_SIGNATURE"
    assert provider.calls["jwks"] == 2  # second unknown kid within 60 s: no fetch


def test_first_ordinary_fetch_does_not_count_as_forced(provider, core):
    err = _code(_verify, core, provider.mint(claims_for(provider), header={"kid": "unknown"}))
    assert err.code == "INVALID_SIGNATURE"
    assert provider.calls["jwks"] == 2  # the cold fetch, then the forced one


def test_forced_refetch_allowed_again_after_interval(provider, core, clock):
    _verify(core, provider.mint_id_token())
    _code(_verify, core, provider.mint(claims_for(provider), header={"kid": "unknown-1"}))
    assert provider.calls["jwks"] == 2
    clock.advance(59)
    _code(_verify, core, provider.mint(claims_for(provider), header={"kid": "unknown-2"}))
    assert provider.calls["jwks"] == 2
    clock.advance(2)
    _code(_verify, core, provider.mint(claims_for(provider), header={"kid": "unknown-3"}))
    assert provider.calls["jwks"] == 3


def test_key_rotation_picked_up_by_forced_refetch(provider, core):
    _verify(core, provider.mint_id_token())
    old_kid = provider.decode(provider.mint_id_token())[0]["kid"]
    provider.rotate_keys()
    token = provider.mint_id_token()
    assert provider.decode(token)[0]["kid"] != old_kid
    assert _verify(core, token)["sub"] == "user-123"
    assert provider.calls["jwks"] == 2


def test_rotation_right_after_a_forced_refetch_waits_for_the_interval(provider, core, clock):
    _verify(core, provider.mint_id_token())
    _code(_verify, core, provider.mint(claims_for(provider), header={"kid": "junk"}))
    provider.rotate_keys()
    assert _code(_verify, core, provider.mint_id_token()).code == "INVALID_SIGNATURE"
    clock.advance(61)
    assert _verify(core, provider.mint_id_token())["sub"] == "user-123"


# -- JWKS failures ------------------------------------------------------------------


def test_jwks_500_on_cold_cache_is_jwks_fetch_failed_503(provider, core):
    provider.config.fail = {"jwks": 500}
    err = _code(_verify, core, provider.mint_id_token())
    assert err.code == "JWKS_FETCH_FAILED"
    assert err.status == 503
    # Not cached as a failure: once the provider is back, it works.
    provider.config.fail = {}
    assert _verify(core, provider.mint_id_token())["sub"] == "user-123"


def test_jwks_unreachable_on_cold_cache_is_jwks_fetch_failed(provider, core):
    core.discovery.metadata()
    provider.config.down = True
    err = _code(_verify, core, provider.mint_id_token())
    assert err.code == "JWKS_FETCH_FAILED"
    assert err.status == 503


def test_warm_cache_keeps_working_while_jwks_fails(provider, core):
    _verify(core, provider.mint_id_token())
    provider.config.fail = {"jwks": 500}
    assert _verify(core, provider.mint_id_token())["sub"] == "user-123"
    assert provider.calls["jwks"] == 1


def test_expired_cache_serves_stale_keys_while_jwks_fails(provider, make_core, clock):
    core = make_core(jwks_ttl=100)
    _verify(core, provider.mint_id_token())
    clock.advance(101)
    provider.config.fail = {"jwks": 503}
    assert _verify(core, provider.mint_id_token())["sub"] == "user-123"
    assert provider.calls["jwks"] == 2  # it tried
    _verify(core, provider.mint_id_token())
    assert provider.calls["jwks"] == 2  # and waits before trying again


def test_forced_refetch_failing_keeps_the_cached_keys(provider, core):
    _verify(core, provider.mint_id_token())
    provider.config.fail = {"jwks": 500}
    err = _code(_verify, core, provider.mint(claims_for(provider), header={"kid": "unknown"}))
    assert err.code == "INVALID_SIGNATURE"
    assert _verify(core, provider.mint_id_token())["sub"] == "user-123"


# -- the JWK set document itself (a stub HTTP, to serve documents the provider can't) ----


class _Response:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class _StubHttp:
    def __init__(self, response: _Response) -> None:
        self.response = response
        self.count = 0

    def get(self, url: str) -> _Response:
        self.count += 1
        return self.response


def _cache(body: Any, status: int = 200) -> KeyCache:
    return KeyCache(lambda: "https://idp.example.com/jwks", _StubHttp(_Response(status, body)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        ValueError("not json"),
        {"no_keys": []},
        {"keys": "nope"},
        {"keys": []},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "kid": "h"}]},
        {"keys": [{"kty": "RSA", "kid": "broken", "n": "xx"}]},
    ],
    ids=["not-json", "no-keys", "keys-not-list", "empty", "symmetric-only", "broken-rsa"],
)
def test_jwks_without_usable_signing_key_is_jwks_fetch_failed(body):
    err = _code(_cache(body).key_for, "k", "RS256")
    assert err.code == "JWKS_FETCH_FAILED"


def test_encryption_keys_and_symmetric_keys_are_ignored(provider):
    good = provider.jwks()["keys"][0]
    enc = {**good, "use": "enc", "kid": "enc-key"}
    oct_ = {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "kid": "sym"}
    cache = _cache({"keys": [enc, oct_, good]})
    assert [d["kid"] for d in cache.describe()] == [good["kid"]]
    # The only usable key, so a kid-less RS256 token could use it.
    assert cache.key_for(None, "RS256").kid == good["kid"]


def test_key_alg_must_agree_with_token_alg(provider):
    good = {**provider.jwks()["keys"][0], "alg": "RS256"}
    cache = _cache({"keys": [good]})
    assert cache.key_for(good["kid"], "RS256").kid == good["kid"]
    err = _code(cache.key_for, good["kid"], "PS256")
    assert err.code == "INVALID_SIGNATURE"


def test_jwks_http_error_is_jwks_fetch_failed():
    err = _code(_cache({"keys": []}, status=404).key_for, "k", "RS256")
    assert err.code == "JWKS_FETCH_FAILED"
    assert err.status == 503


# -- concurrency ------------------------------------------------------------------------


def _in_threads(n: int, fn) -> list[Any]:
    import threading

    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    return results


def test_concurrent_cold_start_fetches_once(provider, core):
    token = provider.mint_id_token()
    results = _in_threads(16, lambda: _verify(core, token)["sub"])
    assert results == ["user-123"] * 16
    assert provider.calls["discovery"] == 1
    assert provider.calls["jwks"] == 1


def test_concurrent_tokens_after_rotation_cause_one_refetch(provider, core):
    _verify(core, provider.mint_id_token())
    provider.rotate_keys()
    token = provider.mint_id_token()
    results = _in_threads(16, lambda: _verify(core, token)["sub"])
    assert results == ["user-123"] * 16
    assert provider.calls["jwks"] == 2


def test_flood_of_invented_kids_causes_one_refetch(provider, core):
    _verify(core, provider.mint_id_token())
    tokens = [provider.mint(claims_for(provider), header={"kid": f"invented-{i}"}) for i in range(16)]
    it = iter(range(16))
    results = _in_threads(16, lambda: _verify(core, tokens[next(it)]))
    assert all(isinstance(r, AuthError) and r.code == "INVALID_SIGNATURE" for r in results)
    assert provider.calls["jwks"] == 2


def test_default_ttl_and_forced_interval_match_the_contract():
    cache = KeyCache(lambda: "https://idp.example.com/jwks", None)  # type: ignore[arg-type]
    assert cache.ttl == 3600
    assert cache.forced_interval == 60
