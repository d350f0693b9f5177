"""The two ends of the signed assertion (decision 0008), built from the settings: the
structure's signer for the gateway's regime calls, and the sandbox's checker of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from card.holder import CardHolder
from cdr.settings import Settings
from regimes.assertion import Actor, StructureAssertionSigner
from regimes.port import AssertionSigner, NoAssertion
from rights.eligibility import default_categories
from rights.errors import ConfigError
from sandbox.assertion_check import AssertionChecker, AssertionTrust
from sandbox.eligibility import default_structures

__all__ = [
    "build_assertion_checker",
    "build_structure_signer",
    "card_holder_actor",
    "structure_category",
    "structure_tls_certificate",
]


def structure_category(settings: Settings) -> str:
    category = settings.structure_category or default_structures().category_of(
        settings.requester_finess
    )
    if category is None:
        raise ConfigError(
            f"the FINESS category of {settings.requester_finess} is not known: set "
            "CDR_STRUCTURE_CATEGORY"
        )
    return category


def structure_tls_certificate(settings: Settings) -> x509.Certificate | None:
    """The structure's TLS client certificate to the regimes (``CDR_REGIMES_CLIENT_CERT_FILE``),
    the one every assertion is bound to; None without mutual TLS."""
    path = settings.regimes_client_cert_file
    if path is None:
        return None
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())[0]
    except (ValueError, OSError) as exc:
        raise ConfigError(f"CDR_REGIMES_CLIENT_CERT_FILE cannot be read: {exc}") from None


def card_holder_actor(holder: CardHolder) -> Actor:
    """The card holder as the actor of an attended assertion."""
    return Actor(
        "person",
        holder.national_id,
        profession=holder.profession,
        profession_code=holder.profession_code,
        card_type=holder.card_type,
    )


def build_structure_signer(settings: Settings, now: Callable[[], datetime]) -> AssertionSigner:
    """The structure's signer when its ORG SIGN material is configured, else none."""
    if settings.structure_sign_cert_file is None or settings.structure_sign_key_file is None:
        return NoAssertion()
    try:
        chain = x509.load_pem_x509_certificates(settings.structure_sign_cert_file.read_bytes())
        key = serialization.load_pem_private_key(
            settings.structure_sign_key_file.read_bytes(), password=None
        )
    except (ValueError, TypeError, OSError) as exc:
        raise ConfigError(f"the structure's signing material cannot be read: {exc}") from None
    tls_cert = structure_tls_certificate(settings)
    if tls_cert is None:  # the settings refuse this; kept for the type checker
        raise ConfigError("CDR_STRUCTURE_SIGN_CERT_FILE needs CDR_REGIMES_CLIENT_CERT_FILE")
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("CDR_STRUCTURE_SIGN_KEY_FILE: an RSA key is expected (RS256)")
    return StructureAssertionSigner(
        key=key,
        chain=chain,
        tls_client_cert=tls_cert,
        finess=settings.requester_finess,
        category=structure_category(settings),
        now=now,
    )


def build_assertion_checker(
    settings: Settings, now: Callable[[], datetime]
) -> AssertionChecker | None:
    """The sandbox's checker when it requires assertions, else None."""
    if not settings.sandbox_require_assertions or settings.sandbox_tls_client_ca_file is None:
        return None
    try:
        trust = AssertionTrust.from_pem(
            settings.sandbox_tls_client_ca_file.read_bytes(),
            [path.read_bytes() for path in settings.sandbox_crl_files],
        )
    except (ValueError, OSError) as exc:
        raise ConfigError(f"the sandbox's trust cannot be read: {exc}") from None
    return AssertionChecker(trust, default_categories(), default_structures().category_of, now)
