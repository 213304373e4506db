"""TokenSet: built from token responses, serialised, and when it is due for a refresh."""

from __future__ import annotations

import pytest

from app.oidc.tokenset import TokenSet

NOW = 1_700_000_000


def _set(issued: int, expires: int | None) -> TokenSet:
    return TokenSet(sub="u", issued_at=issued, expires_at=expires)


def test_refresh_due_uses_margin_for_long_tokens():
    ts = _set(NOW, NOW + 3600)  # lifetime 1 h, margin 60 s wins
    assert not ts.refresh_due(60, now=NOW + 3600 - 61)
    assert not ts.refresh_due(60, now=NOW + 3600 - 60)
    assert ts.refresh_due(60, now=NOW + 3600 - 59)


def test_refresh_due_uses_half_lifetime_for_short_tokens():
    ts = _set(NOW, NOW + 60)  # lifetime 60 s: half is 30 s, less than the 60 s margin
    assert not ts.refresh_due(60, now=NOW + 1)  # a fresh short token is not refreshed at once
    assert not ts.refresh_due(60, now=NOW + 30)
    assert ts.refresh_due(60, now=NOW + 31)


def test_refresh_due_when_expired():
    ts = _set(NOW, NOW + 3600)
    assert ts.refresh_due(0, now=NOW + 3600)
    assert ts.refresh_due(60, now=NOW + 4000)
    assert ts.expired(now=NOW + 3600)
    assert not ts.expired(now=NOW + 3599)


def test_no_expiry_is_never_due():
    ts = _set(NOW, None)
    assert not ts.refresh_due(60, now=NOW + 10**6)
    assert not ts.expired(now=NOW + 10**6)


def test_from_response_takes_times_from_access_claims():
    response = {"access_token": "h.p.s", "refresh_token": "r1", "id_token": "i1", "expires_in": 9999}
    ts = TokenSet.from_response(
        response, sub="u", access_claims={"iat": NOW - 10, "exp": NOW + 290}, now=NOW
    )
    assert (ts.issued_at, ts.expires_at) == (NOW - 10, NOW + 290)
    assert ts.refresh_token == "r1"
    assert ts.id_token == "i1"
    assert ts.refreshed == 0


@pytest.mark.parametrize("expires_in", [300, "300"])
def test_from_response_falls_back_to_expires_in(expires_in):
    ts = TokenSet.from_response({"access_token": "opaque", "expires_in": expires_in}, sub="u", access_claims=None, now=NOW)
    assert ts.expires_at == NOW + 300
    assert ts.issued_at == NOW
    assert ts.access_token_format == "opaque"


def test_from_response_without_any_expiry():
    ts = TokenSet.from_response({"access_token": "opaque"}, sub="u", access_claims=None, now=NOW)
    assert ts.expires_at is None


def test_refresh_without_rotation_keeps_old_refresh_and_id_token():
    first = TokenSet.from_response(
        {"access_token": "a1", "refresh_token": "r1", "id_token": "i1", "expires_in": 60}, sub="u", access_claims=None, now=NOW
    )
    first.roles = ["admin"]
    second = TokenSet.from_response({"access_token": "a2", "expires_in": 60}, sub="u", access_claims=None, previous=first, now=NOW + 50)
    assert second.access_token == "a2"
    assert second.refresh_token == "r1"
    assert second.id_token == "i1"
    assert second.roles == ["admin"]
    assert second.roles is not first.roles
    assert second.refreshed == 1
    third = TokenSet.from_response(
        {"access_token": "a3", "refresh_token": "r2", "id_token": "i2"}, sub="u", access_claims=None, previous=second
    )
    assert (third.refresh_token, third.id_token, third.refreshed) == ("r2", "i2", 2)


def test_round_trip_and_secrets_not_in_repr():
    ts = TokenSet(sub="u", access_token="secret-a", refresh_token="secret-r", id_token="secret-i", expires_at=NOW)
    assert TokenSet.from_dict({**ts.to_dict(), "unknown_field": 1}) == ts
    text = repr(ts)
    assert "secret-a" not in text and "secret-r" not in text and "secret-i" not in text
