"""Timing every advertised search of a filled store, through the store's own search.

One representative query per search parameter the CapabilityStatement advertises
(``SEARCH_PARAMS``), its value taken from what the store holds: the most recently updated
resource of the type that has one (``_id``, tokens, references, ``created=ge`` its day), so that
every query finds something when the type has anything. Each is read as the FHIR API reads it
(``fhir_server.search.read_search``) and run by the store the API reads
(``FhirStoreWithAudit``: AuditEvents from the audit trail) with the API's defaults (``_total``
estimate) and ``_count=50``. Beside them: the broadest query, its deep page (at the position a
``next`` link carries, half a year back) and its exact count (``_total=accurate``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from benchmarks.harness import median, percentile
from cdr.storage.fhir_with_audit import FhirStoreWithAudit
from fhir_server.search import read_search
from fhir_server.search_params import SEARCH_PARAMS, index_entries
from fhir_server.store import PagePosition, SearchPage, StoredResource, TotalMode

__all__ = ["SearchTiming", "representative_queries", "time_searches"]

COUNT = 50
BROADEST = ("CoverageEligibilityResponse", "status=active")
# A search slower than this once warm is timed this many times only: at a million lookups a
# search that misses the goal by far would otherwise hold the run for minutes.
_SLOW_S = 1.0
_SLOW_RUNS = 5


@dataclass(frozen=True, slots=True)
class SearchTiming:
    label: str  # the query as a client would write it
    p50_ms: float
    p95_ms: float
    matches: str  # Bundle.total, "> 1000" (an estimate that stopped) or "?" (not counted)
    runs: int  # timed runs (after one to warm the cache)
    error: str | None = None  # why the search failed (too-costly...), None when it answered
    judged: bool = True  # held to the goal; an exact count of everything is not


def _value(resource: StoredResource, param: str, kind: str) -> str | None:
    if param == "_id":
        return str(resource.resource["id"])
    if param == "_lastUpdated":  # on the resources' own row, not in the index
        return f"ge{resource.last_updated.date()}"
    for entry in index_entries(resource.resource):
        if entry.param != param:
            continue
        if kind == "date":  # a day and the prefix ge: that day's resources and later ones
            return "ge" + entry.value[:10]
        if kind == "token" and entry.system is not None:
            return f"{entry.system}|{entry.value}"
        return entry.value
    return None


def representative_queries(store: FhirStoreWithAudit) -> list[tuple[str, str]]:
    """(resource type, query) for every advertised search parameter; a parameter whose values
    the store holds none of gets a value that matches nothing (still one search of the index)."""
    queries = []
    for resource_type, params in SEARCH_PARAMS.items():
        latest = store.search(resource_type, [], count=20, total="none").resources
        for name, param in params.items():
            values = (_value(r, name, param.kind) for r in latest)
            value = next((v for v in values if v is not None), None)
            if value is None:
                value = "ge2026-01-01" if param.kind == "date" else "none-stored"
            queries.append((resource_type, f"{name}={value}"))
    return queries


def _params(query: str) -> list[tuple[str, str]]:
    return [tuple(part.split("=", 1)) for part in query.split("&")]  # type: ignore[misc]


def _matches(page: SearchPage) -> str:
    if page.total is not None:
        return f"{page.total:,}"
    return f"> {page.more_than:,}" if page.more_than is not None else "?"


def _timed(label: str, runs: int, search: Callable[[], SearchPage]) -> SearchTiming:
    times: list[float] = []
    page: SearchPage | None = None
    try:
        started = time.perf_counter()
        search()  # warm: the first run reads the pages into the cache
        if time.perf_counter() - started > _SLOW_S:
            runs = min(runs, _SLOW_RUNS)
        for _ in range(runs):
            started = time.perf_counter()
            page = search()
            times.append((time.perf_counter() - started) * 1000)
    except Exception as exc:  # too-costly, storage errors: printed, not fatal
        error = f"{type(exc).__name__}: {exc}"
        return SearchTiming(label, float("nan"), float("nan"), "", len(times), error)
    assert page is not None
    return SearchTiming(label, median(times), percentile(times, 95), _matches(page), len(times))


def _search(
    store: FhirStoreWithAudit,
    resource_type: str,
    query: str,
    *,
    after: PagePosition | None = None,
    total: TotalMode = "estimate",
) -> Callable[[], SearchPage]:
    request = read_search(resource_type, [*_params(query), ("_count", str(COUNT))], strict=True)
    return lambda: store.search(
        resource_type,
        request.criteria,
        count=request.count,
        offset=request.offset,
        after=after,
        total=total,
    )


def _half_year_back(store: FhirStoreWithAudit, end: datetime) -> PagePosition | None:
    """The position of the latest CERsp created half a year or more before ``end``: where the
    ``next`` link of the page before it points."""
    query = f"created=lt{(end - timedelta(days=182)).date()}"
    request = read_search("CoverageEligibilityResponse", _params(query), strict=True)
    found = store.search(
        "CoverageEligibilityResponse", request.criteria, count=1, total="none"
    ).resources
    if not found:
        return None
    return PagePosition(found[0].last_updated, str(found[0].resource["id"]))


def time_searches(store: FhirStoreWithAudit, end: datetime, runs: int) -> list[SearchTiming]:
    """Every representative query, then the broadest one's deep page and exact count."""
    timings = [
        _timed(f"{t}?{q}", runs, _search(store, t, q)) for t, q in representative_queries(store)
    ]
    resource_type, query = BROADEST
    label = f"{resource_type}?{query}"
    position = _half_year_back(store, end)
    if position is not None:
        timings.append(
            _timed(
                f"{label}, deep page (next link, half a year back)",
                runs,
                _search(store, resource_type, query, after=position),
            )
        )
    # Counts every match, as the client asked: its cost grows with the store by design (the
    # default, estimate, stops counting at 1,000), so it is shown and not held to the goal.
    accurate = _timed(
        f"{label}&_total=accurate (not held to the goal)",
        max(3, runs // 4),
        _search(store, resource_type, query, total="accurate"),
    )
    timings.append(replace(accurate, judged=False))
    return timings
