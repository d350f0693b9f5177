"""Paging by position and counting with ``_total`` (issue 19), on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cdr.storage import fhir_store
from cdr.storage.fhir_store import SqlFhirStore
from fhir_server.search import parse_search
from fhir_server.search_params import index_entries

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def response(i: int, status: str = "active") -> dict:
    return {
        "resourceType": "CoverageEligibilityResponse",
        "id": f"r{i:03d}",
        "status": status,
        "patient": {"reference": "Patient/p1"},
        "created": "2026-11-24T09:00:00Z",
        "outcome": "complete",
    }


@pytest.fixture
def store(database):
    database.migrate()
    store = SqlFhirStore(database.engine)
    # Batches of 7 written at the same instant: pages end inside a run of equal lastUpdated.
    for batch in range(5):
        items = [response(i) for i in range(batch * 7, batch * 7 + 7)]
        store.upsert_many([(r, index_entries(r)) for r in items], T0 + timedelta(minutes=batch))
    return store


def _walk(store, count: int, **params: str) -> list[str]:
    criteria, _, _ = parse_search("CoverageEligibilityResponse", list(params.items()))
    seen: list[str] = []
    after = None
    while True:
        page = store.search(
            "CoverageEligibilityResponse", criteria, count=count, after=after, total="none"
        )
        seen += [s.resource["id"] for s in page.resources]
        if page.next is None:
            return seen
        after = page.next


def test_pages_by_position_walk_the_whole_result_in_order(store):
    everything = store.search("CoverageEligibilityResponse", [], count=100, total="accurate")
    expected = [s.resource["id"] for s in everything.resources]
    assert len(expected) == 35 and everything.next is None
    # Most recently updated first, then by id.
    assert expected[:7] == [f"r{i:03d}" for i in range(28, 35)]
    for count in (1, 3, 7, 10):
        assert _walk(store, count) == expected
    assert _walk(store, 4, status="active") == expected


def test_a_resource_stored_between_pages_neither_repeats_nor_hides_one(store):
    criteria: list = []
    first = store.search("CoverageEligibilityResponse", criteria, count=10, total="none")
    newer = response(99)
    store.upsert(newer, index_entries(newer), T0 + timedelta(hours=1))
    rest = []
    after = first.next
    while after is not None:
        page = store.search("CoverageEligibilityResponse", criteria, count=10, after=after)
        rest += [s.resource["id"] for s in page.resources]
        after = page.next
    seen = [s.resource["id"] for s in first.resources] + rest
    assert len(seen) == len(set(seen)) == 35  # the newer one sorts first: on no later page


def test_totals_none_estimate_and_accurate(store, monkeypatch):
    search = store.search
    assert search("CoverageEligibilityResponse", [], count=5, total="none").total is None
    assert search("CoverageEligibilityResponse", [], count=5, total="accurate").total == 35
    estimate = search("CoverageEligibilityResponse", [], count=5, total="estimate")
    assert (estimate.total, estimate.more_than) == (35, None)
    monkeypatch.setattr(fhir_store, "COUNT_BOUND", 20)
    bounded = search("CoverageEligibilityResponse", [], count=5, total="estimate")
    assert (bounded.total, bounded.more_than) == (None, 20)
    assert search("CoverageEligibilityResponse", [], count=5, total="accurate").total == 35
    # A result that fits on its page is counted exactly whatever the bound, without a count.
    whole = search("CoverageEligibilityResponse", [], count=50, total="estimate")
    assert (whole.total, whole.more_than, whole.next) == (35, None, None)


def test_count_zero_has_a_total_and_no_next_page(store):
    page = store.search("CoverageEligibilityResponse", [], count=0, total="estimate")
    assert (page.resources, page.total, page.next) == ([], 35, None)


def test_offset_still_pages(store):
    expected = [
        s.resource["id"]
        for s in store.search("CoverageEligibilityResponse", [], count=100).resources
    ]
    page = store.search("CoverageEligibilityResponse", [], count=5, offset=10)
    assert [s.resource["id"] for s in page.resources] == expected[10:15]
    assert page.total == 35
