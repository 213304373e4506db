"""Sessions at rest: store keys that cannot be turned back into cookies.

Every key the store sees for per-user state is a keyed hash (HMAC-SHA256 under the
session secret) of what the caller knows (a session id, an OIDC `sid` or `sub`), so
reading the store yields nothing that works as a cookie or names a user.
"""

from __future__ import annotations

import hashlib
import hmac


def hashed_key(secret: str, kind: str, value: str) -> str:
    """`kind:<hex HMAC-SHA256(secret, kind + NUL + value)>`: the same input always maps to
    the same key, and the key reveals nothing about `value` without the secret."""
    mac = hmac.new(secret.encode("utf-8"), f"{kind}\0{value}".encode("utf-8"), hashlib.sha256)
    return f"{kind}:{mac.hexdigest()}"
