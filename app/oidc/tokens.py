"""Classify and verify ID, access and bearer tokens -> claims, or an AuthError with its code.

Signatures are verified by joserfc against the provider's JWKS with an allow-list of
asymmetric algorithms; registered claims are checked by joserfc's claims registry; the
OpenID-specific checks (azp, nonce, at_hash) are one small method each below.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from typing import Any

from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwt import JWTClaimsRegistry

from ..errors import AuthError
from .discovery import Discovery
from .jose import (
    MALFORMED,
    ACCESS_TOKEN_TYPES,
    ID_TOKEN_TYPES,
    access_shaped,
    classify,
    is_logout_token,
    jose_header,
    token_digest,
    token_type,
)
from .keys import ASYMMETRIC_ALGS, KeyCache
from .quirks import TokenQuirks

__all__ = ["TokenVerifier", "VerifiedCache", "classify", "token_digest"]


class VerifiedCache:
    """Bounded LRU of verified claims by token digest, each valid until its token's `exp`."""

    def __init__(self, maxsize: int = 2048) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Any | None:
        with self._lock:
            item = self._items.get(digest)
            if item is None:
                return None
            if item[0] <= time.time():
                del self._items[digest]
                return None
            self._items.move_to_end(digest)
            return item[1]

    def put(self, digest: str, until: float, value: Any) -> None:
        with self._lock:
            self._items[digest] = (until, value)
            self._items.move_to_end(digest)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)


class TokenVerifier:
    def __init__(
        self,
        discovery: Discovery,
        keys: KeyCache,
        *,
        issuer: str,
        client_id: str,
        audience: str | None,
        leeway: int,
        hints: dict[str, str] | None = None,
        quirks: TokenQuirks | None = None,
    ) -> None:
        self.discovery = discovery
        self.keys = keys
        self.issuer = issuer
        self.client_id = client_id
        self.audience = audience
        self.leeway = leeway
        self.hints = hints or {}
        self.quirks = quirks or TokenQuirks()  # the provider preset's token rules
        self.cache = VerifiedCache()

    # -- public API ----------------------------------------------------------------------

    def verify_id_token(
        self,
        token: str,
        *,
        nonce: str | None = None,
        access_token: str | None = None,
        check_nonce: bool = True,
    ) -> dict[str, Any]:
        """OIDC Core 3.1.3.7: signature, iss, aud contains client_id, azp, exp/iat/nbf with
        leeway, sub, nonce (when one was sent) and at_hash (when present)."""
        header, claims = self._decode(token, "id")
        self._check_typ(header, ID_TOKEN_TYPES)
        self._refuse_other_kinds(header, claims, "an ID token")
        self._registered(claims, self.client_id, self.leeway)
        self.check_azp(claims)
        self.quirks.check_token_use(claims, "id", self.hints.get("INVALID_AUDIENCE"))
        if check_nonce:
            self.check_nonce(claims, nonce)
        self.check_at_hash(claims, access_token, header["alg"])
        return claims

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """A reused access token: a signed JWT whose aud contains OPENID_AUDIENCE (or the
        client id); leeway on iat/nbf (a provider clock a little ahead must not end
        sessions), none on exp, because it is refreshed before it expires."""
        digest = token_digest(token)
        cached = self.cache.get(digest)
        if cached is not None and cached[0] == "reuse":
            return cached[1]
        header, claims = self._decode(token, "access")
        self._check_typ(header, ACCESS_TOKEN_TYPES)
        if is_logout_token(header, claims):
            raise self._error("INVALID_SIGNATURE", "A logout token is not an access token.")
        self._registered(claims, self._access_audience(claims), self.leeway, strict_exp=True)
        self.quirks.check_token_use(claims, "access", self.hints.get("INVALID_AUDIENCE"))
        self.cache.put(digest, float(claims["exp"]), ("reuse", claims))
        return claims

    def verify_bearer(self, token: str) -> tuple[str, dict[str, Any]]:
        """A widget's or API client's bearer: an ID token (aud = client id) or an access
        token (aud contains OPENID_AUDIENCE). Returns the kind and the claims."""
        digest = token_digest(token)
        cached = self.cache.get(digest)
        if cached is not None and cached[0] in ("id", "access"):
            return cached
        header, claims = self._decode(token, "bearer")
        self._check_typ(header, ACCESS_TOKEN_TYPES | ID_TOKEN_TYPES)
        if is_logout_token(header, claims):
            raise self._error("INVALID_SIGNATURE", "A logout token is not a bearer token.")
        access = access_shaped(header, claims)
        if not access and self._aud_contains(claims, self.client_id):
            kind = "id"
            self._registered(claims, self.client_id, self.leeway)
            self.check_azp(claims)
            self.quirks.check_token_use(claims, "id", self.hints.get("INVALID_AUDIENCE"))
        elif self._aud_contains(claims, self.audience or self.client_id):
            kind = "access"
            self._registered(claims, self.audience or self.client_id, self.leeway)
        elif self.quirks.client_in_claim(claims, self.client_id):
            kind = "access"  # Cognito: no aud, the client in client_id
            self._registered(claims, None, self.leeway)
            self.quirks.check_token_use(claims, "access", self.hints.get("INVALID_AUDIENCE"))
        else:
            # Run the registered checks first so iss/exp problems are named precisely.
            self._registered(claims, self.audience or self.client_id, self.leeway)
            raise self._error(
                "INVALID_AUDIENCE",
                "The token's aud names neither OPENID_CLIENT_ID nor OPENID_AUDIENCE.",
            )
        result = (kind, claims)
        self.cache.put(digest, float(claims["exp"]) + self.leeway, result)
        return result

    def decode_signed(self, token: str, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(header, claims) after the signature check alone (same algorithm and key rules as
        every token), for token kinds whose claims follow other rules (logout tokens)."""
        return self._decode(token, what)

    # -- signature -------------------------------------------------------------------------

    def allowed_algorithms(self) -> set[str]:
        """Asymmetric algorithms the provider advertises for ID tokens (RS256 if silent)."""
        advertised = self.discovery.metadata().get("id_token_signing_alg_values_supported")
        if not isinstance(advertised, list) or not advertised:
            advertised = ["RS256"]
        return {alg for alg in advertised if alg in ASYMMETRIC_ALGS}

    def _decode(self, token: str, what: str) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(token, str) or not token:
            raise self._error("INVALID_SIGNATURE", f"The {what} token is empty.")
        kind = classify(token)
        if kind != "jwt":
            if what == "id":
                raise self._error("INVALID_SIGNATURE", "The ID token is not a signed JWT.")
            raise self._error("OPAQUE_ACCESS_TOKEN", f"The token is {kind}, not a signed JWT.")
        header = jose_header(token) or {}
        if what != "id":
            self.quirks.reject_foreign(token, header)  # Graph's tokens: explained, not a bad signature
        alg = header.get("alg")
        allowed = self.allowed_algorithms()
        if not isinstance(alg, str) or alg not in allowed:
            raise self._error(
                "UNSUPPORTED_ALGORITHM",
                f"The token is signed with {alg!r}; allowed: {', '.join(sorted(allowed)) or 'none'}.",
            )
        kid = header.get("kid")
        key = self.keys.key_for(kid if isinstance(kid, str) else None, alg)
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except BadSignatureError:
            raise self._error("INVALID_SIGNATURE", "The signature does not verify.") from None
        except JoseError as exc:
            raise self._error("INVALID_SIGNATURE", f"The token is malformed ({exc.error}).") from None
        except MALFORMED:
            raise self._error("INVALID_SIGNATURE", "The token is malformed.") from None
        if not isinstance(decoded.claims, dict):
            raise self._error("INVALID_SIGNATURE", "The token's payload is not a JSON object.")
        return dict(decoded.header), decoded.claims

    def _check_typ(self, header: dict[str, Any], accepted: set[str | None]) -> None:
        if token_type(header) not in accepted:
            raise self._error("INVALID_SIGNATURE", f"Unexpected token type (typ={header.get('typ')!r}).")

    def _refuse_other_kinds(self, header: dict[str, Any], claims: dict[str, Any], wanted: str) -> None:
        """Where an ID token is required, neither an access token nor a logout token will do."""
        if is_logout_token(header, claims):
            raise self._error("INVALID_SIGNATURE", f"A logout token is not {wanted}.")
        if access_shaped(header, claims):
            raise self._error("INVALID_SIGNATURE", f"An access token is not {wanted}.")

    # -- claims ----------------------------------------------------------------------------

    def _access_audience(self, claims: dict[str, Any]) -> str | None:
        """The aud a reused access token must carry; None when the preset names the client in
        another claim instead and this token does so (Cognito's client_id)."""
        if self.quirks.client_in_claim(claims, self.client_id):
            return None
        return self.audience or self.client_id

    def _registered(
        self, claims: dict[str, Any], audience: str | None, leeway: int, *, strict_exp: bool = False
    ) -> None:
        """iss, sub, aud, exp, nbf, iat through joserfc's registry, mapped to our codes.
        `audience` None: no aud rule (the caller checked the client otherwise); `strict_exp`:
        the leeway covers iat/nbf only, exp gets none."""
        issuers = self.quirks.issuers_for(claims, self.issuer, self.hints.get("INVALID_ISSUER"))
        rules: dict[str, Any] = {
            "iss": {"essential": True, "values": issuers},
            "sub": {"essential": True},
            "exp": {"essential": True},
        }
        if audience is not None:
            rules["aud"] = {"essential": True, "value": audience}
        registry = JWTClaimsRegistry(leeway=leeway, **rules)
        try:
            registry.validate(claims)
        except MissingClaimError as exc:
            missing = exc.claim.split(",")
            if "sub" in missing:
                raise self._error("MISSING_SUB", "The token has no sub claim.") from None
            if "iss" in missing:
                raise self._error("INVALID_ISSUER", "The token has no iss claim.") from None
            if "aud" in missing:
                raise self._error("INVALID_AUDIENCE", "The token has no aud claim.") from None
            raise self._error("TOKEN_EXPIRED", "The token has no exp claim.") from None
        except ExpiredTokenError:
            raise self._error("TOKEN_EXPIRED") from None
        except ClaimError as exc:
            raise self._claim_error(exc.claim, claims, audience) from None
        except MALFORMED:
            raise self._error("INVALID_SIGNATURE", "The token's registered claims are malformed.") from None
        if strict_exp and claims["exp"] <= time.time():
            raise self._error("TOKEN_EXPIRED")

    def _claim_error(self, claim: str, claims: dict[str, Any], audience: str) -> AuthError:
        if claim == "iss":
            return self._error(
                "INVALID_ISSUER",
                f"The token's iss is {claims.get('iss')!r}; expected {self.issuer!r}"
                + (" with the token's tenant id" if self.quirks.issuer_template else "") + ".",
            )
        if claim == "aud":
            return self._error(
                "INVALID_AUDIENCE", f"The token's aud is {claims.get('aud')!r}; expected {audience!r}."
            )
        if claim in ("nbf", "iat"):
            return self._error("TOKEN_NOT_YET_VALID", f"The token's {claim} is in the future.")
        if claim == "sub":
            return self._error("MISSING_SUB", "The token's sub is empty or not a string.")
        if claim == "exp":
            return self._error("TOKEN_EXPIRED", "The token's exp is not a valid time.")
        return self._error("INVALID_SIGNATURE", f"The token's {claim} claim is invalid.")

    def check_azp(self, claims: dict[str, Any]) -> None:
        """If the ID Token contains multiple audiences, the Client SHOULD verify that an azp
        Claim is present. If an azp Claim is present, the Client SHOULD verify that its
        client_id is the Claim Value."""
        aud = claims.get("aud")
        azp = claims.get("azp")
        if isinstance(aud, list) and len(aud) > 1 and azp is None:
            raise self._error("INVALID_AUDIENCE", "The token has several audiences but no azp.")
        if azp is not None and azp != self.client_id:
            raise self._error("INVALID_AUDIENCE", f"The token's azp is {azp!r}, not this client.")

    def check_nonce(self, claims: dict[str, Any], nonce: str | None) -> None:
        """If a nonce value was sent in the Authentication Request, a nonce Claim MUST be
        present and its value checked to verify that it is the same value as the one that
        was sent in the Authentication Request."""
        if nonce is None:
            return
        value = claims.get("nonce")
        if not isinstance(value, str) or not hmac.compare_digest(value, nonce):
            raise self._error("INVALID_NONCE")

    def check_at_hash(self, claims: dict[str, Any], access_token: str | None, alg: str) -> None:
        """Access Token hash value: the base64url encoding of the left-most half of the hash
        of the octets of the ASCII representation of the access_token value, where the hash
        algorithm is the one used in the alg Header Parameter of the ID Token's JOSE Header."""
        at_hash = claims.get("at_hash")
        if at_hash is None or access_token is None:
            return
        expected = create_half_hash(access_token, alg)
        if expected is None or not hmac.compare_digest(expected.decode(), str(at_hash)):
            raise self._error("INVALID_SIGNATURE", "The ID token's at_hash does not match the access token.")

    @staticmethod
    def _aud_contains(claims: dict[str, Any], value: str) -> bool:
        aud = claims.get("aud")
        return aud == value or (isinstance(aud, list) and value in aud)

    def _error(self, code: str, detail: str | None = None) -> AuthError:
        return AuthError(code, detail, hint=self.hints.get(code))
