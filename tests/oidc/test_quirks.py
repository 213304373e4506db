"""The presets' token quirks in the verifier (app/oidc/quirks.py), without Flask."""

from __future__ import annotations

import pytest

from app.errors import AuthError
from app.oidc.quirks import TokenQuirks
from app.providers import PRESETS
from app.settings import load_settings
from app.services import token_quirks
from tests.provider import presets as P

GOOGLE = TokenQuirks(issuer_aliases=("accounts.google.com",))
COGNITO = TokenQuirks(access_client_claim="client_id", token_use_claim="token_use")


def code_of(call) -> str:
    with pytest.raises(AuthError) as info:
        call()
    return info.value.code


def test_google_second_iss_spelling_is_accepted_only_with_the_preset(core, provider):
    token = provider.mint_id_token(iss="accounts.google.com")
    assert code_of(lambda: core.verifier.verify_id_token(token)) == "INVALID_ISSUER"
    core.verifier.quirks = GOOGLE
    assert core.verifier.verify_id_token(token)["sub"] == "user-123"
    other = provider.mint_id_token(iss="evil.example.com")
    assert code_of(lambda: core.verifier.verify_id_token(other)) == "INVALID_ISSUER"


def test_cognito_access_token_as_bearer(core, provider):
    token = provider.mint_access_token(aud=None, azp=None, token_use="access")
    assert code_of(lambda: core.verifier.verify_bearer(token)) == "INVALID_AUDIENCE"
    core.verifier.quirks = COGNITO
    kind, claims = core.verifier.verify_bearer(token)
    assert kind == "access" and claims["client_id"] == provider.client_id
    wrong_use = provider.mint_access_token(aud=None, azp=None, token_use="id")
    assert code_of(lambda: core.verifier.verify_bearer(wrong_use)) == "INVALID_AUDIENCE"
    other_client = provider.mint_access_token(aud=None, azp=None, client_id="other", token_use="access")
    assert code_of(lambda: core.verifier.verify_bearer(other_client)) == "INVALID_AUDIENCE"


def test_cognito_id_token_needs_token_use_id(core, provider):
    core.verifier.quirks = COGNITO
    assert core.verifier.verify_id_token(provider.mint_id_token(token_use="id"))["token_use"] == "id"
    for value in ("access", None):
        token = provider.mint_id_token(token_use=value)
        assert code_of(lambda: core.verifier.verify_id_token(token)) == "INVALID_AUDIENCE"


def test_graph_token_is_named_before_any_signature_check(core, provider):
    preset = PRESETS["entra"]
    core.verifier.quirks = TokenQuirks(foreign_audiences=frozenset(preset.foreign_audiences),
                                       foreign_header_nonce=True, foreign_hint=preset.foreign_hint)
    graph = provider.mint(
        {"iss": provider.issuer, "sub": "u", "aud": P.GRAPH_AUD, "exp": 2**31, "iat": 1},
        header={"nonce": "abc"}, key="wrong",
    )
    with pytest.raises(AuthError) as info:
        core.verifier.verify_access_token(graph)
    assert info.value.code == "INVALID_AUDIENCE" and "Microsoft Graph" in info.value.hint
    nonce_only = provider.mint_access_token()  # an ordinary token is unaffected
    assert core.verifier.verify_access_token(nonce_only)["sub"] == "user-123"


def test_multi_tenant_template_needs_a_tid(core, provider):
    core.verifier.quirks = TokenQuirks(issuer_template=provider.base_url + "/{tenantid}/v2.0")
    good = provider.mint_id_token(iss=f"{provider.base_url}/{P.TENANT}/v2.0", tid=P.TENANT)
    assert core.verifier.verify_id_token(good)["tid"] == P.TENANT
    for tid in (None, "", "a/b", 42):
        token = provider.mint_id_token(iss=f"{provider.base_url}/{P.TENANT}/v2.0", tid=tid)
        assert code_of(lambda: core.verifier.verify_id_token(token)) == "INVALID_ISSUER"


def test_token_quirks_come_from_the_preset_only():
    base = {"OPENID_CLIENT_ID": "c", "OPENID_SESSION_SECRET": "x" * 40}
    custom = token_quirks(load_settings({**base, "OPENID_ISSUER": "https://idp.example.com"}, use_dotenv=False))
    assert custom == TokenQuirks()
    cognito = token_quirks(load_settings({**base, "OPENID_PROVIDER": "cognito", "OPENID_ISSUER": P.POOL},
                                         use_dotenv=False))
    assert cognito.access_client_claim == "client_id" and cognito.token_use_claim == "token_use"
    entra = token_quirks(load_settings({**base, "OPENID_PROVIDER": "entra", "OPENID_ISSUER": "common",
                                        "OPENID_ALLOWED_TENANTS": f"{P.TENANT},{P.OTHER_TENANT}"}, use_dotenv=False))
    assert entra.issuer_template == "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert entra.allowed_tenants == {P.TENANT, P.OTHER_TENANT}
