"""Search paging over HTTP as a client follows it: ``next`` links carry a position, ``_total``
says how hard to count, ``_offset`` is bounded (issue 19; docs/fhir-profile.md, Search)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from fhir_server.paging import MAX_OFFSET
from tests.e2e.test_fhir_api import fhir, outcome  # noqa: F401  (fixture: the gateway's API)
from tests.unit.mapping.fhir_schema import assert_valid


def _links(bundle: dict) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle["link"]}


def test_next_links_walk_the_whole_result_once(fhir):  # noqa: F811
    whole = httpx.get(f"{fhir}/StructureDefinition", params={"_count": "100"}).json()
    expected = [e["resource"]["id"] for e in whole["entry"]]
    assert len(expected) >= 3 and whole["total"] == len(expected)
    assert "next" not in _links(whole)
    seen: list[str] = []
    url: str | None = f"{fhir}/StructureDefinition?_count=1"
    while url is not None:
        page = httpx.get(url).json()
        assert_valid(page)
        assert page["total"] == len(expected)
        seen += [e["resource"]["id"] for e in page["entry"]]
        url = _links(page).get("next")
        if url is not None:
            # The links name the configured base URL; the test server listens on another port.
            parts = urlsplit(url)
            query = parse_qs(parts.query)
            assert "_page" in query and "_offset" not in query and query["_count"] == ["1"]
            url = f"{fhir}/StructureDefinition?{parts.query}"
        assert len(seen) <= len(expected)
    assert seen == expected


def test_count_zero_counts_and_has_no_next_page(fhir):  # noqa: F811
    page = httpx.get(f"{fhir}/StructureDefinition", params={"_count": "0"}).json()
    assert page["total"] >= 3 and page["entry"] == []
    assert set(_links(page)) == {"self"}


def test_total_none_is_not_counted(fhir):  # noqa: F811
    page = httpx.get(f"{fhir}/StructureDefinition", params={"_total": "none", "_count": "1"})
    assert page.status_code == 200
    assert "total" not in page.json() and "next" in _links(page.json())
    assert_valid(page.json())


def test_bad_paging_parameters_are_400_naming_them(fhir):  # noqa: F811
    issues = outcome(httpx.get(f"{fhir}/Patient", params={"_total": "roughly"}), 400)
    assert issues[0]["expression"] == ["_total"]
    issues = outcome(httpx.get(f"{fhir}/Patient", params={"_offset": str(MAX_OFFSET + 1)}), 400)
    assert issues[0]["code"] == "too-costly" and issues[0]["expression"] == ["_offset"]
    issues = outcome(httpx.get(f"{fhir}/Patient", params={"_page": "not-ours"}), 400)
    assert issues[0]["expression"] == ["_page"]
