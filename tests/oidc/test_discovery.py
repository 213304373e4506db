"""Discovery: lazy, TTL-cached, retried, stale-tolerant, and strict about the issuer."""

from __future__ import annotations

import pytest

from app.errors import AuthError
from app.oidc.discovery import REQUIRED, Discovery
from app.oidc.http import ProviderHttp


def test_nothing_is_fetched_until_asked(provider, make_core):
    make_core()
    assert provider.calls["discovery"] == 0


def test_metadata_is_the_providers_document(provider, core):
    doc = core.discovery.metadata()
    assert doc["issuer"] == provider.issuer
    assert doc["jwks_uri"] == provider.url("/jwks")
    assert doc["token_endpoint"] == provider.url("/token")
    assert provider.calls["discovery"] == 1


def test_second_call_within_ttl_makes_no_request(provider, core):
    first = core.discovery.metadata()
    second = core.discovery.metadata()
    assert second is first
    assert provider.calls["discovery"] == 1


def test_refetched_after_ttl(provider, make_core, clock):
    core = make_core(discovery_ttl=100)
    core.discovery.metadata()
    clock.advance(99)
    core.discovery.metadata()
    assert provider.calls["discovery"] == 1
    clock.advance(2)
    provider.config.discovery_overrides = {"service_documentation": "https://docs.example.com"}
    assert core.discovery.metadata()["service_documentation"] == "https://docs.example.com"
    assert provider.calls["discovery"] == 2


def test_invalidate_forces_a_refetch(provider, core):
    core.discovery.metadata()
    core.discovery.invalidate()
    core.discovery.metadata()
    assert provider.calls["discovery"] == 2


def test_provider_down_is_discovery_failed_502_then_recovers(provider, make_core):
    core = make_core(attempts=2)
    provider.config.down = True
    with pytest.raises(AuthError) as info:
        core.discovery.metadata()
    assert info.value.code == "DISCOVERY_FAILED"
    assert info.value.status == 502
    assert provider.calls["discovery"] == 2  # retried once
    # The failure is not cached: the next request tries again and succeeds.
    provider.config.down = False
    assert core.discovery.metadata()["issuer"] == provider.issuer
    assert provider.calls["discovery"] == 3


def test_unreachable_port_is_discovery_failed():
    # A port nobody listens on (bound then closed) -> connection refused.
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    discovery = Discovery(f"http://127.0.0.1:{port}", ProviderHttp(timeout=2), attempts=1)
    with pytest.raises(AuthError) as info:
        discovery.metadata()
    assert info.value.code == "DISCOVERY_FAILED"
    assert info.value.status == 502


def test_server_error_is_discovery_failed_and_retried(provider, make_core):
    core = make_core(attempts=2)
    provider.config.fail = {"discovery": 500}
    with pytest.raises(AuthError) as info:
        core.discovery.metadata()
    assert info.value.code == "DISCOVERY_FAILED"
    assert "500" in info.value.message
    assert provider.calls["discovery"] == 2
    provider.config.fail = {}
    assert core.discovery.metadata()["issuer"] == provider.issuer


def test_client_error_is_discovery_failed_without_retry(provider, make_core):
    core = make_core(attempts=3)
    provider.config.fail = {"discovery": 404}
    with pytest.raises(AuthError) as info:
        core.discovery.metadata()
    assert info.value.code == "DISCOVERY_FAILED"
    assert provider.calls["discovery"] == 1


def test_issuer_mismatch_names_both_values(provider, core):
    provider.config.discovery_overrides = {"issuer": "https://other.example.com/"}
    with pytest.raises(AuthError) as info:
        core.discovery.metadata()
    assert info.value.code == "INVALID_ISSUER"
    assert "https://other.example.com/" in info.value.message
    assert provider.issuer in info.value.message


def test_issuer_compared_exactly_trailing_slash_included(provider, make_core):
    core = make_core(issuer=provider.issuer + "/")
    with pytest.raises(AuthError) as info:
        core.discovery.metadata()
    assert info.value.code == "INVALID_ISSUER"
    assert repr(provider.issuer) in info.value.message
    assert repr(provider.issuer + "/") in info.value.message


def test_issuer_mismatch_uses_preset_hint(provider):
    discovery = Discovery(
        provider.issuer + "/", ProviderHttp(), attempts=1, hints={"INVALID_ISSUER": "preset hint"}
    )
    with pytest.raises(AuthError) as info:
        discovery.metadata()
    assert info.value.hint == "preset hint"


@pytest.mark.parametrize("missing", [k for k in REQUIRED if k != "issuer"])
def test_missing_required_metadata_is_discovery_failed(provider, core, missing):
    provider.config.discovery_overrides = {missing: None}
    with pytest.raises(AuthError) as info:
        core.discovery.metadata()
    assert info.value.code == "DISCOVERY_FAILED"
    assert missing in info.value.message


def test_missing_issuer_is_discovery_failed(provider, core):
    provider.config.discovery_overrides = {"issuer": None}
    with pytest.raises(AuthError) as info:
        core.discovery.metadata()
    assert info.value.code == "DISCOVERY_FAILED"


def test_stale_document_served_while_refetch_fails(provider, make_core, clock):
    core = make_core(discovery_ttl=100)
    doc = core.discovery.metadata()
    clock.advance(101)
    provider.config.fail = {"discovery": 500}
    assert core.discovery.metadata() == doc
    assert provider.calls["discovery"] == 2
    # ... without hammering the provider: the next retry waits about a minute.
    core.discovery.metadata()
    assert provider.calls["discovery"] == 2
    clock.advance(61)
    provider.config.fail = {}
    core.discovery.metadata()
    assert provider.calls["discovery"] == 3


def test_jwks_uri_override_replaces_discovery_value(provider, make_core):
    core = make_core(jwks_uri_override="https://keys.example.com/jwks")
    assert core.discovery.metadata()["jwks_uri"] == "https://keys.example.com/jwks"


class _Response:
    def __init__(self, status: int, body):
        self.status_code = status
        self._body = body

    def json(self):
        if isinstance(self._body, Exception):
            raise self._body
        return self._body


class _StubHttp:
    def __init__(self, response: _Response) -> None:
        self.response = response

    def get(self, url: str) -> _Response:
        return self.response


@pytest.mark.parametrize("body", [ValueError("not json"), ["issuer"], "text"], ids=["not-json", "array", "string"])
def test_document_that_is_not_a_json_object(body):
    discovery = Discovery("https://idp.example.com", _StubHttp(_Response(200, body)), attempts=1)  # type: ignore[arg-type]
    with pytest.raises(AuthError) as info:
        discovery.metadata()
    assert info.value.code == "DISCOVERY_FAILED"


def test_default_ttl_is_one_hour():
    assert Discovery("https://idp.example.com", ProviderHttp()).ttl == 3600


def test_url_built_from_issuer_with_or_without_slash():
    assert Discovery("https://idp.example.com/", ProviderHttp()).url == (
        "https://idp.example.com/.well-known/openid-configuration"
    )
    assert Discovery("https://idp.example.com/oauth2/default", ProviderHttp()).url == (
        "https://idp.example.com/oauth2/default/.well-known/openid-configuration"
    )
