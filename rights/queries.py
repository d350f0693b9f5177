"""Building a ``RightsQuery`` from the text fields a person or a message supplies."""

from __future__ import annotations

from datetime import date

from rights.catalogue import RegimeCatalogue
from rights.dates import (
    DATE_OF_CARE_MAX_DAYS_AHEAD,
    check_date_of_care,
    parse_birth_date,
    parse_date_of_care,
)
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
    today: date | None = None,
) -> RightsQuery:
    """Check every field before any regime is called; raise the first ``InputError`` found.
    ``nir`` may come already checked (a ``Nir``); ``nir_oid`` is then not used. ``today``: a
    birth date after it is refused (``rights.dates``)."""
    checked_nir = nir if isinstance(nir, Nir) else parse_nir(nir, oid=nir_oid)
    regime_code = catalogue.get(regime).code if regime else None
    return RightsQuery(
        nir=checked_nir,
        date_of_care=check_date_of_care(date_of_care),
        birth_date=parse_birth_date(birth_date, today=today) if birth_date else None,
        rang=parse_rang(rang),
        regime=regime_code,
        requester=requester,
    )
