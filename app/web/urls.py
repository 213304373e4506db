"""Where a browser may be sent: `return_to` values and same-origin checks."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def safe_return_to(value: str | None) -> str:
    """A path on this site, or "/". Rejects `//host`, `/\\host`, schemes, absolute URLs,
    control characters and any of these hidden behind (repeated) percent-encoding."""
    if not value or len(value) > 2048:
        return "/"
    candidates = [value]
    decoded = value
    for _ in range(3):
        decoded = unquote(decoded)
        candidates.append(decoded)
    for candidate in candidates:
        if not candidate.startswith("/") or candidate.startswith("//"):
            return "/"
        if "\\" in candidate or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
            return "/"
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return "/"
    return value
