"""The provider's signing keys: a JWKS cache with a throttled refetch on an unknown `kid`.

An unknown `kid` usually means the provider rotated its keys, so it triggers one refetch
at once; but a flood of tokens with invented kids must not turn into a flood of requests to
the provider, so forced refetches happen at most once per `forced_interval` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from joserfc import jwk
from joserfc.errors import JoseError

from .. import metrics
from ..errors import AuthError
from .cache import StaleWhileFailing
from .http import ProviderHttp

#: Asymmetric JWS algorithms we accept at all, with the key type and curve they need.
ASYMMETRIC_ALGS: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None), "RS384": ("RSA", None), "RS512": ("RSA", None),
    "PS256": ("RSA", None), "PS384": ("RSA", None), "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}


def key_fits(key: Any, alg: str) -> bool:
    """A key may verify `alg` when its type (and curve) match and its own `alg`, if any, agrees."""
    kty, curve = ASYMMETRIC_ALGS[alg]
    if key.key_type != kty:
        return False
    if curve and key.get("crv") != curve:
        return False
    if kty == "OKP" and key.get("crv") not in ("Ed25519", "Ed448"):
        return False
    return key.get("alg") in (None, alg)


class KeyCache:
    def __init__(
        self,
        jwks_uri: Callable[[], str],
        http: ProviderHttp,
        *,
        ttl: float = 3600,
        forced_interval: float = 60,
    ) -> None:
        self._jwks_uri = jwks_uri
        self.http = http
        self.ttl = ttl
        self.forced_interval = forced_interval
        self._cache = StaleWhileFailing(
            self._fetch,
            ttl,
            busy=lambda: AuthError("JWKS_FETCH_FAILED", "The provider's JWKS is slow to answer; try again shortly."),
        )
        self._last_forced = float("-inf")
        self._forcing = False  # set while the unknown-kid refetch runs (under its lock)
        self.fetches = 0

    def key_for(self, kid: str | None, alg: str) -> Any:
        """The key that must verify a token with this header, or an AuthError."""
        keys = self._current()
        found = self._pick(keys, kid, alg)
        if found is None and kid is not None:
            keys = self._forced_refetch(keys)
            found = self._pick(keys, kid, alg)
        if found is None:
            if kid is None:
                raise AuthError(
                    "INVALID_SIGNATURE",
                    "The token names no key (kid) and the provider publishes more than one "
                    f"usable {alg} key.",
                )
            raise AuthError(
                "INVALID_SIGNATURE",
                f"No {alg} key with kid {kid!r} in the provider's JWKS.",
            )
        return found

    @staticmethod
    def _pick(keys: list[Any], kid: str | None, alg: str) -> Any | None:
        usable = [k for k in keys if key_fits(k, alg)]
        if kid is None:
            return usable[0] if len(usable) == 1 else None
        for key in usable:
            if key.kid == kid:
                return key
        return None

    def _current(self) -> list[Any]:
        return self._cache.get()

    def _forced_refetch(self, seen: list[Any]) -> list[Any]:
        """At most one refetch per `forced_interval` for unknown kids (the first, ordinary
        fetch does not count)."""
        if not self._cache.lock.acquire(timeout=self._cache.wait):
            return seen  # another refetch hangs: do not queue behind it
        try:
            current = self._cache.current
            if current is not None and current is not seen:
                return current  # another thread refetched while we waited
            now = time.monotonic()
            if now - self._last_forced < self.forced_interval:
                return seen
            self._last_forced = now
            self._forcing = True
            try:
                return self._cache.refetch(seen)
            finally:
                self._forcing = False
        finally:
            self._cache.lock.release()

    def _fetch(self) -> list[Any]:
        uri = self._jwks_uri()
        self.fetches += 1
        metrics.jwks_fetch(
            "unknown_kid" if self._forcing else "initial" if self._cache.current is None else "expired"
        )
        try:
            response = self.http.get(uri)
        except requests.RequestException as exc:
            raise AuthError("JWKS_FETCH_FAILED", f"{type(exc).__name__} contacting {uri}.") from None
        if response.status_code != 200:
            raise AuthError("JWKS_FETCH_FAILED", f"{uri} answered HTTP {response.status_code}.")
        try:
            data = response.json()
            entries = data["keys"]
            assert isinstance(entries, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            raise AuthError("JWKS_FETCH_FAILED", f"{uri} did not return a JWK set.") from None
        keys = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            if entry.get("kty") not in ("RSA", "EC", "OKP"):
                continue  # never a symmetric key from a public document
            try:
                keys.append(jwk.import_key(entry))
            except (JoseError, ValueError, TypeError):
                continue
        if not keys:
            raise AuthError(
                "JWKS_FETCH_FAILED",
                f"{uri} has no usable signing key.",
                hint="The provider must publish an asymmetric signing key (RS256/ES256) in its JWKS.",
            )
        return keys

    def describe(self) -> list[dict[str, str | None]]:
        """kid, kty and alg of the cached keys (for `oidc-login check`)."""
        return [
            {"kid": k.kid, "kty": k.key_type, "alg": k.get("alg")} for k in self._current()
        ]
