"""The signed assertion every regime call carries in unattended mode (HL7 and FHIR flows, no
person at the desk): the structure says who it is, with its own ORG SIGN certificate
(DESIGN §7; decision 0008).

A compact JWS (RS256, PyJWT), its signing certificate and chain in ``x5c``, with the claims:
``iss`` the structure identifier (``1`` + FINESS), ``finess`` and ``category``, ``act`` the actor
(here the structure itself), ``purpose``, ``iat``/``exp``, a ``jti`` nonce, and ``cnf`` the
SHA-256 thumbprint of the mutual-TLS client certificate it travels with (RFC 8705 style), so
that an assertion taken from one connection is refused on another. An assertion is reused for
its short life (renewed ``renew_after_s`` after it was made, as the official kit renews its
own every 20 s): signing never dominates a lookup.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from regimes.port import WireRequest

__all__ = [
    "ASSERTION_HEADER",
    "ASSERTION_PURPOSE",
    "StructureAssertionSigner",
    "certificate_thumbprint",
]

ASSERTION_HEADER = "X-CDR-Assertion"
ASSERTION_PURPOSE = "rights-lookup"


def certificate_thumbprint(cert: x509.Certificate) -> str:
    """``x5t#S256``: base64url of the SHA-256 of the certificate's DER, without padding."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class StructureAssertionSigner:
    """Adds the structure's current assertion to every request (``AssertionSigner``)."""

    def __init__(
        self,
        *,
        key: RSAPrivateKey,
        chain: Sequence[x509.Certificate],
        tls_client_cert: x509.Certificate,
        finess: str,
        category: str,
        now: Callable[[], datetime],
        lifetime_s: int = 60,
        renew_after_s: int = 20,
    ) -> None:
        if not chain:
            raise ValueError("the signing certificate is missing")
        self._key = key
        self._x5c = [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain
        ]
        self._cnf = certificate_thumbprint(tls_client_cert)
        self._finess = finess
        self._category = category
        self._now = now
        self._lifetime_s = lifetime_s
        self._renew_after_s = renew_after_s
        self._current: tuple[float, str] | None = None  # (made at, token)
        self.signed = 0  # how many assertions were made (tests and metrics)

    def assertion(self) -> str:
        at = self._now().timestamp()
        if self._current is not None and at - self._current[0] < self._renew_after_s:
            return self._current[1]
        issued = int(at)
        claims = {
            "iss": f"1{self._finess}",
            "finess": self._finess,
            "category": self._category,
            "act": {"type": "structure", "id": f"1{self._finess}"},
            "purpose": ASSERTION_PURPOSE,
            "iat": issued,
            "exp": issued + self._lifetime_s,
            "jti": secrets.token_urlsafe(18),
            "cnf": {"x5t#S256": self._cnf},
        }
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"x5c": self._x5c})
        self._current = (at, token)
        self.signed += 1
        return token

    def sign(self, request: WireRequest) -> WireRequest:
        return replace(request, headers={**request.headers, ASSERTION_HEADER: self.assertion()})
