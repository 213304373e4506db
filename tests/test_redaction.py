"""The redactor that every log line goes through: each token shape is scrubbed, and a line
with none of them (most access-log lines) comes out as it went in."""

from __future__ import annotations

import pytest

from app.logs import Redactor

SECRET = "the-client-secret-value-1234"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "line,leak",
    [
        ("GET /cb?code=abc123&state=s1 200", "abc123"),
        (f"token {JWT} used", JWT),
        ('{"refresh_token": "rt-xyz"}', "rt-xyz"),
        ("{'access_token' : 'at-xyz'}", "at-xyz"),
        ("Authorization: Bearer at.abc.def", "at.abc.def"),
        ("authorization: basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        (f"posted client_secret {SECRET}", SECRET),
    ],
)
def test_every_shape_is_scrubbed(line, leak):
    assert leak not in Redactor([SECRET])(line)


def test_a_plain_access_line_is_unchanged():
    line = '127.0.0.1 "GET /api/user" 200 312 1ms'
    assert Redactor([SECRET])(line) == line
