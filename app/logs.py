"""Logging that cannot leak: redaction of codes, tokens and secrets, and pseudonymous users.

The filter is attached to handlers (not loggers) so it sees every record that is written,
including access logs and tracebacks from libraries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from contextvars import ContextVar

#: This request's id, set by web/middleware.py's RequestIds for as long as the app runs (the
#: environ keeps it too, for log lines written while a streamed body is sent).
CURRENT_REQUEST_ID: ContextVar[str | None] = ContextVar("oidc_login_request_id", default=None)
REQUEST_ID = "oidc_login.request_id"

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


#: What one of the patterns above needs somewhere in the line (a JWS header, a secret
#: parameter's name, an auth scheme): one scan decides whether to run them. Access lines
#: (`rid=...`) hold none of these.
_MAY_HOLD_A_TOKEN = re.compile(rf"eyJ|(?i:bearer|basic|{_SECRET_PARAMS})")


class Redactor:
    """Replaces known secrets and anything token-shaped."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "[REDACTED-SECRET]")
        if _MAY_HOLD_A_TOKEN.search(text):  # most lines (access logs) hold none of the shapes
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


class RequestContext(logging.Filter):
    """Puts the request id and the user's pseudonym on every record written during a request
    (`-` outside one), for both log formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id, record.user = _request_fields()
        return True


def _request_fields() -> tuple[str, str | None]:
    try:
        from flask import current_app, g, has_app_context, has_request_context, request
    except ImportError:  # pragma: no cover - Flask is a dependency
        return "-", None
    rid = CURRENT_REQUEST_ID.get()
    if rid is None and has_request_context():
        rid = request.environ.get(REQUEST_ID)
    if rid is None:
        return "-", None
    principal = g.get("principal") if has_app_context() else None
    user = None
    if principal is not None:
        salt = current_app.extensions["oidc_login"].settings.log_salt
        user = user_ref(getattr(principal, "sub", None), salt)
    return rid, user


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, event, request_id, user, logger (+ `http` for
    access lines). Runs after RedactingFilter, so `event` is already scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "user": getattr(record, "user", None),
            "logger": record.name,
        }
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            line["http"] = http
        if record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


_installed: RedactingFilter | None = None
_context = RequestContext()


def configure_logging(secrets: Iterable[str | None], log_format: str = "text") -> RedactingFilter:
    """Root logging to stderr with redaction; libraries that log secrets at DEBUG are capped."""
    global _installed
    redacting = RedactingFilter(Redactor(secrets))
    root = logging.getLogger()
    if not root.handlers:
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        root.addHandler(handler)
        handler.setFormatter(formatter(log_format))
    elif log_format == "json":
        for handler in root.handlers:
            handler.setFormatter(formatter(log_format))
    if root.level == logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    for handler in root.handlers:
        if _installed in handler.filters:
            handler.removeFilter(_installed)
        handler.addFilter(redacting)
        if _context not in handler.filters:
            handler.addFilter(_context)
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
