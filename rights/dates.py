"""The date rules every entry applies: the FHIR API, HL7 v2 and the command line.

Pure: ``today`` is passed in. Each entry reads its own syntax (FHIR ``date``, HL7 ``DT``/``DTM``,
``YYYY-MM-DD`` on the command line) and asks these rules whether the value is one a lookup can
be made with, so that the same birth date or date of care is refused or accepted everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from rights.errors import QueryError

__all__ = [
    "DATE_OF_CARE_MAX_DAYS_AHEAD",
    "EARLIEST_BIRTH_YEAR",
    "EARLIEST_CARE",
    "check_date_of_care",
    "check_partial_date",
    "parse_birth_date",
    "parse_date_of_care",
    "utc_instant",
]

EARLIEST_BIRTH_YEAR = 1850
# The French social security dates from 1945; no regime holds rights before it. Anything this
# early is a typing slip or a placeholder (0001-01-01), not a day of care.
EARLIEST_CARE = date(1945, 1, 1)

# How far ahead a date of care may be where an entry bounds it (HL7: the lenient-input rules of
# docs/hl7-interface.md §4). A pre-admission (ADT^A05) or a planned stay is booked weeks or months
# ahead; a date years ahead is a typing error (2062 for 2026), and the regimes' answer for it (no
# period covering it: "no rights in force") would mislead.
DATE_OF_CARE_MAX_DAYS_AHEAD = 366

_BIRTH = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_birth_date(
    text: str, *, location: str = "birth_date", today: date | None = None, lunar: bool = True
) -> str:
    """A birth date ``YYYY-MM-DD``, kept as text.

    ``lunar``: the entry may carry a lunar date (month or day 00 or out of the calendar, e.g.
    1950-00-00 or 1962-02-30), which the Vitale card and the regimes use for people whose exact
    birth date is unknown; it is kept as given (docs/hl7-interface.md, PID-7). An entry whose
    syntax is a calendar date (FHIR ``Patient.birthDate``) passes False. ``today``: a birth date
    after it is refused (a lunar one when its year is after today's).
    """
    value = text.strip()
    match = _BIRTH.fullmatch(value)
    if match is None:
        raise QueryError(f"birth date must be YYYY-MM-DD, got {text!r}", location=location)
    year, month, day = (int(g) for g in match.groups())
    if year < EARLIEST_BIRTH_YEAR or month > 99 or day > 99:
        raise QueryError(f"birth date {text!r} is not plausible", location=location)
    try:
        calendar: date | None = date(year, month, day)
    except ValueError:
        calendar = None
    if calendar is None and not lunar:
        raise QueryError(f"birth date {text!r} is not a day of the calendar", location=location)
    if today is not None and (year > today.year if calendar is None else calendar > today):
        raise QueryError(f"birth date {text!r} is in the future", location=location)
    return value


def check_date_of_care(
    day: date,
    *,
    location: str = "date_of_care",
    earliest: date = EARLIEST_CARE,
    latest: date | None = None,
    today: date | None = None,
) -> date:
    """``day`` when a lookup can be made for it. ``latest`` None: a date of care in the future
    is not refused here (an entry may accept one, e.g. a planned admission); ``today``: refused
    when more than ``DATE_OF_CARE_MAX_DAYS_AHEAD`` days after it."""
    if day < earliest:
        raise QueryError(
            f"date of care {day.isoformat()} is before {earliest.isoformat()}", location=location
        )
    if latest is not None and day > latest:
        raise QueryError(
            f"date of care {day.isoformat()} is after {latest.isoformat()}", location=location
        )
    if today is not None and (day - today).days > DATE_OF_CARE_MAX_DAYS_AHEAD:
        raise QueryError(
            f"date of care {day.isoformat()} is more than a year after today "
            f"({today.isoformat()}): a typing error? A date of care may be up to "
            f"{DATE_OF_CARE_MAX_DAYS_AHEAD} days ahead",
            location=location,
        )
    return day


def parse_date_of_care(text: str, *, location: str = "date_of_care") -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        raise QueryError(
            f"date of care must be a calendar date YYYY-MM-DD, got {text!r}", location=location
        ) from exc
    return check_date_of_care(day, location=location)


def check_partial_date(text: str) -> str:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` of the calendar (FHIR ``date``); ValueError else."""
    parts = text.split("-")
    if not 1 <= len(parts) <= 3 or not all(p.isascii() and p.isdigit() for p in parts):
        raise ValueError(text)
    if [len(p) for p in parts] != [4, 2, 2][: len(parts)]:
        raise ValueError(text)
    numbers = [int(p) for p in parts]
    year, month, day = [*numbers, 1, 1][:3]
    date(year, month, day)  # raises ValueError when off the calendar
    return text


def utc_instant(text: str) -> datetime:
    """A dateTime with a time (``YYYY-MM-DDThh:mm[:ss[.f]]`` and an optional zone; none means
    UTC) as an aware UTC datetime; ValueError when it is no instant or none in years 1-9999
    once in UTC (``0001-01-01T00:00:00+14:00``)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range in UTC") from None
