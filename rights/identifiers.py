"""French health identifiers: NIR / NIA (with their provisional and foreign variants), FINESS,
AT/MP accident numbers.

Each parser returns a value object or raises an ``IdentifierError`` subclass whose ``check`` says
which rule failed (``length``, ``format``, ``month``, ``department``, ``key``), so the edges can
tell a user exactly what is wrong with what they typed.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from rights.errors import (
    IdentifierError,
    IdentifierFormatError,
    IdentifierKeyError,
    IdentifierLengthError,
)

__all__ = [
    "NIA_OID",
    "NIR_DEMO_OID",
    "NIR_OID",
    "NIR_TEST_OID",
    "AccidentNumber",
    "Finess",
    "IdentifierFieldError",
    "Nir",
    "NirKind",
    "accident_key",
    "finess_check_digit",
    "nir_key",
    "parse_accident_number",
    "parse_finess",
    "parse_nir",
]

# FR Core (INS): assigning-authority OIDs of the identifiers a Patient may carry.
NIR_OID = "1.2.250.1.213.1.4.8"
NIA_OID = "1.2.250.1.213.1.4.9"
NIR_TEST_OID = "1.2.250.1.213.1.4.10"
NIR_DEMO_OID = "1.2.250.1.213.1.4.11"

_SPACES = re.compile(r"[\s.\-]")


class IdentifierFieldError(IdentifierError):
    """A positional field of an identifier is out of range (``month`` or ``department``)."""

    def __init__(self, message: str, *, check: str, location: str = "") -> None:
        super().__init__(message, location=location)
        self.check = check


class NirKind(enum.StrEnum):
    """What the first characters of a 13-character number say it is."""

    NIR = "nir"  # sex 1/2, certified registration number
    NIR_UNUSUAL_SEX = "nir-unusual-sex"  # sex 3/4: accepted, meaning unclear
    MIG = "mig"  # 5/6: RSS "passage coordonné"
    PROVISIONAL = "provisional"  # 7/8: NNP (AME, awaiting registration)
    MSA_PROVISIONAL = "msa-provisional"  # "555555…": MSA's own provisional number


@dataclass(frozen=True, slots=True)
class Nir:
    """A checked NIR or NIA: ``body`` is the 13 characters, ``key`` the two-digit key."""

    body: str
    key: str
    kind: NirKind
    is_nia: bool = False
    is_test: bool = False

    @property
    def value(self) -> str:
        return self.body + self.key

    @property
    def sex(self) -> str:
        return self.body[0]

    @property
    def masked(self) -> str:
        """For logs: sex and birth year/month only, the rest hidden."""
        return self.body[:5] + "*" * 8 + "**"

    @property
    def department(self) -> str:
        return self.body[5:7]

    @property
    def birth_year_month(self) -> tuple[str, str]:
        return self.body[1:3], self.body[3:5]

    @property
    def system_oid(self) -> str:
        if self.is_test:
            return NIR_TEST_OID
        return NIA_OID if self.is_nia else NIR_OID

    def __str__(self) -> str:
        return self.value


def _key_numeric(body: str) -> int:
    # Corsica: 2A and 2B are read as 19 and 18 in the key computation (INSEE rule).
    digits = body[:5] + body[5:7].replace("2A", "19").replace("2B", "18") + body[7:]
    return int(digits)


def nir_key(body: str) -> str:
    """The two-digit key of a 13-character NIR body: ``97 - (n mod 97)``."""
    return f"{97 - _key_numeric(body.upper()) % 97:02d}"


def _clean(text: str) -> str:
    return _SPACES.sub("", text).upper()


def parse_nir(
    text: str, *, oid: str | None = None, location: str = "nir", require_key: bool = False
) -> Nir:
    """Check a NIR/NIA typed or received (13 or 15 characters, spaces accepted).

    ``oid`` is the identifier's assigning authority when known: NIA and test/demo OIDs mark the
    result, since a NIA or a test NIR cannot be told from a NIR by its characters alone.
    ``require_key``: 13 characters are refused. An INS is the NIR with its key, 15 characters,
    as the INSi teleservice returns it; 13 mean a truncated copy, whose typing errors no key
    would catch.
    """
    value = _clean(text)
    if len(value) not in (13, 15):
        raise IdentifierLengthError(
            f"NIR must have 13 characters (15 with its key), got {len(value)}",
            location=location,
        )
    body, key = value[:13], value[13:]
    kind = _check_body(body, location)
    if require_key and not key:
        raise IdentifierLengthError(
            "an INS is the NIR with its 2-digit key: 15 characters, got 13", location=location
        )
    if key:
        if not key.isdigit():
            raise IdentifierFormatError(
                f"NIR key must be two digits, got {key!r}", location=location
            )
        expected = nir_key(body)
        if key != expected:
            raise IdentifierKeyError(
                f"NIR key {key} is wrong: expected {expected}",
                expected_key=expected,
                location=location,
            )
    else:
        key = nir_key(body)
    return Nir(
        body=body,
        key=key,
        kind=kind,
        is_nia=oid == NIA_OID,
        is_test=oid in (NIR_TEST_OID, NIR_DEMO_OID),
    )


def _check_body(body: str, location: str) -> NirKind:
    if body.startswith("555555"):
        if not body.isdigit():
            raise IdentifierFormatError(
                "MSA provisional number must be digits only", location=location
            )
        return NirKind.MSA_PROVISIONAL
    first = body[0]
    if first in "5678":
        if not body.isdigit():
            raise IdentifierFormatError(
                f"a number starting with {first} must be digits only", location=location
            )
        if body[1] not in "12":
            raise IdentifierFormatError(
                f"a number starting with {first} must have 1 or 2 in position 2, got {body[1]}",
                location=location,
            )
        return NirKind.MIG if first in "56" else NirKind.PROVISIONAL
    if first not in "1234":
        raise IdentifierFormatError(
            f"NIR must start with a sex digit 1-8, got {first!r}", location=location
        )
    if not (body[:5].isdigit() and body[7:].isdigit()) or not re.fullmatch(
        r"\d\d|2A|2B", body[5:7]
    ):
        raise IdentifierFormatError(
            "NIR must be digits, except 2A/2B for a department of Corsica", location=location
        )
    _check_month(body[3:5], location)
    _check_place(body[5:10], location)
    if body[10:13] == "000":
        raise IdentifierFormatError("NIR order number must be 001-999", location=location)
    return NirKind.NIR if first in "12" else NirKind.NIR_UNUSUAL_SEX


def _check_month(month: str, location: str) -> None:
    # 01-12 normal; 20, 30-42 and 50-99 stand for incomplete civil-status records.
    m = int(month)
    if 1 <= m <= 12 or m == 20 or 30 <= m <= 42 or m >= 50:
        return
    raise IdentifierFieldError(
        f"NIR birth month {month} is not a month (01-12) nor a pseudo-month (20, 30-42, 50-99)",
        check="month",
        location=location,
    )


def _check_place(place: str, location: str) -> None:
    dept = place[:2]
    if dept in ("2A", "2B"):
        return
    d = int(dept)
    if d == 0 or d == 20:
        raise IdentifierFieldError(
            f"NIR department {dept} does not exist (Corsica is 2A or 2B)",
            check="department",
            location=location,
        )
    if d in (97, 98) and place[2] == "0":
        raise IdentifierFieldError(
            f"NIR overseas department {place[:3]} does not exist",
            check="department",
            location=location,
        )


@dataclass(frozen=True, slots=True)
class Finess:
    """A FINESS number (9 characters, last one a Luhn check digit)."""

    value: str

    @property
    def department(self) -> str:
        return self.value[:2]

    @property
    def display(self) -> str:
        v = self.value
        return f"{v[:2]} {v[2:5]} {v[5:8]} {v[8]}"

    def __str__(self) -> str:
        return self.value


def _luhn_sum(digits: str) -> int:
    """Luhn sum of ``digits`` where the rightmost digit is not doubled."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total


def _finess_digits(body: str) -> str:
    # Corsica: 2A and 2B count as 21 and 22 in the Luhn sum (observed on published FINESS).
    return body[:2].replace("2A", "21").replace("2B", "22") + body[2:]


def finess_check_digit(first8: str) -> str:
    """The ninth (check) character for the first eight characters of a FINESS."""
    total = _luhn_sum(_finess_digits(first8.upper()) + "0")
    return str((10 - total % 10) % 10)


def parse_finess(text: str, *, location: str = "finess") -> Finess:
    value = _clean(text)
    if len(value) != 9:
        raise IdentifierLengthError(
            f"FINESS must have 9 characters, got {len(value)}", location=location
        )
    if not re.fullmatch(r"(\d\d|2A|2B)\d{7}", value):
        raise IdentifierFormatError(
            "FINESS must be 9 digits (2A/2B allowed as department)", location=location
        )
    expected = finess_check_digit(value[:8])
    if value[8] != expected:
        raise IdentifierKeyError(
            f"FINESS check digit {value[8]} is wrong: expected {expected}",
            expected_key=expected,
            location=location,
        )
    return Finess(value)


@dataclass(frozen=True, slots=True)
class AccidentNumber:
    """An AT/MP accident number: 8 digits and a Luhn key."""

    value: str

    def __str__(self) -> str:
        return self.value


def accident_key(first8: str) -> str:
    # FIDES: from the right, double odd ranks, add the digits, complement to 10 of the unit.
    return str((10 - _luhn_sum(first8 + "0") % 10) % 10)


def parse_accident_number(text: str, *, location: str = "accident") -> AccidentNumber:
    value = _clean(text)
    if len(value) != 9:
        raise IdentifierLengthError(
            f"AT number must have 9 digits (8 and a key), got {len(value)}", location=location
        )
    if not value.isdigit():
        raise IdentifierFormatError("AT number must be digits only", location=location)
    expected = accident_key(value[:8])
    if value[8] != expected:
        raise IdentifierKeyError(
            f"AT number key {value[8]} is wrong: expected {expected}",
            expected_key=expected,
            location=location,
        )
    return AccidentNumber(value)
