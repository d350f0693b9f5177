"""A client's side of SMART Backend Services, for `cdr clients keygen` and `cdr clients token`
(and the tests and the README's demo): its key pair, its public JWK Set, and the signed
assertion it presents at the token endpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from rights.errors import InputError

__all__ = [
    "ClientKey",
    "client_assertion",
    "generate_client_key",
    "key_id",
    "load_client_key",
    "private_pem",
    "public_jwks",
]

ClientKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# RFC 7638 §3.2: the members of each key type that its thumbprint covers.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


def generate_client_key(alg: Literal["ES384", "RS384"]) -> ClientKey:
    if alg == "RS384":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return ec.generate_private_key(ec.SECP384R1())


def load_client_key(path: Path) -> tuple[ClientKey, str]:
    """The private key in ``path`` and the algorithm it signs with (RS384 or ES384)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", location="--key") from None
    except (ValueError, TypeError):
        raise InputError(f"{path} is no unencrypted PEM private key", location="--key") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return key, "RS384"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        return key, "ES384"
    raise InputError(f"{path}: expected an RSA or an EC P-384 key", location="--key")


def private_pem(key: ClientKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _public_jwk(key: ClientKey) -> dict[str, Any]:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public, as_dict=True)
        jwk["alg"] = "RS384"
    else:
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        jwk["alg"] = "ES384"
    jwk["use"] = "sig"
    jwk["kid"] = key_id(jwk)
    return jwk


def key_id(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of ``jwk`` (SHA-256, base64url): a key id both sides derive."""
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def public_jwks(key: ClientKey) -> dict[str, Any]:
    """The JWK Set to register for ``key``: its public key only."""
    return {"keys": [_public_jwk(key)]}


def client_assertion(
    key: ClientKey, alg: str, *, client: str, token_url: str, lifetime_s: int = 240
) -> str:
    """SMART Backend Services §"Authenticating to the token endpoint": ``iss`` = ``sub`` = the
    client id, ``aud`` the token endpoint, ``exp`` within five minutes, a fresh ``jti``; the
    header names the key (``kid``, its thumbprint)."""
    now = int(time.time())
    claims = {
        "iss": client,
        "sub": client,
        "aud": token_url,
        "iat": now,
        "exp": now + lifetime_s,
        "jti": secrets.token_urlsafe(24),
    }
    headers = {"kid": _public_jwk(key)["kid"], "typ": "JWT"}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)
