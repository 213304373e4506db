"""Property-based tests (hypothesis): whatever a client sends, token classification, header
parsing, bearer verification and `return_to` answer with a value or a contract error, never
an exception, and `return_to` never leaves the site."""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import AuthError
from app.oidc.jose import classify, jose_header
from app.web.urls import safe_return_to

QUICK = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
header_members = st.fixed_dictionaries(
    {},
    optional={
        "alg": json_values | st.sampled_from(["RS256", "ES256", "none", "HS256"]),
        "kid": json_values,
        "typ": json_values | st.sampled_from(["JWT", "at+jwt", "logout+jwt"]),
        "crit": json_values | st.lists(st.text(max_size=5), max_size=3),
        "cty": json_values,
    },
)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(header: object, payload: object, signature: bytes = b"sig") -> str:
    return ".".join((b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)))


@QUICK
@given(st.text(max_size=300))
def test_classify_never_raises(text):
    assert classify(text) in (None, "jwt", "jwe", "opaque")


@QUICK
@given(header_members, json_values)
def test_header_parsing_gives_a_sane_header_or_none(header, payload):
    token = compact(header, payload)
    parsed = jose_header(token)
    if parsed is not None:
        assert isinstance(parsed, dict) and "alg" in parsed
        assert parsed.get("kid") is None or isinstance(parsed["kid"], str)
        assert parsed.get("typ") is None or isinstance(parsed["typ"], str)
        crit = parsed.get("crit")
        assert crit is None or (isinstance(crit, list) and crit and all(isinstance(c, str) for c in crit))
    assert classify(token) == ("jwt" if parsed is not None else "opaque")


@QUICK
@given(st.text(alphabet="[{\"a:1,]}", max_size=3000))
def test_header_parsing_survives_deep_nesting(text):
    parsed = jose_header(b64(text.encode()) + ".e30.c2ln")
    assert parsed is None or isinstance(parsed, dict)


@QUICK
@given(header_members, json_values)
def test_bearer_verification_answers_an_auth_error_or_claims(make_core, provider, header, payload):
    core = make_core(audience="https://api.example.com")
    try:
        kind, claims = core.verifier.verify_bearer(compact(header, payload))
    except AuthError as error:
        assert error.status in (401, 403, 502, 503)
    else:  # only a token the provider really signed could get here
        raise AssertionError(f"accepted a forged token: {kind} {claims}")


@QUICK
@given(st.text(max_size=200))
def test_bearer_verification_of_any_text_is_an_auth_error(make_core, provider, text):
    core = make_core()
    try:
        core.verifier.verify_bearer(text)
    except AuthError:
        pass
    else:
        raise AssertionError("accepted arbitrary text as a bearer token")


schemes = st.sampled_from(["", "/", "//", "\\", "/\\", "http:", "https://", "javascript:", "%2f", "%5c", "%252f", "/%2f"])


@QUICK
@given(st.lists(schemes | st.text(max_size=10), max_size=6).map("".join))
def test_return_to_never_leaves_the_site(value):
    result = safe_return_to(value)
    assert result == "/" or result == value
    decoded = result
    for _ in range(4):
        assert decoded.startswith("/") and not decoded.startswith("//") and "\\" not in decoded
        parts = urlsplit(decoded)
        assert not parts.scheme and not parts.netloc
        decoded = unquote(decoded)


header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300)


@QUICK
@given(header_text, st.sampled_from(["/api/user", "/api/models", "/", "/api/auth/refresh"]))
def test_any_authorization_header_is_answered_without_a_500(make_app, text, path):
    client = _app(make_app).test_client()
    for value in (text, "Bearer " + text, "bearer " + text.strip()):
        response = client.get(path, headers={"Authorization": value})
        assert response.status_code < 500 or response.status_code == 503


_APPS: dict[int, object] = {}


def _app(make_app):
    """One app per test function (hypothesis calls the body many times)."""
    key = id(make_app)
    if key not in _APPS:
        _APPS.clear()
        _APPS[key] = make_app(OPENID_AUDIENCE="https://api.example.com").app
    return _APPS[key]
