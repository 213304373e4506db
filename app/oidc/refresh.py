"""Single-flight refresh: one refresh grant per session however many requests race.

Protocol, for a request that found its access token near expiry:
1. take the session's refresh lock in the shared store (threads, workers and hosts);
2. look for a published result for the state we started from (grace cache, 30 s, keyed by
   a digest of the old refresh token and the access token it came with);
3. re-read the session's tokens: if the refresh token (or, for providers that do not
   rotate, the access token) changed, another request already refreshed, so use its
   tokens; a rotated refresh token is never sent twice;
4. otherwise send one refresh grant, validate the answer, store it and publish it under
   the old refresh token's digest for late requests, all before releasing the lock.
Only a definitive `invalid_grant` (or a changed `sub`, or a lost role) ends the session;
a network error or a 5xx keeps it and backs off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import AuthError
from ..store import LockTimeout, Store, StoreUnavailable
from .client import ProviderRefused, ProviderUnavailable, TokenClient
from .tokens import TokenVerifier, classify, token_digest
from .tokenset import TokenSet

log = logging.getLogger(__name__)

RECORD_PREFIX = "tokens:"
LOCK_PREFIX = "refresh-lock:"
RESULT_PREFIX = "refresh-result:"


def record_key(tsid: str) -> str:
    return RECORD_PREFIX + tsid


@dataclass
class RefreshPolicy:
    margin: int = 60
    grace: float = 30.0
    lock_wait: float = 20.0
    lock_lease: float = 15.0
    record_ttl: float = 7 * 24 * 3600
    max_backoff: float = 5.0


class Refresher:
    def __init__(
        self,
        store: Store,
        client: TokenClient,
        verifier: TokenVerifier,
        *,
        assess: Callable[[TokenSet, dict[str, Any] | None, dict[str, Any], str | None], None],
        policy: RefreshPolicy | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.verifier = verifier
        self.assess = assess  # roles and admin again (userinfo too): Entitlements.at_refresh
        self.policy = policy or RefreshPolicy()
        self.grants_sent = 0

    # -- reading ---------------------------------------------------------------------------

    def load(self, tsid: str) -> TokenSet | None:
        data = self.store.get(record_key(tsid))
        return TokenSet.from_dict(data) if data else None

    def save(self, tsid: str, tokens: TokenSet) -> None:
        self.store.set(record_key(tsid), tokens.to_dict(), self.policy.record_ttl)

    def discard(self, tsid: str) -> None:
        self.store.delete(record_key(tsid))

    # -- the request path ------------------------------------------------------------------

    def current(self, tsid: str, tokens: TokenSet, *, force: bool = False) -> TokenSet:
        """Tokens good for this request: verified, refreshed first when due."""
        now = time.time()
        if force or tokens.refresh_due(self.policy.margin, now):
            if not force and tokens.retry_after > now and not tokens.expired(now):
                pass  # a recent refresh failed; the token is still valid, so use it meanwhile
            else:
                tokens = self.refresh(tsid, tokens, force=force)
        self.verifier.verify_access_token(tokens.access_token or "")
        return tokens

    def refresh(self, tsid: str, started_from: TokenSet, *, force: bool = False) -> TokenSet:
        old = started_from.refresh_token
        if not old:
            self.discard(tsid)
            raise AuthError("MISSING_REFRESH_TOKEN")
        # The pre-refresh state: with rotation the refresh token alone identifies it; without
        # rotation it stays the same, so the access token it came with is part of the key.
        result_key = RESULT_PREFIX + token_digest(old + "|" + (started_from.access_token or ""))
        try:
            with self.store.lock(LOCK_PREFIX + tsid, wait=self.policy.lock_wait, lease=self.policy.lock_lease):
                published = self.store.get(result_key)
                if published and published.get("tsid") == tsid:
                    return TokenSet.from_dict(published["tokens"])
                latest = self.load(tsid)
                if latest is None:
                    raise AuthError("REFRESH_FAILED", "The session no longer exists.")
                if latest.refresh_token != old or latest.access_token != started_from.access_token:
                    return latest  # another request refreshed while we waited
                now = time.time()
                if latest.retry_after > now and (not force or latest.failures > 1):
                    raise self._unavailable(latest.retry_after - now)
                return self._grant(tsid, latest, result_key)
        except LockTimeout:
            raise self._unavailable(1.0) from None
        except StoreUnavailable:
            raise AuthError(
                "REFRESH_FAILED",
                "The session store is unreachable.",
                hint="Check REDIS_URI and that Redis is up; the session is kept.",
                status=503,
            ) from None

    # -- the grant, under the lock ---------------------------------------------------------

    def _grant(self, tsid: str, latest: TokenSet, result_key: str) -> TokenSet:
        self.grants_sent += 1
        try:
            response = self.client.refresh(latest.refresh_token or "")
        except ProviderRefused as exc:
            if exc.error == "invalid_grant":
                self.discard(tsid)
                raise AuthError(
                    "REFRESH_FAILED", "The provider refused the refresh token (invalid_grant)."
                ) from None
            log.warning("refresh refused temporarily: %s", exc.error)
            raise self._backoff(tsid, latest) from None
        except ProviderUnavailable as exc:
            log.warning("refresh failed, provider unavailable: %s", exc)
            raise self._backoff(tsid, latest) from None
        except AuthError as exc:  # discovery down
            raise self._backoff(tsid, latest, exc) from None

        try:
            fresh = self._validated(latest, response)
        except AuthError:
            self.discard(tsid)
            raise
        self.save(tsid, fresh)
        self.store.set(result_key, {"tsid": tsid, "tokens": fresh.to_dict()}, self.policy.grace)
        return fresh

    def _validated(self, latest: TokenSet, response: dict[str, Any]) -> TokenSet:
        """The refreshed tokens must be as good as the ones at login, for the same user."""
        access = response.get("access_token")
        if classify(access) != "jwt":
            raise AuthError("REFRESH_FAILED", "The refreshed access token is not a signed JWT.")
        try:
            access_claims = self.verifier.verify_access_token(access or "")
        except AuthError as exc:
            raise AuthError("REFRESH_FAILED", f"The refreshed access token is invalid ({exc.code}).") from None
        id_claims = None
        if response.get("id_token"):
            try:
                id_claims = self.verifier.verify_id_token(
                    response["id_token"], access_token=access, check_nonce=False
                )
            except AuthError as exc:
                raise AuthError("REFRESH_FAILED", f"The refreshed ID token is invalid ({exc.code}).") from None
            if id_claims.get("sub") != latest.sub:
                raise AuthError("REFRESH_FAILED", "The refreshed ID token names another user (sub).")
        if latest.access_sub is not None and access_claims.get("sub") != latest.access_sub:
            raise AuthError("REFRESH_FAILED", "The refreshed access token names another user (sub).")
        fresh = TokenSet.from_response(response, sub=latest.sub, access_claims=access_claims, previous=latest)
        self.assess(fresh, id_claims, access_claims, access)
        return fresh

    def _backoff(self, tsid: str, latest: TokenSet, cause: AuthError | None = None) -> AuthError:
        latest.failures += 1
        delay = min(0.5 * 2 ** (latest.failures - 1), self.policy.max_backoff)
        latest.retry_after = time.time() + delay
        self.save(tsid, latest)
        return self._unavailable(delay, cause)

    @staticmethod
    def _unavailable(retry_in: float, cause: AuthError | None = None) -> AuthError:
        detail = "The provider could not renew your session just now; it is kept."
        if cause is not None:
            detail += f" ({cause.code})"
        error = AuthError(
            "TOKEN_EXCHANGE_FAILED",
            detail,
            hint="The provider's token endpoint is unreachable or failing. Try again in a few "
            "seconds; if it persists, check that the provider is up and reachable from this server.",
            status=503,
        )
        error.retry_after = max(1, int(retry_in + 0.999))  # type: ignore[attr-defined]
        return error
