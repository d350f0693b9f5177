"""The date rules every entry applies (FHIR, HL7 v2, command line): issue 11, item 5."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from rights.catalogue import default_catalogue
from rights.dates import (
    check_date_of_care,
    check_partial_date,
    parse_birth_date,
    parse_date_of_care,
    utc_instant,
)
from rights.errors import QueryError
from rights.model import Requester
from rights.queries import build_query

TODAY = date(2026, 11, 24)
NIR = "162047511412341"


@pytest.mark.parametrize(
    "text", ["1962-04-17", "1962-00-00", "1962-02-30", "1962-13-45", "2026-11-24", "2026-00-00"]
)
def test_lunar_birth_dates_are_kept_as_given(text):
    assert parse_birth_date(text, today=TODAY) == text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2099-01-01", "future"),
        ("2026-11-25", "future"),
        ("2027-00-00", "future"),  # lunar, but its year is still to come
        ("1849-12-31", "plausible"),
        ("1962-4-17", "YYYY-MM-DD"),
    ],
)
def test_impossible_birth_dates_are_refused(text, words):
    with pytest.raises(QueryError, match=words):
        parse_birth_date(text, today=TODAY)


@pytest.mark.parametrize("text", ["1962-02-30", "1962-00-00", "1962-13-01"])
def test_a_calendar_entry_refuses_lunar_dates(text):
    with pytest.raises(QueryError, match="calendar"):
        parse_birth_date(text, today=TODAY, lunar=False)


def test_dates_of_care_before_the_social_security_are_refused_and_the_future_is_left_open():
    with pytest.raises(QueryError, match="before 1945-01-01"):
        check_date_of_care(date(1, 1, 1))
    with pytest.raises(QueryError, match="before"):
        parse_date_of_care("0001-01-01", location="--date")
    assert check_date_of_care(date(2099, 1, 1)) == date(2099, 1, 1)
    with pytest.raises(QueryError, match="after"):
        check_date_of_care(date(2099, 1, 1), latest=TODAY)


def test_build_query_applies_the_same_rules():
    common = {"catalogue": default_catalogue(), "requester": Requester("750712184")}
    with pytest.raises(QueryError, match="future"):
        build_query(NIR, date_of_care=TODAY, birth_date="2099-01-01", today=TODAY, **common)
    with pytest.raises(QueryError, match="before"):
        build_query(NIR, date_of_care=date(1, 1, 1), **common)


@pytest.mark.parametrize("text", ["2026", "2026-02", "2026-02-28", "2024-02-29"])
def test_partial_dates_of_the_calendar(text):
    assert check_partial_date(text) == text


@pytest.mark.parametrize("text", ["2026-13-45", "2026-02-30", "2026-13", "0000", "2026-1", "٢٠٢٦"])
def test_partial_dates_off_the_calendar(text):
    with pytest.raises(ValueError):
        check_partial_date(text)


def test_instants_in_utc():
    assert utc_instant("2026-11-24T10:00:00+01:00") == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert utc_instant("2026-11-24T10:00:00") == datetime(2026, 11, 24, 10, tzinfo=UTC)
    for text in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30T00:00"):
        with pytest.raises(ValueError):
            utc_instant(text)
