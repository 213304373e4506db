"""Logging that cannot leak: redaction of codes, tokens and secrets, and pseudonymous users.

The filter is attached to handlers (not loggers) so it sees every record that is written,
including access logs and tracebacks from libraries.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import sys
from collections.abc import Iterable

_SECRET_PARAMS = (
    "code|state|nonce|code_verifier|code_challenge|access_token|refresh_token|id_token|"
    "id_token_hint|client_secret|client_assertion|token|password|session_state|logout_hint"
)
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Compact JWS/JWE anywhere (header segment always starts with eyJ).
    (re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*)?"),
     "[REDACTED-JWT]"),
    # key=value in URLs and form bodies.
    (re.compile(rf"(?i)\b({_SECRET_PARAMS})=([^&\s\"']+)"), r"\1=[REDACTED]"),
    # "key": "value" in JSON and key: 'value' in reprs.
    (re.compile(rf"(?i)([\"']({_SECRET_PARAMS})[\"']\s*:\s*)[\"'][^\"']*[\"']"), r"\1'[REDACTED]'"),
    # Authorization headers.
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 [REDACTED]"),
]


class Redactor:
    """Replaces known secrets and anything token-shaped."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED-SECRET]")
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text


class RedactingFilter(logging.Filter):
    """Formats the message (and traceback) early and scrubs it before any handler writes it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg, record.args = self.redactor(message), ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = self.redactor(text), None
        return True


_installed: RedactingFilter | None = None


def configure_logging(secrets: Iterable[str | None]) -> RedactingFilter:
    """Root logging to stderr with redaction; libraries that log secrets at DEBUG are capped."""
    global _installed
    redacting = RedactingFilter(Redactor(secrets))
    root = logging.getLogger()
    if not root.handlers:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    if root.level == logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    for handler in root.handlers:
        if _installed in handler.filters:
            handler.removeFilter(_installed)
        handler.addFilter(redacting)
    # authlib logs the PKCE verifier at DEBUG; urllib3 logs URLs with query strings.
    logging.getLogger("authlib").setLevel(logging.INFO)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    _installed = redacting
    return redacting


def user_ref(sub: str | None, salt: str) -> str:
    """A stable pseudonym for a user in logs: never the email or the raw `sub`."""
    if not sub:
        return "u:anonymous"
    return "u:" + hmac.new(salt.encode(), sub.encode(), hashlib.sha256).hexdigest()[:16]
