"""The contract's error codes: each exists with a message, an actionable hint and a status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.errors import SPECS, AuthError, error_for_code

CONTRACT_CODES = [
    "LOGIN_REQUIRED", "INVALID_STATE", "INVALID_NONCE", "INVALID_ISSUER", "INVALID_AUDIENCE",
    "INVALID_SIGNATURE", "UNSUPPORTED_ALGORITHM", "TOKEN_EXPIRED", "TOKEN_NOT_YET_VALID",
    "MISSING_SUB", "OPAQUE_ACCESS_TOKEN", "MISSING_REFRESH_TOKEN", "REFRESH_FAILED",
    "JWKS_FETCH_FAILED", "DISCOVERY_FAILED", "TOKEN_EXCHANGE_FAILED", "PROVIDER_ERROR",
    "ROLE_REQUIRED", "INVALID_REQUEST", "STORE_UNAVAILABLE",
]


def contract_document() -> Path:
    """The shared contract sits beside the checkout (../shared), as in CI."""
    for candidate in (Path(__file__).resolve().parents[2] / "shared" / "CONTRACT.md", Path("/work/shared/CONTRACT.md")):
        if candidate.exists():
            return candidate
    pytest.skip("shared contract not present beside the checkout")


def test_list_matches_the_contract_document():
    contract = contract_document()
    section = contract.read_text().split("## Error codes", 1)[1].split("##", 1)[0]
    section = section.split("Each has a hint", 1)[0]
    assert sorted(set(re.findall(r"`([A-Z_]+)`", section))) == sorted(CONTRACT_CODES)


@pytest.mark.parametrize("code", CONTRACT_CODES)
def test_every_contract_code_has_message_and_hint(code):
    spec = SPECS[code]
    assert spec.message.strip()
    assert spec.hint.strip()
    assert spec.hint != spec.message
    assert 400 <= spec.status < 600


def test_no_codes_beyond_the_contract():
    assert set(SPECS) == set(CONTRACT_CODES)


@pytest.mark.parametrize(
    "code,status",
    [("JWKS_FETCH_FAILED", 503), ("DISCOVERY_FAILED", 502), ("ROLE_REQUIRED", 403),
     ("INVALID_STATE", 400), ("LOGIN_REQUIRED", 401), ("TOKEN_EXPIRED", 401), ("STORE_UNAVAILABLE", 503)],
)
def test_statuses(code, status):
    assert AuthError(code).status == status


def test_opaque_and_refresh_hints_say_what_to_set():
    assert "OPENID_AUDIENCE" in SPECS["OPAQUE_ACCESS_TOKEN"].hint
    assert "offline_access" in SPECS["MISSING_REFRESH_TOKEN"].hint
    assert "OPENID_SCOPE" in SPECS["MISSING_REFRESH_TOKEN"].hint
    assert "OPENID_ISSUER" in SPECS["INVALID_ISSUER"].hint
    assert "OPENID_CLOCK_TOLERANCE" in SPECS["TOKEN_EXPIRED"].hint


def test_auth_error_fields_and_overrides():
    err = AuthError("INVALID_AUDIENCE", "aud was x.", hint="custom hint", status=418)
    assert err.code == "INVALID_AUDIENCE"
    assert err.message == SPECS["INVALID_AUDIENCE"].message + " aud was x."
    assert err.hint == "custom hint"
    assert err.status == 418
    assert err.as_dict() == {"error": {"code": "INVALID_AUDIENCE", "message": err.message, "hint": "custom hint"}}
    plain = AuthError("INVALID_AUDIENCE")
    assert plain.message == SPECS["INVALID_AUDIENCE"].message
    assert plain.hint == SPECS["INVALID_AUDIENCE"].hint
    assert str(plain).startswith("INVALID_AUDIENCE: ")


def test_unknown_code_is_a_programming_error():
    with pytest.raises(ValueError):
        AuthError("NOT_A_CODE")


def test_error_for_code_never_shows_arbitrary_text():
    assert error_for_code("REFRESH_FAILED").code == "REFRESH_FAILED"
    crafted = error_for_code("<script>alert(1)</script>")
    assert crafted.code == "INVALID_REQUEST"
    assert "script" not in crafted.message and "script" not in crafted.hint
