"""The searchset of a search whose counting stopped, and page positions (issue 19)."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir_server.paging import decode_position, encode_position
from fhir_server.search import searchset
from fhir_server.store import PagePosition, SearchPage
from tests.unit.mapping.fhir_schema import assert_valid


def test_a_result_counted_up_to_the_bound_says_more_than_and_has_no_total():
    page = SearchPage(resources=[], total=None, more_than=1000, next=None)
    bundle = searchset("Patient", "http://x/fhir", [("birthdate", "1980")], page, 0, 0)
    assert_valid(bundle)
    assert "total" not in bundle
    [entry] = bundle["entry"]
    assert entry["search"] == {"mode": "outcome"}
    assert "more than 1000" in entry["resource"]["issue"][0]["diagnostics"]
    assert [link["relation"] for link in bundle["link"]] == ["self"]


def test_a_page_position_survives_its_link():
    for moment in (datetime(2026, 12, 7, 4, 0, 1, 123456, tzinfo=UTC), datetime(2026, 1, 1)):
        position = PagePosition(moment, "id-with/odd chars=")
        assert decode_position(encode_position(position)) == position
