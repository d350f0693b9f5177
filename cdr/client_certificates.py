"""The certificate `cdr clients add NAME --certificate FILE` registers: read, checked for what
the API's handshake will ask of it, and reduced to what is stored (its SHA-256 thumbprint and
its subject)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from fhir_server.auth import certificate_thumbprint
from rights.errors import InputError

__all__ = ["ClientCertificate", "read_client_certificate"]

_OPTION = "--certificate"


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    thumbprint: str  # RFC 8705 x5t#S256
    subject: str  # RFC 4514


def read_client_certificate(path: Path, *, now: datetime | None = None) -> ClientCertificate:
    """The client's certificate in ``path`` (PEM, the first of the file when it holds its chain;
    or DER); ``InputError`` naming the option for anything a handshake would refuse anyway."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", location=_OPTION) from None
    if b"PRIVATE KEY-----" in data:
        raise InputError(
            f"{path} holds a private key: register the certificate only", location=_OPTION
        )
    certificate = _parse(path, data)
    moment = now or datetime.now(UTC)
    if certificate.not_valid_after_utc < moment:
        raise InputError(
            f"{path}: the certificate expired on {certificate.not_valid_after_utc:%Y-%m-%d}",
            location=_OPTION,
        )
    _check_usage(path, certificate)
    return ClientCertificate(
        certificate_thumbprint(certificate.public_bytes(Encoding.DER)),
        certificate.subject.rfc4514_string(),
    )


def _parse(path: Path, data: bytes) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)[0]
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise InputError(
            f"{path} is not an X.509 certificate (PEM or DER)", location=_OPTION
        ) from None


def _check_usage(path: Path, certificate: x509.Certificate) -> None:
    """What the TLS handshake checks of a client's certificate (OpenSSL's "SSL client"
    purpose), said before it is registered rather than found out at the first call."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        pass
    else:
        if constraints.value.ca:
            raise InputError(
                f"{path} is a CA certificate: register the client's own", location=_OPTION
            )
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return  # no restriction: any purpose
    allowed = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE)
    if not any(usage in usages for usage in allowed):
        raise InputError(
            f"{path}: its extended key usage does not allow TLS client authentication "
            "(an ORG AUTH_CLI certificate does)",
            location=_OPTION,
        )
