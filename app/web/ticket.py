"""flask-session's server-side sessions with a ticket for a cookie.

The cookie value is a `Ticket` (session id + secret); flask-session's "store id" is that
ticket, and the three storage methods go through a `Vault`, so the store only ever sees
hashed keys and sealed values. Writes are explicit (`persist`), so a request that only
reads never writes, and the cookie is set once, when a login issues a new ticket.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import Flask, Request, Response
from flask_session.base import ServerSideSession, ServerSideSessionInterface

from ..oidc.logout import BACKCHANNEL_PATH
from ..store import Store, StoreUnavailable
from ..store.sealed import Keyer, Ticket, Vault

log = logging.getLogger(__name__)

SESSION = "session"
#: Routes that never need the session: answered without opening it.
SESSIONLESS_PATHS = frozenset({"/healthz", "/readyz", BACKCHANNEL_PATH})


class TicketSession(ServerSideSession):
    """A server-side session that knows whether its store could be read and written."""

    #: The store could not be read: nothing may be changed, the cookie stays for later.
    unavailable: bool = False
    #: Written to the store during the request (no second write at the end).
    persisted: bool = False
    #: A new ticket was issued (login): the response must carry the cookie.
    issued: bool = False
    #: (ticket, its vault), opened once per request: its key derivation is the costly part.
    opened: tuple[str, Vault | None] | None = None


class TicketSessionInterface(ServerSideSessionInterface):  # type: ignore[misc]
    session_class = TicketSession

    def __init__(self, app: Flask, store: Store, keyer: Keyer) -> None:
        super().__init__(app, key_prefix="", use_signer=False, permanent=True, cleanup_n_requests=None)
        self.store = store
        self.keyer = keyer
        self.lifetime = app.permanent_session_lifetime.total_seconds()

    def vault(self, sid: str) -> Vault | None:
        """The vault of a ticket (None for anything that is not one)."""
        ticket = Ticket.parse(sid)
        return Vault(self.store, self.keyer, ticket) if ticket else None

    def vault_of(self, session: TicketSession) -> Vault | None:
        """The vault of this session's current ticket, opened once per request."""
        opened = session.opened
        if opened is None or opened[0] != session.sid:
            opened = session.opened = (session.sid, self.vault(session.sid))
        return opened[1]

    @staticmethod
    def read(vault: Vault) -> dict[str, Any] | None:
        """The session's value, with its token record read ahead (the guard reads it next):
        one Redis round trip for both."""
        vault.prefetch(SESSION, "tokens")
        data = vault.get(SESSION)
        return data if isinstance(data, dict) else None

    # -- flask-session's storage hooks: the store id is the ticket ------------------------

    def _generate_sid(self, session_id_length: int) -> str:
        return Ticket.new().cookie()

    def _get_store_id(self, sid: str) -> str:
        return sid

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        vault = self.vault(store_id)
        return self.read(vault) if vault is not None else None

    def _delete_session(self, store_id: str) -> None:
        vault = self.vault(store_id)
        if vault:
            vault.delete(SESSION)

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> None:
        vault = self.vault(store_id)
        if vault:
            write(vault, session, session_lifetime.total_seconds())

    # -- Flask's interface -------------------------------------------------------------

    def open_session(self, app: Flask, request: Request) -> TicketSession | None:
        """Probes and the provider's back-channel calls never read a session at all: Flask
        gives them its null session, which it never saves."""
        if request.path in SESSIONLESS_PATHS:
            return None
        return self.open_ticket(request.cookies.get(self.get_cookie_name(app)) or "")

    def open_ticket(self, value: str) -> TicketSession:
        """The stored session of a well-formed ticket; otherwise an empty one, made without a
        store read or a random draw (a ticket is drawn only when a login issues one). Needs no
        Flask request: forward auth (verify.py) calls it with the cookie's value."""
        vault = self.vault(value) if value else None
        if vault is None:
            return self.session_class(sid="", permanent=True)
        try:
            data = self.read(vault)
        except StoreUnavailable as exc:
            log.warning("session store unavailable: %s", exc)
            session = self.session_class(sid=value, permanent=True)
            session.unavailable = True
            return session
        if data is None:
            return self.session_class(sid="", permanent=True)
        session = self.session_class(data, sid=value)
        session.opened = (value, vault)
        return session

    def regenerate(self, session: TicketSession) -> None:
        """A new ticket (login): the old session's value goes, whatever it held."""
        vault = self.vault_of(session)
        if vault is not None:
            vault.delete(SESSION)
        session.sid = self._generate_sid(self.sid_length)
        session.issued = True
        session.modified = True

    def persist(self, session: TicketSession) -> None:
        """Write now (StoreUnavailable reaches the caller, who answers 503)."""
        vault = self.vault_of(session)
        if vault is not None:
            write(vault, session, self.lifetime)
        session.persisted = True

    def write_back(self, session: TicketSession) -> bool:
        """The store's side of the end of a request: an ended session's value deleted, a
        changed one written. False when the store could not take it (nothing else to do:
        the store's own expiry and the next request settle it)."""
        if session.unavailable:
            return False  # the store could not be read: change nothing, keep the cookie
        if not session:
            if session.modified:
                try:
                    vault = self.vault_of(session)
                    if vault is not None:
                        vault.delete(SESSION)
                except StoreUnavailable as exc:
                    log.warning("could not delete an ended session: %s", exc)
            return True
        if session.modified and not session.persisted:
            try:
                self.persist(session)
            except StoreUnavailable as exc:
                log.warning("could not save the session: %s", exc)
                return False
        return True

    def save_session(self, app: Flask, session: TicketSession, response: Response) -> None:
        if not (session or session.modified or session.accessed or session.unavailable):
            return  # never looked at (probes, public pages): nothing to write or vary
        if session.accessed:  # the answer depends on who is signed in
            vary = response.headers.get("Vary")
            if not vary:
                response.headers.add("Vary", "Cookie")
            elif "cookie" not in vary.lower():
                response.headers["Vary"] = vary + ", Cookie"
        if not self.write_back(session):
            return
        if not session:
            if session.modified:
                response.delete_cookie(self.get_cookie_name(app), domain=self.get_cookie_domain(app),
                                       path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
                                       httponly=True, samesite=self.get_cookie_samesite(app))
            return
        if not session.issued:
            return
        response.set_cookie(
            self.get_cookie_name(app),
            session.sid,
            expires=self.get_expiration_time(app, session),
            httponly=True,
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )


def write(vault: Vault, session: ServerSideSession, max_lifetime: float) -> None:
    """The session's value, sealed, kept by the store until the session's end."""
    vault.put(SESSION, dict(session), ttl_of(session, max_lifetime))


def ttl_of(session: ServerSideSession, max_lifetime: float) -> float:
    """The stored value lives until the session's `until` (idle or absolute end, whichever
    comes first), so the store itself forgets sessions that ended."""
    until = session.get("until")
    left = (until - time.time()) if isinstance(until, (int, float)) else max_lifetime
    return max(1.0, min(left, max_lifetime))
