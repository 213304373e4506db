"""Single-flight refresh: one refresh grant per session however many requests race.

Protocol, for a request that found its access token near expiry:
1. take the session's refresh lock in the shared store (threads, workers and hosts);
2. look for a published result for the state we started from (grace cache, 30 s, keyed by
   a digest of the old refresh token and the access token it came with);
3. re-read the session's tokens: if the refresh token (or, for providers that do not
   rotate, the access token) changed, another request already refreshed, so use its
   tokens; a rotated refresh token is never sent twice;
4. otherwise, while the lock is still ours (fencing), send one refresh grant, validate the
   answer, store it and publish it for late requests, all before releasing the lock.
Only a definitive `invalid_grant` (or a changed `sub`, or a lost role) ends the session;
a network error or a 5xx keeps it and backs off.

Rotated tokens are never lost to a store hiccup: once a grant has answered, the new tokens
are kept in this process (and served from there) until the store takes them; the save is
retried while the lock is held and renewed, so no other request can send the old,
already rotated refresh token meanwhile.

All per-session state goes through a `Vault`: hashed keys, values sealed with the
session cookie's secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from ..errors import AuthError
from ..store import LockHandle, LockTimeout, StoreUnavailable
from ..store.sealed import Vault
from .client import ProviderRefused, ProviderUnavailable, TokenClient
from .tokens import TokenVerifier, classify, token_digest
from .tokenset import TokenSet

log = logging.getLogger(__name__)

TOKENS = "tokens"
LOCK = "refresh-lock"
RESULT = "refresh-result"


def store_unavailable(retry_after: int = 2) -> AuthError:
    return AuthError("STORE_UNAVAILABLE", status=503, retry_after=retry_after)


@dataclass
class RefreshPolicy:
    margin: int = 60
    grace: float = 30.0
    #: How long a request waits for another's refresh: well below gunicorn's timeout, so a
    #: hanging provider ties a thread up for at most this plus one token call.
    lock_wait: float = 8.0
    lock_lease: float = 15.0
    record_ttl: float = 7 * 24 * 3600
    max_backoff: float = 5.0
    #: A failed save of rotated tokens is retried in the request this long, then by a
    #: background thread that keeps holding the lock this much longer.
    save_retry: float = 3.0
    flush_for: float = 60.0


class Refresher:
    def __init__(
        self,
        client: TokenClient,
        verifier: TokenVerifier,
        *,
        assess: Callable[[TokenSet, dict[str, Any] | None, dict[str, Any], str | None], None],
        policy: RefreshPolicy | None = None,
    ) -> None:
        self.client = client
        self.verifier = verifier
        self.assess = assess  # roles and admin again (userinfo too): Entitlements.at_refresh
        self.policy = policy or RefreshPolicy()
        self.grants_sent = 0
        #: vault.ident -> (rotated tokens the store has not taken yet, the refresh token
        #: they replace). This process serves and refreshes from these, never the old ones.
        self._unsaved: dict[str, tuple[TokenSet, str | None]] = {}
        self._unsaved_lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------

    def load(self, vault: Vault) -> TokenSet | None:
        unsaved = self._unsaved.get(vault.ident)
        if unsaved is not None:
            return unsaved[0]
        return TokenSet.from_stored(vault.get(TOKENS))

    def save(self, vault: Vault, tokens: TokenSet) -> None:
        vault.put(TOKENS, tokens.to_dict(), self.policy.record_ttl)

    def discard(self, vault: Vault) -> None:
        with self._unsaved_lock:
            self._unsaved.pop(vault.ident, None)
        vault.delete(TOKENS)

    # -- the request path ------------------------------------------------------------------

    def current(self, vault: Vault, tokens: TokenSet, *, force: bool = False) -> TokenSet:
        """Tokens good for this request: verified, refreshed first when due."""
        if vault.ident in self._unsaved:
            self._retry_unsaved(vault)
        now = time.time()
        if force or tokens.refresh_due(self.policy.margin, now):
            if not force and tokens.retry_after > now and not tokens.expired(now):
                pass  # a recent refresh failed; the token is still valid, so use it meanwhile
            else:
                tokens = self.refresh(vault, tokens, force=force)
        try:
            self.verifier.verify_access_token(tokens.access_token or "")
        except AuthError as error:
            if error.code != "TOKEN_EXPIRED" or tokens.refresh_token is None:
                raise
            # It expired while this request waited (a slow store, a busy worker): that calls
            # for the refresh it just missed, not for the end of the session.
            tokens = self.refresh(vault, tokens)
            self.verifier.verify_access_token(tokens.access_token or "")
        return tokens

    def refresh(self, vault: Vault, started_from: TokenSet, *, force: bool = False) -> TokenSet:
        old = started_from.refresh_token
        if not old:
            self.discard(vault)
            raise AuthError("MISSING_REFRESH_TOKEN")
        # The pre-refresh state: with rotation the refresh token alone identifies it; without
        # rotation it stays the same, so the access token it came with is part of the key.
        result_name = token_digest(old + "|" + (started_from.access_token or ""))
        try:
            with ExitStack() as held:
                lock = held.enter_context(
                    vault.lock(LOCK, wait=self.policy.lock_wait, lease=self.policy.lock_lease)
                )
                published = TokenSet.from_stored(vault.get(RESULT, result_name))
                if published is not None:
                    return published
                latest = self.load(vault)
                if latest is None:
                    raise AuthError("REFRESH_FAILED", "The session no longer exists.")
                if latest.refresh_token != old or latest.access_token != started_from.access_token:
                    return latest  # another request refreshed while we waited
                now = time.time()
                if latest.retry_after > now and (not force or latest.failures > 1):
                    raise self._unavailable(latest.retry_after - now)
                return self._grant(vault, latest, result_name, lock, held)
        except LockTimeout:
            raise self._unavailable(1.0) from None
        except StoreUnavailable:
            raise store_unavailable() from None

    # -- the grant, under the lock ---------------------------------------------------------

    def _grant(
        self, vault: Vault, latest: TokenSet, result_name: str, lock: LockHandle, held: ExitStack
    ) -> TokenSet:
        if not lock.held():  # fencing: the lease ran out, another request may be refreshing
            log.warning("refresh lock lost before the grant; not sending it")
            raise self._unavailable(1.0)
        self.grants_sent += 1
        try:
            response = self.client.refresh(latest.refresh_token or "")
        except ProviderRefused as exc:
            if exc.error == "invalid_grant":
                self.discard(vault)
                raise AuthError(
                    "REFRESH_FAILED", "The provider refused the refresh token (invalid_grant)."
                ) from None
            log.warning("refresh refused temporarily: %s", exc.error)
            raise self._backoff(vault, latest) from None
        except ProviderUnavailable as exc:
            log.warning("refresh failed, provider unavailable: %s", exc)
            raise self._backoff(vault, latest) from None
        except AuthError as exc:  # discovery down
            raise self._backoff(vault, latest, exc) from None

        try:
            fresh = self._validated(latest, response)
        except AuthError:
            self.discard(vault)
            raise
        self._keep(vault, fresh, latest.refresh_token, result_name, lock, held)
        return fresh

    # -- keeping rotated tokens through a store hiccup -------------------------------------

    def _keep(
        self,
        vault: Vault,
        fresh: TokenSet,
        replaced: str | None,
        result_name: str,
        lock: LockHandle,
        held: ExitStack,
    ) -> None:
        """Save and publish `fresh`; on store trouble keep it here and retry while the lock is
        held (a background thread takes the lock over when the request must answer)."""
        with self._unsaved_lock:
            self._unsaved[vault.ident] = (fresh, replaced)
        deadline = time.monotonic() + self.policy.save_retry
        if self._try_save(vault, fresh, result_name, lock, deadline):
            return
        log.warning("the store did not take refreshed tokens; retrying in the background")
        thread = threading.Thread(
            target=self._save_later,
            args=(vault, fresh, result_name, lock, held.pop_all()),
            name="refresh-save-retry",
            daemon=True,
        )
        thread.start()

    def _try_save(
        self, vault: Vault, fresh: TokenSet, result_name: str, lock: LockHandle, deadline: float
    ) -> bool:
        delay = 0.05
        while True:
            if not lock.held():
                log.error("refresh lock lost before the new tokens were saved; kept in this process")
                return True  # never write over what a newer holder may have stored
            try:
                self.save(vault, fresh)
                vault.put(RESULT, fresh.to_dict(), self.policy.grace, name=result_name)
            except StoreUnavailable:
                if time.monotonic() + delay > deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            with self._unsaved_lock:
                if self._unsaved.get(vault.ident, (None,))[0] is fresh:
                    del self._unsaved[vault.ident]
            return True

    def _save_later(
        self, vault: Vault, fresh: TokenSet, result_name: str, lock: LockHandle, held: ExitStack
    ) -> None:
        with held:  # releases the refresh lock when done
            if not self._try_save(vault, fresh, result_name, lock, time.monotonic() + self.policy.flush_for):
                log.error("the store stayed unavailable; refreshed tokens kept in this process only")

    def _retry_unsaved(self, vault: Vault) -> None:
        """A request of a session whose rotated tokens only this process holds: store them
        now if the store still has the tokens they replaced (compare-and-set)."""
        entry = self._unsaved.get(vault.ident)
        if entry is None:
            return
        fresh, replaced = entry
        try:
            with vault.lock(LOCK, wait=0.0, lease=self.policy.lock_lease) as lock:
                stored = TokenSet.from_stored(vault.get(TOKENS))
                if stored is not None and stored.refresh_token == replaced and lock.held():
                    self.save(vault, fresh)
                with self._unsaved_lock:
                    if self._unsaved.get(vault.ident) is entry:
                        del self._unsaved[vault.ident]
        except (LockTimeout, StoreUnavailable):
            pass  # still held elsewhere (the background save) or still down: serve from memory

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

    def _backoff(self, vault: Vault, latest: TokenSet, cause: AuthError | None = None) -> AuthError:
        latest.failures += 1
        delay = min(0.5 * 2 ** (latest.failures - 1), self.policy.max_backoff)
        latest.retry_after = time.time() + delay
        self.save(vault, latest)
        return self._unavailable(delay, cause)

    @staticmethod
    def _unavailable(retry_in: float, cause: AuthError | None = None) -> AuthError:
        detail = "The provider could not renew your session just now; it is kept."
        if cause is not None:
            detail += f" ({cause.code})"
        return AuthError(
            "TOKEN_EXCHANGE_FAILED",
            detail,
            hint="The provider's token endpoint is unreachable or failing. Try again in a few "
            "seconds; if it persists, check that the provider is up and reachable from this server.",
            status=503,
            retry_after=max(1, int(retry_in + 0.999)),
        )
