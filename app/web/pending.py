"""Pending logins travel with the browser, sealed, instead of filling the store.

Starting a login must cost the store nothing that grows with the number of visitors, so
`state`, `nonce`, the PKCE verifier and `return_to` go into a cookie sealed with AES-GCM
under a key derived from the session secret. A browser keeps at most a handful, each valid
ten minutes; the callback takes its entry out of the cookie and marks the state used in the
store (until it would have expired anyway), so each is usable once.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import Request, Response, current_app, request

from ..errors import AuthError
from ..store.sealed import derive_key, hashed_key, seal, unseal

TTL = 600  # seconds a started login may take
MAX_PENDING = 5  # logins a browser may have under way at once (tabs)
KIND = "pending-login"
FIELDS = ("state", "nonce", "code_verifier", "return_to", "exp")


class PendingLogins:
    def __init__(self, secrets: tuple[str, ...], cookie_name: str, secure: bool) -> None:
        self.secrets = secrets
        self._keys = [derive_key(secret.encode(), KIND) for secret in secrets]
        self.cookie_name = cookie_name + "_pending"
        self.secure = secure

    def read(self, request: Request) -> list[dict[str, Any]]:
        """The unexpired, well-formed entries of this browser's cookie (none when absent or
        tampered with)."""
        sealed = request.cookies.get(self.cookie_name)
        if not sealed:
            return []
        for key in self._keys:
            value = unseal(key, KIND, sealed)
            if isinstance(value, list):
                now = time.time()
                return [e for e in value if _well_formed(e) and e["exp"] > now][-MAX_PENDING:]
        return []

    def write(self, response: Response, entries: list[dict[str, Any]]) -> None:
        if not entries:
            if self.cookie_name in request.cookies:
                response.delete_cookie(self.cookie_name, path="/", secure=self.secure, httponly=True, samesite="Lax")
            return
        response.set_cookie(
            self.cookie_name,
            seal(self._keys[0], KIND, entries[-MAX_PENDING:]),
            max_age=TTL,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="Lax",  # the provider's redirect back is a top-level GET: Lax sends it
        )

    @staticmethod
    def started(entries: list[dict[str, Any]], state: str, nonce: str, code_verifier: str | None,
                return_to: str) -> list[dict[str, Any]]:
        entry = {"state": state, "nonce": nonce, "code_verifier": code_verifier or "",
                 "return_to": return_to, "exp": int(time.time()) + TTL}
        return [*entries, entry][-MAX_PENDING:]

    def take(self, entries: list[dict[str, Any]], state: str | None) -> dict[str, Any]:
        """Remove and return the entry for `state` from `entries`; INVALID_STATE when there is
        none, it expired, or it was already used (the store remembers used states until they
        would have expired)."""
        wanted = (state or "").encode("utf-8", "surrogatepass")
        match = next((e for e in entries if wanted and hmac.compare_digest(e["state"].encode(), wanted)), None)
        if match is None:
            raise AuthError("INVALID_STATE")
        entries.remove(match)
        store = current_app.extensions["oidc_login"].store
        used = hashed_key(self.secrets[0], "used-state", match["state"])
        if store.get(used) is not None:
            raise AuthError("INVALID_STATE", "This login response was already used.")
        store.set(used, {}, max(1.0, match["exp"] - time.time()))
        return match


def _well_formed(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and all(isinstance(entry.get(f), str) for f in FIELDS[:-1])
        and isinstance(entry.get("exp"), int)
    )
