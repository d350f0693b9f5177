"""What the kit presents to a secured gateway (issue 16): a SMART Backend Services client (its
name and private key: the kit asks the target's token endpoint for an access token with a
signed client assertion, RFC 7523, as any registered system would) and a TLS client
certificate (for an HTTPS API that takes certificates, and for MLLP over TLS), with the CA
that signed the target's own certificate.

The kit's own client, written for it rather than borrowed from the gateway's helpers: the kit
judges a gateway, and a token endpoint that accepted only what our own helper makes would not be
judged. JOSE is PyJWT's; the key id is the RFC 7638 thumbprint, as registered JWK Sets carry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from rights.errors import CdrError, InputError

__all__ = ["Credentials", "TokenRefused", "fetch_token", "tls_context"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_SCOPE = "system/CoverageEligibilityRequest.c"
_THUMBPRINT = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


class TokenRefused(CdrError):
    """No access token: the target has no token endpoint, or refused the client."""


@dataclass(frozen=True)
class Credentials:
    client: str | None = None  # the registered client name (SMART client_id)
    key: Path | None = None  # its private key (PEM: RSA, or EC P-384)
    scope: str = DEFAULT_SCOPE
    cert: Path | None = None  # a TLS client certificate (PEM), its key in --cert-key or in it
    cert_key: Path | None = None
    ca: Path | None = None  # the CA certificates to trust for the target (PEM)

    @property
    def smart(self) -> bool:
        return self.client is not None


def tls_context(credentials: Credentials) -> ssl.SSLContext | None:
    """The TLS context for the target, or None when nothing TLS-specific was given."""
    if credentials.cert is None and credentials.ca is None:
        return None
    try:
        context = ssl.create_default_context(
            cafile=str(credentials.ca) if credentials.ca is not None else None
        )
        if credentials.cert is not None:
            key = str(credentials.cert_key) if credentials.cert_key is not None else None
            context.load_cert_chain(str(credentials.cert), key)
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot use the certificate files: {exc}", location="--cert") from None
    return context


def _key(path: Path) -> tuple[rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, str]:
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


def _kid(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = key.public_key()
    jwk: dict[str, Any] = (
        RSAAlgorithm.to_jwk(public, as_dict=True)
        if isinstance(public, rsa.RSAPublicKey)
        else ECAlgorithm.to_jwk(public, as_dict=True)
    )
    members = {name: jwk[name] for name in _THUMBPRINT[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


async def fetch_token(client: httpx.AsyncClient, fhir_base: str, credentials: Credentials) -> str:
    """An access token from the target: its token endpoint read from
    ``[base]/.well-known/smart-configuration``, then a client-credentials grant."""
    assert credentials.client is not None and credentials.key is not None
    key, alg = _key(credentials.key)
    discovery = f"{fhir_base.rstrip('/')}/.well-known/smart-configuration"
    try:
        answer = await client.get(discovery, headers={"Accept": "application/json"})
        token_url = answer.json()["token_endpoint"] if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise TokenRefused(f"{discovery}: no SMART configuration ({exc})") from None
    if not isinstance(token_url, str):
        raise TokenRefused(f"{discovery}: HTTP {answer.status_code}, no token_endpoint")
    now = int(time.time())
    claims = {
        "iss": credentials.client,
        "sub": credentials.client,
        "aud": token_url,
        "iat": now,
        "exp": now + 240,
        "jti": secrets.token_urlsafe(24),
    }
    assertion = jwt.encode(claims, key, algorithm=alg, headers={"kid": _kid(key), "typ": "JWT"})
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        "scope": credentials.scope,
    }
    try:
        granted = await client.post(token_url, data=form)
    except httpx.HTTPError as exc:
        raise TokenRefused(f"{token_url}: cannot reach it: {exc or type(exc).__name__}") from None
    if granted.status_code != 200:
        said = granted.text[:300].replace("\n", " ")
        raise TokenRefused(f"{token_url}: HTTP {granted.status_code}: {said}")
    try:
        return str(granted.json()["access_token"])
    except (ValueError, KeyError, TypeError):
        raise TokenRefused(f"{token_url}: the answer carries no access_token") from None
