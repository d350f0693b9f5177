"""A test PKI shaped like IGC-Santé (reference/card.md §2), for the emulated cards, the
structure's own certificates and the sandbox's TLS server, where no real certificate exists.

A test root (``TEST AC RACINE IGC-SANTE ELEMENTAIRE``, OU ``IGC-SANTE TEST``) signs two sub-CAs,
one for persons (the cards' certificates) and one for organisations (the structure's ORG
AUTH_CLI and ORG SIGN certificates, and the sandbox's server certificate). Card certificates
carry what real ones carry: a multi-valued RDN ``GN + CN + SN`` with CN the national
identifier (``8`` + RPPS, ``0`` + ADELI, ``3`` + FINESS/number for a CPE), ``title`` the
profession, and the GIP-CPS extensions for the card type (1.2.250.1.71.1.2.2) and the
profession code of TRE_G15 (1.2.250.1.71.1.2.7). Each sub-CA publishes a CRL. The bad
certificates the tests need (expired, revoked, from a foreign CA, wrong key usage) are made
beside the good ones.

Everything here is made with ``cryptography``; nothing is hand-written crypto.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = ["PROFILES", "CardProfile", "PkiFiles", "init_pki"]

# GIP-CPS private extensions (reference/card.md §2).
OID_CARD_TYPE = ObjectIdentifier("1.2.250.1.71.1.2.2")
OID_PROFESSION = ObjectIdentifier("1.2.250.1.71.1.2.7")
# The TEST signature policy seen on IGC-Santé test signature certificates.
OID_TEST_SIGN_POLICY = ObjectIdentifier("1.2.250.1.213.1.7.2.1.1.1.1")
CARD_TYPES = {"CPS": 0, "CPF": 1, "CPE": 2}
_TEST_OU = "IGC-SANTE TEST"
_O = "ASIP-SANTE"
_KEY_BITS = 2048  # the CPS3's RSA keys


@dataclass(frozen=True, slots=True)
class CardProfile:
    """A card holder of the emulated cards (``cdr card emulate --profile NAME``)."""

    name: str
    card: str  # CPS | CPF | CPE
    national_id: str  # CN: type prefix + identifier
    given: str
    surname: str
    title: str  # the profession as the certificate's title says it
    profession_code: int | None  # TRE_G15 (10 Médecin, 21 Pharmacien, 60 Infirmier)


PROFILES: dict[str, CardProfile] = {
    p.name: p
    for p in (
        CardProfile("medecin", "CPS", "810100234567", "CLAIRE", "MEDECIN-TEST", "Médecin", 10),
        CardProfile("infirmier", "CPS", "00B6087510", "OLIVIER", "INFIRMIER-TEST", "Infirmier", 60),
        CardProfile(
            "pharmacien", "CPS", "810100765432", "KARIM", "PHARMACIEN-TEST", "Pharmacien", 21
        ),
        # A CPE names its holder by the structure: 3 + FINESS / a number in the structure.
        CardProfile(
            "cpe-secretaire",
            "CPE",
            "3750100018/000000018",
            "SOPHIE",
            "SECRETAIRE-TEST",
            "Secrétaire médicale",
            None,
        ),
        CardProfile(
            "cpf-interne", "CPF", "810100998877", "LUCAS", "INTERNE-TEST", "Interne en médecine", 10
        ),
    )
}


@dataclass(frozen=True, slots=True)
class PkiFiles:
    """Where ``init_pki`` wrote everything (``manifest.json`` lists it too)."""

    directory: Path
    root: Path
    chain: Path  # both sub-CAs and the root, for a verifier
    manifest: dict[str, Any]

    def path(self, key: str) -> Path:
        return self.directory / str(self.manifest["files"][key])


def _name(*pairs: tuple[ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return bytes([0x02, len(body)]) + body


@dataclass(frozen=True, slots=True)
class _Issuer:
    name: x509.Name
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


def _builder(
    subject: x509.Name,
    issuer: _Issuer | None,
    key: rsa.RSAPrivateKey,
    *,
    not_before: datetime.datetime,
    days: int,
    serial: int | None = None,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _ca(cn: str, parent: _Issuer | None, now: datetime.datetime) -> _Issuer:
    key = _key()
    name = _name(
        (NameOID.COUNTRY_NAME, "FR"),
        (NameOID.ORGANIZATION_NAME, _O),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, _TEST_OU),
        (NameOID.COMMON_NAME, cn),
    )
    builder = (
        _builder(name, parent, key, not_before=now - datetime.timedelta(days=1), days=3650)
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=None if parent is None else 0),
            critical=True,
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if parent is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()),
            critical=False,
        )
    cert = builder.sign(key if parent is None else parent.key, hashes.SHA256())
    return _Issuer(name, key, cert)


def _usage(*, signature: bool, commitment: bool, encipherment: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=commitment,
        key_encipherment=encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf(
    subject: x509.Name,
    issuer: _Issuer,
    *,
    now: datetime.datetime,
    usage: x509.KeyUsage,
    purposes: Sequence[ObjectIdentifier],
    extra: Sequence[x509.ExtensionType] = (),
    days: int = 1095,
    not_before: datetime.datetime | None = None,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _key()
    builder = (
        _builder(
            subject,
            issuer,
            key,
            not_before=not_before or now - datetime.timedelta(hours=1),
            days=days,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(purposes)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    for extension in extra:
        builder = builder.add_extension(extension, critical=False)
    return key, builder.sign(issuer.key, hashes.SHA256())


def _card_subject(profile: CardProfile) -> x509.Name:
    # C=FR, title=<profession>, {GN + CN + SN}: the multi-valued RDN of real card certificates.
    return x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.TITLE, profile.title)]),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.GIVEN_NAME, profile.given),
                    x509.NameAttribute(NameOID.COMMON_NAME, profile.national_id),
                    x509.NameAttribute(NameOID.SURNAME, profile.surname),
                ]
            ),
        ]
    )


def _card_extensions(profile: CardProfile) -> list[x509.ExtensionType]:
    extensions: list[x509.ExtensionType] = [
        x509.UnrecognizedExtension(OID_CARD_TYPE, _der_integer(CARD_TYPES[profile.card]))
    ]
    if profile.profession_code is not None:
        extensions.append(
            x509.UnrecognizedExtension(OID_PROFESSION, _der_integer(profile.profession_code))
        )
    return extensions


_AUTH_USAGE = _usage(signature=True, commitment=False, encipherment=False)
_SIGN_USAGE = _usage(signature=False, commitment=True, encipherment=False)


def _card_pair(
    profile: CardProfile, issuer: _Issuer, now: datetime.datetime
) -> dict[str, tuple[rsa.RSAPrivateKey, x509.Certificate]]:
    subject, extra = _card_subject(profile), _card_extensions(profile)
    sign_policy = x509.CertificatePolicies([x509.PolicyInformation(OID_TEST_SIGN_POLICY, None)])
    return {
        "auth": _leaf(
            subject,
            issuer,
            now=now,
            usage=_AUTH_USAGE,
            purposes=[ExtendedKeyUsageOID.CLIENT_AUTH],
            extra=extra,
        ),
        "sign": _leaf(
            subject,
            issuer,
            now=now,
            usage=_SIGN_USAGE,
            purposes=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
            extra=[*extra, sign_policy],
        ),
    }


def _structure_subject(finess: str, name: str, service: str) -> x509.Name:
    # ORG certificates: OU is the structure identifier (1 + FINESS), CN is free text.
    return _name(
        (NameOID.COUNTRY_NAME, "FR"),
        (NameOID.ORGANIZATION_NAME, name),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, f"1{finess}"),
        (NameOID.COMMON_NAME, service),
    )


def _crl(
    issuer: _Issuer, revoked: Sequence[x509.Certificate], now: datetime.datetime
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.name)
        .last_update(now - datetime.timedelta(minutes=5))
        .next_update(now + datetime.timedelta(days=7))
    )
    for cert in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(cert.serial_number)
            .revocation_date(now - datetime.timedelta(minutes=5))
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def init_pki(
    directory: Path,
    *,
    structure_finess: str,
    structure_name: str,
    now: datetime.datetime | None = None,
) -> PkiFiles:
    """Write a complete test PKI into ``directory`` (which must be empty or absent). Private
    keys are written unencrypted, readable by their owner only: this is test material."""
    moment = now or datetime.datetime.now(datetime.UTC)
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    holders: dict[str, dict[str, Any]] = {}

    def write(key: str, relative: str, data: bytes, *, secret: bool = False) -> None:
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if secret:
            path.chmod(0o600)
        files[key] = relative

    def pair(prefix: str, relative: str, made: tuple[rsa.RSAPrivateKey, x509.Certificate]) -> None:
        key, cert = made
        write(f"{prefix}.cert", f"{relative}.pem", _pem(cert))
        write(f"{prefix}.key", f"{relative}.key", _key_pem(key), secret=True)

    root = _ca("TEST AC RACINE IGC-SANTE ELEMENTAIRE", None, moment)
    persons = _ca("TEST AC IGC-SANTE ELEMENTAIRE PERSONNES", root, moment)
    organisations = _ca("TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS", root, moment)
    write("ca.root", "ca/root.pem", _pem(root.cert))
    write("ca.persons", "ca/persons.pem", _pem(persons.cert))
    write("ca.organisations", "ca/organisations.pem", _pem(organisations.cert))
    write(
        "ca.chain", "ca/chain.pem", b"".join(_pem(c.cert) for c in (persons, organisations, root))
    )

    for profile in PROFILES.values():
        for use, made in _card_pair(profile, persons, moment).items():
            pair(f"card.{profile.name}.{use}", f"cards/{profile.name}/{use}", made)
        holders[profile.name] = {
            "card": profile.card,
            "national_id": profile.national_id,
            "given": profile.given,
            "surname": profile.surname,
            "title": profile.title,
            "profession_code": profile.profession_code,
        }

    structure_auth = _leaf(
        _structure_subject(structure_finess, structure_name, "CDR Gateway"),
        organisations,
        now=moment,
        usage=_usage(signature=True, commitment=False, encipherment=True),
        purposes=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    pair("structure.auth", "structure/org-auth-cli", structure_auth)
    pair(
        "structure.sign",
        "structure/org-sign",
        _leaf(
            _structure_subject(structure_finess, structure_name, "CDR Gateway signature"),
            organisations,
            now=moment,
            usage=_usage(signature=True, commitment=True, encipherment=False),
            purposes=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
        ),
    )
    server_name = _name(
        (NameOID.COUNTRY_NAME, "FR"),
        (NameOID.ORGANIZATION_NAME, "CDR sandbox"),
        (NameOID.COMMON_NAME, "localhost"),
    )
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )
    pair(
        "server.sandbox",
        "server/sandbox",
        _leaf(
            server_name,
            organisations,
            now=moment,
            usage=_usage(signature=True, commitment=False, encipherment=True),
            purposes=[ExtendedKeyUsageOID.SERVER_AUTH],
            extra=[san],
        ),
    )

    # The bad ones, each wrong in one way only.
    medecin = PROFILES["medecin"]
    expired = _leaf(
        _card_subject(medecin),
        persons,
        now=moment,
        usage=_AUTH_USAGE,
        purposes=[ExtendedKeyUsageOID.CLIENT_AUTH],
        extra=_card_extensions(medecin),
        not_before=moment - datetime.timedelta(days=400),
        days=30,
    )
    pair("bad.expired", "bad/expired-card-auth", expired)
    revoked = _card_pair(medecin, persons, moment)["auth"]
    pair("bad.revoked", "bad/revoked-card-auth", revoked)
    foreign_root = _ca("AC RACINE ETRANGERE DE TEST", None, moment)
    pair("bad.foreign", "bad/foreign-card-auth", _card_pair(medecin, foreign_root, moment)["auth"])
    write("bad.foreign_ca", "bad/foreign-ca.pem", _pem(foreign_root.cert))
    wrong_usage = _leaf(  # a signature key presented for authentication
        _card_subject(medecin),
        persons,
        now=moment,
        usage=_SIGN_USAGE,
        purposes=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
        extra=_card_extensions(medecin),
    )
    pair("bad.wrong_usage", "bad/wrong-usage-card-auth", wrong_usage)
    revoked_structure = _leaf(
        _structure_subject(structure_finess, structure_name, "CDR Gateway (revoked)"),
        organisations,
        now=moment,
        usage=_usage(signature=True, commitment=False, encipherment=True),
        purposes=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    pair("bad.revoked_structure", "bad/revoked-org-auth-cli", revoked_structure)

    write(
        "crl.persons",
        "crl/persons.crl.pem",
        _crl(persons, [revoked[1]], moment).public_bytes(serialization.Encoding.PEM),
    )
    write(
        "crl.organisations",
        "crl/organisations.crl.pem",
        _crl(organisations, [revoked_structure[1]], moment).public_bytes(
            serialization.Encoding.PEM
        ),
    )
    manifest = {
        "kind": "CDR Gateway test PKI (IGC-Santé shaped; test material only)",
        "created": moment.isoformat(),
        "structure": {"finess": structure_finess, "name": structure_name},
        "cards": holders,
        "files": files,
    }
    (directory / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return PkiFiles(
        directory, directory / files["ca.root"], directory / files["ca.chain"], manifest
    )
