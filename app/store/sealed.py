"""Sessions at rest: the cookie is a ticket, the store holds nothing that works without it.

oauth2-proxy's "ticket" design: the cookie carries a session id and a per-session secret.
- Store keys are keyed hashes (HMAC-SHA256 under the session secret) of the id, so reading
  the store yields no key that can be turned back into a cookie.
- Values holding tokens or personal data are sealed with AES-GCM under a key derived (HKDF)
  from the cookie's secret, so a stolen value is worthless without the browser's cookie.
- `OPENID_SESSION_SECRET_PREVIOUS`: keys made under earlier secrets are still found; every
  write goes under the current secret (and removes the copy under the old one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .base import LockHandle, Store

_NONCE = 12
_TICKET = re.compile(r"^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$")


def hashed_key(secret: str, kind: str, value: str) -> str:
    """`kind:<hex HMAC-SHA256(secret, kind + NUL + value)>`: the same input always maps to
    the same key, and the key reveals nothing about `value` without the secret."""
    mac = hmac.new(secret.encode("utf-8"), f"{kind}\0{value}".encode("utf-8"), hashlib.sha256)
    return f"{kind}:{mac.hexdigest()}"


def derive_key(secret: bytes, purpose: str) -> AESGCM:
    """An AES-256-GCM key for one purpose, derived with HKDF-SHA256 from `secret`."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"oidc-login {purpose} v1".encode())
    return AESGCM(hkdf.derive(secret))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(aead: AESGCM, kind: str, value: Any) -> str:
    """JSON, encrypted and authenticated; `kind` is bound in as associated data, so a sealed
    session cannot be replayed as a token record or the other way round."""
    nonce = os.urandom(_NONCE)
    plain = json.dumps(value, separators=(",", ":")).encode("utf-8")
    return _b64(nonce + aead.encrypt(nonce, plain, kind.encode()))


def unseal(aead: AESGCM, kind: str, sealed: Any) -> Any | None:
    """The value, or None for anything tampered with, truncated or sealed under another key."""
    plain = _decrypt(aead, kind, sealed)
    return None if plain is None else _loads(plain)


def _decrypt(aead: AESGCM, kind: str, sealed: Any) -> bytes | None:
    if not isinstance(sealed, str) or len(sealed) > 1_000_000:
        return None
    try:
        raw = _unb64(sealed)
        if len(raw) <= _NONCE:
            return None
        return aead.decrypt(raw[:_NONCE], raw[_NONCE:], kind.encode())
    except (InvalidTag, ValueError, binascii.Error):
        return None


def _loads(plain: bytes) -> Any | None:
    try:
        return json.loads(plain)
    except ValueError:
        return None


class OpenedValues:
    """What this worker already decrypted, by store key and ciphertext: one version of one
    session's value is decrypted once, not on every request. A hit still needs the store to
    hold that very ciphertext (so a logout or a refresh elsewhere is seen at once) and the
    request's cookie to carry the same secret (compared in constant time), so it opens
    nothing a forged cookie could not open itself. Bounded: memory stays flat however many
    sessions there are."""

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[tuple[str, str], tuple[bytes, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, sealed: str, secret: bytes) -> bytes | None:
        with self._lock:
            item = self._items.get((key, sealed))
            if item is not None:
                self._items.move_to_end((key, sealed))
        if item is None or not hmac.compare_digest(item[0], secret):
            return None
        return item[1]

    def put(self, key: str, sealed: str, secret: bytes, plain: bytes) -> None:
        with self._lock:
            self._items[(key, sealed)] = (secret, plain)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)


OPENED = OpenedValues()


@dataclass(frozen=True)
class Ticket:
    """What the session cookie carries: `<id>.<secret>` (16 and 32 random bytes)."""

    id: str
    secret: bytes = field(repr=False)

    @classmethod
    def new(cls) -> "Ticket":
        return cls(secrets.token_urlsafe(16), secrets.token_bytes(32))

    @classmethod
    def parse(cls, value: str | None) -> "Ticket | None":
        """None for anything that is not exactly a ticket (no store lookup for junk)."""
        match = _TICKET.match(value or "")
        if match is None:
            return None
        try:
            return cls(match.group(1), _unb64(match.group(2)))
        except (ValueError, binascii.Error):
            return None

    def cookie(self) -> str:
        return f"{self.id}.{_b64(self.secret)}"


class Keyer:
    """Store key names under the current secret, and under earlier ones for reading."""

    def __init__(self, secrets_: Sequence[str]) -> None:
        if not secrets_:
            raise ValueError("at least one session secret is needed")
        self.secrets = list(secrets_)

    def key(self, kind: str, value: str) -> str:
        return hashed_key(self.secrets[0], kind, value)

    def candidates(self, kind: str, value: str) -> list[str]:
        """The current key first, then those of OPENID_SESSION_SECRET_PREVIOUS."""
        return [hashed_key(secret, kind, value) for secret in self.secrets]


class Vault:
    """One session's view of the store: hashed keys, values sealed with its ticket's secret.

    `kind` names what is kept (`session`, `tokens`, `refresh-result`...); `name`
    distinguishes several values of one kind (e.g. one published result per old state).
    """

    def __init__(self, store: Store, keyer: Keyer, ticket: Ticket) -> None:
        self.store = store
        self.keyer = keyer
        self.ticket = ticket
        self._keys: dict[tuple[str, str], list[str]] = {}
        #: Values read ahead (`prefetch`), each used by the first `get` of its kind only.
        self._fetched: dict[str, dict | None] = {}

    @cached_property
    def _aead(self) -> AESGCM:
        """Derived on first need only: a request served from `OPENED` derives nothing."""
        return derive_key(self.ticket.secret, "session")

    @property
    def ident(self) -> str:
        """A process-local handle for this session that names nothing usable."""
        return self.key("tokens")

    def key(self, kind: str, name: str = "") -> str:
        """The current store key (computed once per vault: an HMAC each)."""
        keys = self._keys.get((kind, name))
        if keys is None:
            keys = self._keys[(kind, name)] = self.keyer.candidates(kind, self._value(name))
        return keys[0]

    def _candidates(self, kind: str, name: str) -> list[str]:
        self.key(kind, name)
        return self._keys[(kind, name)]

    def _value(self, name: str) -> str:
        return f"{self.ticket.id}\0{name}" if name else self.ticket.id

    def get(self, kind: str, name: str = "") -> Any | None:
        """The unsealed value, from the current key or, after a secret rotation, an old one.
        A value that does not unseal (tampered, foreign) reads as missing."""
        for position, key in enumerate(self._candidates(kind, name)):
            if position == 0 and not name and kind in self._fetched:
                stored = self._fetched.pop(kind)  # read ahead with the session
            else:
                stored = self.store.get(key)
            if stored is None:
                continue
            sealed = stored.get("sealed")
            if not isinstance(sealed, str):
                return None
            plain = OPENED.get(key, sealed, self.ticket.secret)
            if plain is None:
                plain = _decrypt(self._aead, kind, sealed)
                if plain is None:
                    return None
                OPENED.put(key, sealed, self.ticket.secret, plain)
            return _loads(plain)
        return None

    def prefetch(self, *kinds: str) -> None:
        """Read these kinds' current keys in one store call (one Redis round trip for the
        session and its token record); a later `get` of each uses what was read, once."""
        keys = [self.key(kind) for kind in kinds]
        self._fetched.update(zip(kinds, self.store.get_many(keys)))

    def put(self, kind: str, value: Any, ttl: float, name: str = "") -> None:
        """Seal and write under the current key; drop copies under earlier secrets."""
        keys = self._candidates(kind, name)
        self._fetched.pop(kind, None)
        self.store.set(keys[0], {"sealed": seal(self._aead, kind, value)}, ttl)
        for old in keys[1:]:
            if self.store.get(old) is not None:
                self.store.delete(old)

    def delete(self, kind: str, name: str = "") -> None:
        self._fetched.pop(kind, None)
        for key in self._candidates(kind, name):
            self.store.delete(key)

    def lock(self, kind: str, *, wait: float, lease: float) -> AbstractContextManager[LockHandle]:
        """One lock per session and purpose, the same for every worker and host."""
        return self.store.lock(self.key(kind), wait=wait, lease=lease)

    def keys(self, *kinds: str) -> Iterator[str]:
        """The current store keys of these kinds (for indexes that must delete them)."""
        return (self.key(kind) for kind in kinds)
