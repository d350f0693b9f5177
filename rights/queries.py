"""Building a ``RightsQuery`` from the text fields a person or a message supplies."""

from __future__ import annotations

import re
from datetime import date

from rights.catalogue import RegimeCatalogue
from rights.errors import QueryError
from rights.identifiers import Nir, parse_nir
from rights.model import Requester, RightsQuery

__all__ = [
    "DATE_OF_CARE_MAX_DAYS_AHEAD",
    "build_query",
    "check_date_of_care",
    "parse_birth_date",
    "parse_date_of_care",
    "parse_rang",
]

_BIRTH = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_birth_date(text: str, *, location: str = "birth_date") -> str:
    """YYYY-MM-DD; lunar dates (day or month out of range, e.g. 1950-00-00) are kept as given."""
    value = text.strip()
    match = _BIRTH.fullmatch(value)
    if match is None:
        raise QueryError(f"birth date must be YYYY-MM-DD, got {text!r}", location=location)
    year, month, day = (int(g) for g in match.groups())
    if year < 1850 or month > 99 or day > 99:
        raise QueryError(f"birth date {text!r} is not plausible", location=location)
    return value


def parse_date_of_care(text: str, *, location: str = "date_of_care") -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise QueryError(
            f"date of care must be a calendar date YYYY-MM-DD, got {text!r}", location=location
        ) from exc


# How far ahead a date of care may be. A pre-admission (ADT^A05) or a planned stay is booked
# weeks or months ahead; a date years ahead is a typing error (2062 for 2026), and the regimes'
# answer for it (no period covering it: "no rights in force") would mislead.
DATE_OF_CARE_MAX_DAYS_AHEAD = 366


def check_date_of_care(day: date, *, today: date, location: str = "date_of_care") -> date:
    """``day`` when it is at most ``DATE_OF_CARE_MAX_DAYS_AHEAD`` days after ``today``."""
    if (day - today).days > DATE_OF_CARE_MAX_DAYS_AHEAD:
        raise QueryError(
            f"date of care {day.isoformat()} is more than a year after today "
            f"({today.isoformat()}): a typing error? A date of care may be up to "
            f"{DATE_OF_CARE_MAX_DAYS_AHEAD} days ahead",
            location=location,
        )
    return day


def parse_rang(value: str | int, *, location: str = "rang") -> int:
    try:
        rang = int(value)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"rang must be a number 1-9, got {value!r}", location=location) from exc
    if not 1 <= rang <= 9:
        raise QueryError(f"rang must be 1-9 (twins: 1 and 2), got {rang}", location=location)
    return rang


def build_query(
    nir: str | Nir,
    *,
    date_of_care: date,
    catalogue: RegimeCatalogue,
    requester: Requester,
    birth_date: str | None = None,
    rang: str | int = 1,
    regime: str | None = None,
    nir_oid: str | None = None,
) -> RightsQuery:
    """Check every field before any regime is called; raise the first ``InputError`` found.
    ``nir`` may come already checked (a ``Nir``); ``nir_oid`` is then not used."""
    checked_nir = nir if isinstance(nir, Nir) else parse_nir(nir, oid=nir_oid)
    regime_code = catalogue.get(regime).code if regime else None
    return RightsQuery(
        nir=checked_nir,
        date_of_care=date_of_care,
        birth_date=parse_birth_date(birth_date) if birth_date else None,
        rang=parse_rang(rang),
        regime=regime_code,
        requester=requester,
    )
