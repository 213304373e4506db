"""What the presets' token quirks and the userinfo role source cost (issue 13).

    .venv/bin/python bench/presets.py [--tokens N]

In-process, against the controllable test provider on 127.0.0.1: verifies N fresh access
tokens (no verified-claims cache hit: each token is new) with the `custom` rules and with
the Cognito (client_id/token_use) and multi-tenant Entra (tid template) quirks, and times
the role assessment at refresh with roles read from the ID token vs from userinfo (one HTTP
call). Prints figures and ratios; never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from app.oidc.discovery import Discovery  # noqa: E402
from app.oidc.http import ProviderHttp  # noqa: E402
from app.oidc.identity import Entitlements, RoleRule  # noqa: E402
from app.oidc.keys import KeyCache  # noqa: E402
from app.oidc.quirks import TokenQuirks  # noqa: E402
from app.oidc.tokens import TokenVerifier  # noqa: E402
from app.oidc.tokenset import TokenSet  # noqa: E402
from app.oidc.userinfo import UserinfoClient  # noqa: E402
from tests.provider import TestProvider  # noqa: E402


def per_call(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--userinfo-calls", type=int, default=200)
    args = parser.parse_args()
    with TestProvider() as p:
        http = ProviderHttp(timeout=5)
        discovery = Discovery(p.issuer, http)
        keys = KeyCache(lambda: discovery.metadata()["jwks_uri"], http)
        tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
        cases = {
            "custom": (TokenQuirks(), {}),
            "cognito": (TokenQuirks(access_client_claim="client_id", token_use_claim="token_use"),
                        {"aud": None, "token_use": "access"}),
            "entra multi-tenant": (TokenQuirks(issuer_template=p.base_url + "/{tenantid}"),
                                   {"iss": f"{p.base_url}/{tid}", "tid": tid}),
        }
        figures = {}
        for name, (quirks, overrides) in cases.items():
            verifier = TokenVerifier(discovery, keys, issuer=p.issuer, client_id=p.client_id, audience=None,
                                     leeway=60, quirks=quirks)
            tokens = [p.mint_access_token(**overrides) for _ in range(args.tokens)]
            verifier.verify_access_token(p.mint_access_token(**overrides))  # warm discovery and JWKS
            figures[name] = per_call(verifier.verify_access_token, tokens)
        print(f"access-token verification, {args.tokens} fresh RS256 tokens each:")
        for name, micros in figures.items():
            print(f"  {name:<20} {micros:8.1f} µs/token   x{micros / figures['custom']:.2f} of custom")

        userinfo = UserinfoClient(discovery, http)
        token = p.mint_access_token()
        id_claims = p.decode(p.mint_id_token())[1]
        rows = {}
        for kind in ("id", "userinfo"):
            ent = Entitlements(required=("admin",), required_rule=RoleRule(kind, "roles"), admin_roles=("admin",),
                               admin_rule=RoleRule(kind, "roles"), userinfo=userinfo.fetch)
            rows[kind] = per_call(lambda _: ent.at_refresh(TokenSet(sub="user-123"), id_claims, None, token),
                                  range(args.userinfo_calls))
        print(f"role assessment at refresh, {args.userinfo_calls} times:")
        for kind, micros in rows.items():
            print(f"  roles from {kind:<9} {micros:8.1f} µs   x{micros / rows['id']:.1f} of id-token roles")
        print(f"  (userinfo calls at the provider: {p.calls['userinfo']}; ordinary requests make none)")


if __name__ == "__main__":
    main()
