"""Signing keys and secrets of the development provider, kept in the instance folder.

Keys are generated on first start and reused afterwards, so tokens (and the relying
party's JWKS cache) stay valid across provider restarts. Files are created 0600 in a
0700 directory, written atomically so two processes starting at once agree on one key.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from joserfc.jwk import KeySet, RSAKey

SIGNING_ALG = "RS256"
KEY_FILE = "signing-key.json"
SECRET_FILE = "session-secret"


def state_dir(instance_dir: str | os.PathLike[str]) -> Path:
    """The provider's own folder inside the instance folder (created 0700)."""
    path = Path(instance_dir) / "devidp"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _write_once(path: Path, data: str) -> str:
    """Create ``path`` with ``data`` (0600) unless it exists; return what the file holds.

    Written to a temporary file and hard-linked into place: the link fails when another
    process won the race, and then its content is the one used.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8")


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        # Tighten permissions of a key file someone copied in with a loose mode.
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return path.read_text(encoding="utf-8")
    return _write_once(path, make())


def load_signing_key(instance_dir: str | os.PathLike[str]) -> RSAKey:
    """The RS256 signing key: loaded from ``{instance_dir}/devidp/``, generated on first use."""

    def make() -> str:
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": SIGNING_ALG}, auto_kid=True)
        return json.dumps(key.as_dict(private=True), indent=2)

    data = json.loads(_read_or_create(state_dir(instance_dir) / KEY_FILE, make))
    key = RSAKey.import_key(data)
    key.ensure_kid()
    return key


def load_session_secret(instance_dir: str | os.PathLike[str]) -> str:
    """Secret for the provider's own signed cookie; stable so browser logins survive restarts."""
    return _read_or_create(state_dir(instance_dir) / SECRET_FILE, lambda: secrets.token_urlsafe(48)).strip()


def public_jwks(key: RSAKey) -> dict:
    """The JWKS document: public parts only."""
    return KeySet([key]).as_dict(private=False)
