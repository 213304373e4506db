"""Signing keys and token minting for the test provider (all JOSE work via joserfc).

Key generation is slow (RSA especially), so keys are generated once per process and
shared by every ``TestProvider``; ``KeySet.rotate`` is the only thing that makes new ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwe import JWERegistry
from joserfc.jwk import ECKey, KeySet as JWKSet, OctKey, OKPKey, RSAKey
from joserfc.errors import UnsupportedAlgorithmError
from joserfc.jws import JWSAlgModel, JWSRegistry

AnyKey = RSAKey | ECKey | OKPKey

#: Every JWS algorithm the provider can sign with ("none" and HS* only for attacks).
SIGNING_ALGS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512", "none",
)
ASYMMETRIC_ALGS = frozenset(a for a in SIGNING_ALGS if not a.startswith("HS") and a != "none")

#: Key "kinds": which key signs which algorithm.
_EC_CURVES = {"EC": "P-256", "EC-P384": "P-384", "EC-P521": "P-521"}
_ALG_KIND = {"ES256": "EC", "ES384": "EC-P384", "ES512": "EC-P521", "EdDSA": "OKP"}



class _SigningRegistry(JWSRegistry):
    """Allows every alg in SIGNING_ALGS without joserfc's SecurityWarning.

    The provider mints deprecated/insecure tokens on purpose ("none", EdDSA, HMAC with a
    public key); warning about them would only add noise to the test run.
    """

    def get_alg(self, name: str) -> JWSAlgModel:
        if name not in SIGNING_ALGS or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not supported")
        return self.algorithms[name]


_SIGN_REGISTRY = _SigningRegistry(strict_check_header=False)
_JWE_REGISTRY = JWERegistry(algorithms=["RSA-OAEP-256", "A256GCM"])

_cache: dict[str, AnyKey] = {}
_cache_lock = threading.Lock()


def kind_for_alg(alg: str) -> str:
    """The key kind ("RSA", "EC", "EC-P384", "EC-P521", "OKP") that signs ``alg``."""
    return _ALG_KIND.get(alg, "RSA")


def generate_key(kind: str, use: str = "sig") -> AnyKey:
    """A brand-new private key of ``kind`` with a thumbprint ``kid``."""
    params = {"use": use}
    if kind == "RSA":
        return RSAKey.generate_key(2048, parameters=params, auto_kid=True)
    if kind in _EC_CURVES:
        return ECKey.generate_key(_EC_CURVES[kind], parameters=params, auto_kid=True)
    if kind == "OKP":
        return OKPKey.generate_key("Ed25519", parameters=params, auto_kid=True)
    raise ValueError(f"unknown key kind {kind!r} (RSA, EC, EC-P384, EC-P521, OKP)")


def shared_key(name: str, kind: str) -> AnyKey:
    """A process-wide cached key, generated on first use (``name`` separates roles)."""
    slot = f"{name}:{kind}"
    with _cache_lock:
        key = _cache.get(slot)
        if key is None:
            key = _cache[slot] = generate_key(kind, use="enc" if name == "jwe" else "sig")
        return key


def public_jwk(key: AnyKey) -> dict[str, Any]:
    """The public JWK dict of ``key`` (kid and use included)."""
    return key.as_dict(private=False)


def hmac_public_key(rsa_key: RSAKey) -> OctKey:
    """An HMAC key whose secret is the RSA *public* key's PEM: the key-confusion attack.

    joserfc rightly refuses to import a PEM as an oct key, so the key object is built
    directly; the attacker-side signing is still done by joserfc.
    """
    native = rsa_key.get_op_key("verify")
    pem = native.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return OctKey(pem, pem)


def half_hash(value: str, alg: str) -> str:
    """OIDC Core ``at_hash``/``c_hash``: left half of the hash, base64url without padding."""
    if alg == "EdDSA":
        digest = hashlib.sha512(value.encode("ascii")).digest()
    else:
        bits = alg[2:] if alg[2:] in ("256", "384", "512") else "256"
        digest = hashlib.new(f"sha{bits}", value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def apply_overrides(base: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``base`` updated with ``overrides``; an override of None deletes that key."""
    out = dict(base)
    for name, value in (overrides or {}).items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


class KeySet:
    """The provider's current keys: one signing key per kind in use, plus extras.

    Starts from the process-shared keys; ``rotate`` replaces them with fresh ones.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signing: dict[str, AnyKey] = {}
        self._extra: list[AnyKey] = []
        self.reset()

    def reset(self) -> None:
        """Back to the shared default RSA key only."""
        with self._lock:
            self._signing = {"RSA": shared_key("good", "RSA")}
            self._extra = []

    def signing_key(self, kind: str) -> AnyKey:
        """The current signing key of ``kind`` (added to the JWKS on first use)."""
        with self._lock:
            key = self._signing.get(kind)
            if key is None:
                key = self._signing[kind] = shared_key("good", kind)
            return key

    def wrong_key(self, kind: str) -> AnyKey:
        """A key of ``kind`` that is never in the JWKS."""
        return shared_key("wrong", kind)

    def rotate(self) -> None:
        """Fresh signing keys (new kids) for every kind in use; the old ones leave the JWKS."""
        with self._lock:
            kinds = list(self._signing)
        fresh = {kind: generate_key(kind) for kind in kinds}
        with self._lock:
            self._signing.update(fresh)

    def add(self, kind: str = "RSA") -> AnyKey:
        """An extra (non-signing) key published in the JWKS."""
        key = generate_key(kind)
        with self._lock:
            self._extra.append(key)
        return key

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document: signing keys first, then extras."""
        with self._lock:
            keys = list(self._signing.values()) + list(self._extra)
        return {"keys": [public_jwk(k) for k in keys]}


def sign(
    keys: KeySet,
    claims: dict[str, Any],
    alg: str,
    header: dict[str, Any] | None = None,
    key: str = "good",
) -> str:
    """Sign ``claims`` as a compact JWS.

    ``key``: "good" (the published key for ``alg``), "wrong" (an unpublished key of the
    same kind, but the published kid: a bad signature) or "hmac_public" (HS256 keyed with
    the RSA public key PEM). ``alg`` "none" makes an unsigned token. ``header`` overrides
    are merged last (None removes, e.g. ``{"kid": None}``).
    """
    if key == "hmac_public" and not alg.startswith("HS"):
        alg = "HS256"
    if alg not in SIGNING_ALGS:
        raise ValueError(f"unsupported signing alg {alg!r}")
    good = keys.signing_key(kind_for_alg(alg) if alg in ASYMMETRIC_ALGS else "RSA")
    base_header: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": good.kid}
    signer: Any
    if alg == "none":
        signer = None
    elif alg.startswith("HS"):
        if key not in ("hmac_public", "good", "wrong"):
            raise ValueError(f"unknown key choice {key!r}")
        signer = hmac_public_key(good if key != "wrong" else keys.wrong_key("RSA"))
    elif key == "good":
        signer = good
    elif key == "wrong":
        signer = keys.wrong_key(kind_for_alg(alg))
    else:
        raise ValueError(f"unknown key choice {key!r} (good, wrong, hmac_public)")
    final_header = apply_overrides(base_header, header)
    final_header.setdefault("alg", alg)
    return jwt.encode(final_header, claims, signer, registry=_SIGN_REGISTRY, default_type=None)


def encrypt(claims: dict[str, Any]) -> str:
    """A real compact JWE (RSA-OAEP-256 + A256GCM, five segments) under a throwaway key."""
    enc_key = shared_key("jwe", "RSA")
    return jwt.encode({"alg": "RSA-OAEP-256", "enc": "A256GCM"}, claims, enc_key, registry=_JWE_REGISTRY)


def opaque_token() -> str:
    """A random opaque access token (not a JWT: no dots)."""
    return secrets.token_urlsafe(32)


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a compact JWS without verifying it — for tests' convenience."""
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(head))),
        json.loads(base64.urlsafe_b64decode(pad(body))),
    )


def verify_key_set(keys: KeySet) -> JWKSet:
    """The published JWKS as a joserfc KeySet (for verifying what the provider minted)."""
    return JWKSet.import_key_set(keys.jwks())
