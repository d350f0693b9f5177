"""Who a CPx card belongs to, read from its authentication certificate (reference/card.md §2):
CN is the national identifier with its type prefix (8 + RPPS, 0 + ADELI, 3 + FINESS/number for
a CPE), ``title`` the profession, GIP-CPS extensions the card type and the TRE_G15 profession."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

__all__ = ["CardHolder", "holder_from_certificate"]

_OID_CARD_TYPE = ObjectIdentifier("1.2.250.1.71.1.2.2")
_OID_PROFESSION = ObjectIdentifier("1.2.250.1.71.1.2.7")
_CARD_TYPES = {0: "CPS", 1: "CPF", 2: "CPE", 3: "CPA"}


@dataclass(frozen=True, slots=True)
class CardHolder:
    national_id: str  # the certificate's CN, prefix included
    identifier_kind: str  # RPPS | ADELI | structure | other
    identifier: str  # without its prefix: the RPPS, the ADELI, or "FINESS/number"
    structure_finess: str | None  # a CPE's structure
    given: str
    surname: str
    profession: str
    profession_code: int | None
    card_type: str  # CPS | CPF | CPE | CPA | unknown
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime

    def valid_at(self, now: datetime.datetime) -> bool:
        return self.not_before <= now <= self.not_after

    def as_dict(self) -> dict[str, object]:
        return {
            "national_id": self.national_id,
            "identifier_kind": self.identifier_kind,
            "identifier": self.identifier,
            "structure_finess": self.structure_finess,
            "given": self.given,
            "surname": self.surname,
            "profession": self.profession,
            "profession_code": self.profession_code,
            "card_type": self.card_type,
            "issuer": self.issuer,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
        }


def _attribute(name: x509.Name, oid: ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _der_small_integer(value: bytes) -> int | None:
    # The GIP-CPS extensions are a DER INTEGER: 02 len bytes.
    if len(value) >= 3 and value[0] == 0x02 and value[1] == len(value) - 2:
        return int.from_bytes(value[2:], "big", signed=True)
    return None


def _extension_integer(cert: x509.Certificate, oid: ObjectIdentifier) -> int | None:
    try:
        extension = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    if isinstance(extension, x509.UnrecognizedExtension):
        return _der_small_integer(extension.value)
    return None


def _identifier(national_id: str) -> tuple[str, str, str | None]:
    prefix, rest = national_id[:1], national_id[1:]
    if prefix == "8":
        return "RPPS", rest, None
    if prefix == "0":
        return "ADELI", rest, None
    if prefix == "3":
        return "structure", rest, rest.split("/", 1)[0]
    return "other", national_id, None


def holder_from_certificate(der: bytes) -> CardHolder:
    cert = x509.load_der_x509_certificate(der)
    subject = cert.subject
    national_id = _attribute(subject, NameOID.COMMON_NAME)
    kind, identifier, finess = _identifier(national_id)
    card_type = _extension_integer(cert, _OID_CARD_TYPE)
    return CardHolder(
        national_id=national_id,
        identifier_kind=kind,
        identifier=identifier,
        structure_finess=finess,
        given=_attribute(subject, NameOID.GIVEN_NAME),
        surname=_attribute(subject, NameOID.SURNAME),
        profession=_attribute(subject, NameOID.TITLE),
        profession_code=_extension_integer(cert, _OID_PROFESSION),
        card_type=_CARD_TYPES.get(card_type, "unknown") if card_type is not None else "unknown",
        issuer=_attribute(cert.issuer, NameOID.COMMON_NAME),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
