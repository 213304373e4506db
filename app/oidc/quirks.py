"""Provider token quirks the verifier applies on top of the standard rules, as plain data
built from the preset: Entra's multi-tenant issuer template and allowed tenants, Cognito's
`client_id`/`token_use` instead of `aud`, Google's second `iss` spelling, and access tokens
meant for another API (Microsoft Graph) that must be explained, not reported as a bad
signature. With the defaults nothing changes (the `custom` preset)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from ..errors import AuthError


@dataclass(frozen=True)
class TokenQuirks:
    #: Multi-tenant issuer with a placeholder (`{tenantid}`) filled from `tenant_claim`.
    issuer_template: str | None = None
    placeholder: str = "{tenantid}"
    tenant_claim: str = "tid"
    allowed_tenants: frozenset[str] = frozenset()
    issuer_aliases: tuple[str, ...] = ()
    access_client_claim: str | None = None
    token_use_claim: str | None = None
    token_use_values: tuple[str, str] = ("id", "access")
    foreign_audiences: frozenset[str] = frozenset()
    foreign_header_nonce: bool = False
    foreign_hint: str | None = None

    def issuers_for(self, claims: dict[str, Any], issuer: str, hint: str | None) -> list[str]:
        """The `iss` values this token may carry: the issuer (the template filled with the
        token's own tenant id for a multi-tenant issuer) and its aliases."""
        if self.issuer_template is None:
            return [issuer, *self.issuer_aliases]
        tenant = claims.get(self.tenant_claim)
        if not isinstance(tenant, str) or not tenant or "/" in tenant:
            raise AuthError("INVALID_ISSUER", f"The token has no usable {self.tenant_claim} claim "
                            "to match the multi-tenant issuer.", hint=hint)
        if self.allowed_tenants and tenant not in self.allowed_tenants:
            raise AuthError(
                "INVALID_ISSUER",
                f"Tenant {tenant!r} is not in OPENID_ALLOWED_TENANTS.",
                hint="Only the tenants listed in OPENID_ALLOWED_TENANTS may sign in: add this "
                "tenant id there if its users should, or ask the user to sign in with an account "
                "of an allowed organisation.",
            )
        return [self.issuer_template.replace(self.placeholder, tenant)]

    def client_in_claim(self, claims: dict[str, Any], client_id: str) -> bool:
        """Cognito: an access token without `aud` that names this client in `client_id`."""
        claim = self.access_client_claim
        return claim is not None and "aud" not in claims and claims.get(claim) == client_id

    def check_token_use(self, claims: dict[str, Any], kind: str, hint: str | None) -> None:
        """Cognito: an ID token must say token_use=id, an access token token_use=access."""
        if self.token_use_claim is None:
            return
        expected = self.token_use_values[0 if kind == "id" else 1]
        actual = claims.get(self.token_use_claim)
        if actual != expected:
            raise AuthError(
                "INVALID_AUDIENCE",
                f"The token's {self.token_use_claim} is {actual!r}; expected {expected!r} for an "
                f"{'ID' if kind == 'id' else 'access'} token.",
                hint=hint,
            )

    def reject_foreign(self, token: str, header: dict[str, Any]) -> None:
        """An access token for another API (Graph): say so before any signature check, which
        would only fail without explanation."""
        if not self.foreign_audiences and not self.foreign_header_nonce:
            return
        aud: Any = None
        try:
            aud = json.loads(jws.extract_compact(token.encode("ascii")).payload).get("aud")
        except (JoseError, ValueError, AttributeError, UnicodeError):
            pass
        auds = set(aud) if isinstance(aud, list) else {aud}
        if (self.foreign_header_nonce and "nonce" in header) or auds & self.foreign_audiences:
            raise AuthError(
                "INVALID_AUDIENCE",
                f"The access token is meant for another API (aud {aud!r}) and only it can verify "
                "it: it cannot serve as this server's session.",
                hint=self.foreign_hint,
                status=400,
            )
