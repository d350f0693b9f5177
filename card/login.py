"""The gateway's side of a card login (issue 15): the portal gave the desk a challenge, the card
agent had the card sign it with its authentication key (``card.agent``), and the page sends
back the signature and the authentication certificate. The login holds when the certificate
chains to the trusted IGC-Santé roots, none of the chain is revoked, it is valid now and made
for authentication (digitalSignature, TLS client EKU), and its key signed this very challenge.
The holder is then read from the certificate, as the desk reads it.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from card.holder import CardHolder, holder_from_certificate
from rights.errors import AuthError

__all__ = ["CardLoginRefused", "CardTrust", "verify_card_login"]


class CardLoginRefused(AuthError):
    """The card login does not hold; ``code`` says why for the page (its French words)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CardTrust:
    """The roots and sub-CAs trusted for card certificates, and the CAs' CRLs."""

    roots: Sequence[x509.Certificate]
    intermediates: Sequence[x509.Certificate] = ()
    crls: Sequence[x509.CertificateRevocationList] = ()

    @classmethod
    def from_pem(cls, chain_pem: bytes, crls_pem: Sequence[bytes] = ()) -> CardTrust:
        certificates = x509.load_pem_x509_certificates(chain_pem)
        return cls(
            [c for c in certificates if c.subject == c.issuer],
            [c for c in certificates if c.subject != c.issuer],
            [x509.load_pem_x509_crl(c) for c in crls_pem],
        )

    def revoked(self, certificate: x509.Certificate) -> bool:
        return any(
            crl.issuer == certificate.issuer
            and crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
            for crl in self.crls
        )


def verify_card_login(
    challenge: bytes,
    signature: bytes,
    certificate_der: bytes,
    trust: CardTrust,
    now: datetime.datetime,
) -> CardHolder:
    """The card holder when the login holds; ``CardLoginRefused`` naming why otherwise."""
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except ValueError:
        raise CardLoginRefused("bad-certificate", "the card's certificate is unreadable") from None
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise CardLoginRefused("certificate-expired", "the card's certificate is not valid now")
    verifier = (
        PolicyBuilder()
        .store(Store(list(trust.roots)))
        .time(now)
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=ExtensionPolicy.permit_all(),  # the usages are checked below
        )
        .build_client_verifier()
    )
    try:
        chain = verifier.verify(certificate, list(trust.intermediates)).chain
    except VerificationError as exc:
        raise CardLoginRefused(
            "untrusted", f"the card's certificate does not chain to a trusted root: {exc}"
        ) from None
    if any(trust.revoked(c) for c in chain):
        raise CardLoginRefused("revoked", "the card's certificate is revoked")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        purposes = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise CardLoginRefused("wrong-usage", "the certificate says nothing of its key") from None
    if not usage.digital_signature or ExtendedKeyUsageOID.CLIENT_AUTH not in purposes:
        raise CardLoginRefused(
            "wrong-usage", "the certificate is not the card's authentication certificate"
        )
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CardLoginRefused("wrong-usage", "the card's key is not an RSA key")
    try:
        key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise CardLoginRefused(
            "bad-signature", "the signature is not the card's over this challenge"
        ) from None
    return holder_from_certificate(certificate_der)
