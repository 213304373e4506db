"""What kind of token is this? JOSE headers read safely, token kinds told apart.

The only place a token's header is parsed: whatever a client sends (absurd sizes, JSON
nested a thousand deep, `crit` or `kid` of the wrong type) comes out as "not a JWT" here,
never as an exception further down. Signatures and claims are verified in `tokens.py`.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from joserfc import jws
from joserfc.errors import JoseError

TokenFormat = Literal["jwt", "jwe", "opaque"]
TYPED_ACCESS = {"at+jwt", "application/at+jwt"}
ACCESS_TOKEN_TYPES = {None, "jwt", *TYPED_ACCESS}
ID_TOKEN_TYPES = {None, "jwt"}
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_TOKEN_LENGTH = 32 * 1024  # far above real tokens (Entra with groups: ~10 KiB)
MAX_HEADER_LENGTH = 4 * 1024
#: Header members whose type joserfc and we rely on; anything else is a malformed token.
_HEADER_TYPES: dict[str, type] = {"kid": str, "typ": str, "cty": str, "crit": list}
#: Everything a hostile header or payload can make the JSON and JOSE layers raise.
MALFORMED = (JoseError, ValueError, UnicodeError, TypeError, KeyError, RecursionError, OverflowError)


def jose_header(token: str) -> dict[str, Any] | None:
    """The protected header of a JWS compact token, or None when it is not one or is
    malformed: too large, nested absurdly deep, or with members of the wrong type (`crit`
    must be a list of strings). The one place a header is read, so none of this reaches
    joserfc's verification or our checks."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        return None
    if len(token.partition(".")[0]) > MAX_HEADER_LENGTH:
        return None
    try:
        header = jws.extract_compact(token.encode("ascii")).protected
    except MALFORMED:
        return None
    if not isinstance(header, dict) or "alg" not in header:
        return None
    for name, kind in _HEADER_TYPES.items():
        if name in header and not isinstance(header[name], kind):
            return None
    crit = header.get("crit")
    if crit is not None and (not crit or not all(isinstance(item, str) for item in crit)):
        return None
    return header


def classify(token: str | None) -> TokenFormat | None:
    """`jwt` for a JWS compact serialization, `jwe` for five segments, else `opaque`."""
    if not token:
        return None
    segments = token.count(".") + 1
    if segments == 5:
        return "jwe"
    if segments != 3:
        return "opaque"
    return "jwt" if jose_header(token) is not None else "opaque"


def token_type(header: dict[str, Any]) -> str | None:
    typ = header.get("typ")
    return typ.lower() if isinstance(typ, str) else None


def is_logout_token(header: dict[str, Any], claims: dict[str, Any]) -> bool:
    """A back-channel logout token: `typ` logout+jwt or the back-channel `events` claim."""
    events = claims.get("events")
    return token_type(header) == "logout+jwt" or (isinstance(events, dict) and BACKCHANNEL_EVENT in events)


def access_shaped(header: dict[str, Any], claims: dict[str, Any]) -> bool:
    """Looks like an access token, not an ID token: typed `at+jwt` (RFC 9068), or carrying
    a scope (`scope`/`scp`), which ID tokens never do. (Cognito's `token_use` is its preset's
    rule, with its own hint.)"""
    return token_type(header) in TYPED_ACCESS or "scope" in claims or "scp" in claims


def token_digest(token: str) -> str:
    """A cache key that does not keep the token itself in memory dumps or logs."""
    return hashlib.sha256(token.encode()).hexdigest()


