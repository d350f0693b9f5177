"""The signed assertion every regime call carries (DESIGN §7; decision 0008), in both of the
seed's modes: unattended (HL7 and FHIR flows, no person at the desk), where the structure says
who it is with its own ORG SIGN certificate, and attended (a professional at the desk), where
the professional's CPx card signs with its signature key.

A compact JWS (RS256, encoded by PyJWT), its signing certificate and chain in ``x5c``, with the
claims: ``iss`` the structure identifier (``1`` + FINESS), ``finess`` and ``category``, ``act``
the actor (the structure itself, or the card holder: national identifier, profession, card
type), ``purpose``, ``iat``/``exp``, a ``jti`` nonce, and ``cnf`` the SHA-256 thumbprint of the
mutual-TLS client certificate it travels with (RFC 8705 style), so that an assertion taken from
one connection is refused on another. An assertion is reused for its short life (renewed
``renew_after_s`` after it was made, as the official kit renews its own every 20 s): signing,
on a card above all, never dominates a lookup.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NoReturn

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import Algorithm

from regimes.port import WireRequest

__all__ = [
    "ASSERTION_HEADER",
    "ASSERTION_PURPOSE",
    "Actor",
    "JwsAssertionSigner",
    "PresignedAssertion",
    "SignBytes",
    "StructureAssertionSigner",
    "assertion_signing_input",
    "certificate_thumbprint",
]

ASSERTION_HEADER = "X-CDR-Assertion"
ASSERTION_PURPOSE = "rights-lookup"


def certificate_thumbprint(cert: x509.Certificate) -> str:
    """``x5t#S256``: base64url of the SHA-256 of the certificate's DER, without padding."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# RSA PKCS#1 v1.5 with SHA-256 over the bytes given: a key in memory, or a card's key.
SignBytes = Callable[[bytes], bytes]


class _SignedByCallable(Algorithm):
    """RS256 whose private-key operation is a ``SignBytes``: PyJWT still builds the JWS (header,
    encoding, signing input) and the result is a plain RS256 JWS that any verifier checks."""

    def prepare_key(self, key: Any) -> SignBytes:
        if not callable(key):
            raise TypeError("the signing key of an assertion is a function of the bytes to sign")
        return key  # type: ignore[no-any-return]

    def sign(self, msg: bytes, key: Any) -> bytes:
        return key(msg)  # type: ignore[no-any-return]

    def verify(self, msg: bytes, key: Any, sig: bytes) -> NoReturn:
        raise NotImplementedError("assertions are verified with PyJWT's own RS256")

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> NoReturn:
        raise NotImplementedError  # a card's key never leaves it: there is no JWK to give

    @staticmethod
    def from_jwk(jwk: str | dict[str, Any]) -> NoReturn:
        raise NotImplementedError


_JWS = jwt.PyJWS(algorithms=[])
_JWS.register_algorithm("RS256", _SignedByCallable())


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts in a regime call: the structure itself (``kind`` "structure", ``id`` its
    identifier ``1`` + FINESS) or the professional whose card signs (``kind`` "person", ``id``
    the card certificate's CN: the national identifier with its type prefix)."""

    kind: str
    id: str
    profession: str | None = None
    profession_code: int | None = None
    card_type: str | None = None

    def claim(self) -> dict[str, object]:
        claim: dict[str, object] = {"type": self.kind, "id": self.id}
        if self.profession is not None:
            claim["profession"] = self.profession
        if self.profession_code is not None:
            claim["profession_code"] = self.profession_code
        if self.card_type is not None:
            claim["card"] = self.card_type
        return claim


class JwsAssertionSigner:
    """Adds the actor's current assertion to every request (``AssertionSigner``)."""

    def __init__(
        self,
        *,
        sign: SignBytes,
        chain: Sequence[x509.Certificate],
        tls_client_cert: x509.Certificate,
        finess: str,
        category: str,
        actor: Actor,
        now: Callable[[], datetime],
        lifetime_s: int = 60,
        renew_after_s: int = 20,
    ) -> None:
        if not chain:
            raise ValueError("the signing certificate is missing")
        self._sign = sign
        self._x5c = [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in chain
        ]
        self._cnf = certificate_thumbprint(tls_client_cert)
        self._finess = finess
        self._category = category
        self.actor = actor
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
            "act": self.actor.claim(),
            "purpose": ASSERTION_PURPOSE,
            "iat": issued,
            "exp": issued + self._lifetime_s,
            "jti": secrets.token_urlsafe(18),
            "cnf": {"x5t#S256": self._cnf},
        }
        payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        token = _JWS.encode(
            payload,
            self._sign,  # type: ignore[arg-type]  # a SignBytes, as _SignedByCallable takes
            algorithm="RS256",
            headers={"typ": "JWT", "x5c": self._x5c},
        )
        self._current = (at, token)
        self.signed += 1
        return token

    def sign(self, request: WireRequest) -> WireRequest:
        return replace(request, headers={**request.headers, ASSERTION_HEADER: self.assertion()})


def assertion_signing_input(
    *,
    chain: Sequence[x509.Certificate],
    tls_client_cert: x509.Certificate,
    finess: str,
    category: str,
    actor: Actor,
    now: datetime,
    lifetime_s: int = 60,
) -> str:
    """The JWS signing input (``header.payload``, base64url) of an assertion whose signature
    is made elsewhere and later: by the card at a desk the gateway cannot reach (the portal's
    page has the desk's agent sign it). ``presigned`` makes the assertion of it once signed."""
    seen: list[bytes] = []

    def keep(signing_input: bytes) -> bytes:
        seen.append(signing_input)
        return b""  # no signature here: only the input PyJWT builds is kept

    signer = JwsAssertionSigner(
        sign=keep,
        chain=chain,
        tls_client_cert=tls_client_cert,
        finess=finess,
        category=category,
        actor=actor,
        now=lambda: now,
        lifetime_s=lifetime_s,
    )
    signer.assertion()
    return seen[0].decode("ascii")


class PresignedAssertion:
    """``AssertionSigner`` carrying one assertion signed beforehand (``signing_input`` and
    the card's ``signature``) on every call of the lookup it is used for."""

    def __init__(self, signing_input: str, signature: bytes) -> None:
        encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")
        self.token = f"{signing_input}.{encoded}"

    def sign(self, request: WireRequest) -> WireRequest:
        return replace(request, headers={**request.headers, ASSERTION_HEADER: self.token})


class StructureAssertionSigner(JwsAssertionSigner):
    """Unattended mode: the structure acts, signing with its ORG SIGN key ("cachet")."""

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
        def sign(data: bytes) -> bytes:
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())

        super().__init__(
            sign=sign,
            chain=chain,
            tls_client_cert=tls_client_cert,
            finess=finess,
            category=category,
            actor=Actor("structure", f"1{finess}"),
            now=now,
            lifetime_s=lifetime_s,
            renew_after_s=renew_after_s,
        )
