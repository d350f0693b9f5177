"""Whole-system search (R4 http.html#search, ``GET [base]?_type=…``): the resources of several
types at once, newest first, by the parameters every type has (``_id``, ``_lastUpdated``).

Each type is searched on its own, as a type search would be, one row more than the page; the
results are merged in one order, most recently updated first, then by type and id. A page
position names the last resource by its type as well (``Type/id`` in the position's id), so
that the next page of each type starts where that order left off, whatever was stored since:
a type before the position's type resumes strictly before its instant, the position's type
after its id, a later type at that same instant. AuditEvents are not part of it: the audit
trail is searched on its own type, under its own scope, in its own order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fhir_server.errors import FhirRequestError
from fhir_server.paging import PAGE_PARAM
from fhir_server.search import read_search
from fhir_server.search_params import SEARCH_PARAMS
from fhir_server.store import (
    Cancellation,
    Criterion,
    PagePosition,
    SearchPage,
    StoredResource,
    TotalMode,
)

__all__ = [
    "SYSTEM_PARAMS",
    "SYSTEM_TYPES",
    "SystemSearch",
    "read_system_search",
    "run_system_search",
]

# The parameters of a whole-system search: those every type shares (R4 "all resources").
SYSTEM_PARAMS = ("_id", "_lastUpdated")
SYSTEM_TYPES = tuple(t for t in SEARCH_PARAMS if t != "AuditEvent")
_CONTROL = {"_type", "_count", "_offset", "_format", "_total", PAGE_PARAM}
# Greater than every id ([A-Za-z0-9\-.]) and smaller than none: "after this id" at an instant
# is then "after every resource of that instant".
_AFTER_EVERY_ID = "~"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
TypeSearch = Callable[[str, list[Criterion], int, PagePosition | None], SearchPage]


@dataclass(frozen=True, slots=True)
class SystemSearch:
    types: tuple[str, ...]
    criteria: list[Criterion]
    count: int
    used: list[tuple[str, str]]
    ignored: list[str]


def read_system_search(
    params: Sequence[tuple[str, str]], *, strict: bool, base_url: str = ""
) -> SystemSearch:
    """The types asked (``_type``, comma-separated; default every type but AuditEvent) and the
    shared criteria; 400 naming a type we do not serve, or (strict handling) a parameter that
    is not one of all types'."""
    types: list[str] = []
    for name, value in params:
        if name != "_type":
            continue
        for kind in (v.strip() for v in value.split(",") if v.strip()):
            if kind not in SYSTEM_TYPES:
                raise FhirRequestError(
                    400,
                    "not-supported",
                    f"_type {kind[:64]!r} is not searched here; whole-system search covers "
                    f"{', '.join(SYSTEM_TYPES)} (AuditEvent: GET [base]/AuditEvent)",
                    location="_type",
                )
            if kind not in types:
                types.append(kind)
    if any(name == "_offset" and value not in ("", "0") for name, value in params):
        raise FhirRequestError(
            400,
            "not-supported",
            "a whole-system search pages with its next links, not _offset",
            location="_offset",
        )
    ignored = []
    shared: list[tuple[str, str]] = []
    for name, value in params:
        base = name.partition(":")[0]
        if base in SYSTEM_PARAMS or name in _CONTROL:
            shared.append((name, value))
        elif strict:
            raise FhirRequestError(
                400,
                "not-supported",
                f"search parameter {name!r} is not one of every type's: a whole-system search "
                f"takes {', '.join(SYSTEM_PARAMS)} (and _type)",
                location=name,
            )
        else:
            ignored.append(name)
    # Every type has the shared parameters: read as a search of any one of them.
    request = read_search(
        SYSTEM_TYPES[0],
        [(k, v) for k, v in shared if k != "_type"],
        strict=strict,
        base_url=base_url,
    )
    used = [(k, v) for k, v in shared if k == "_type"] + request.used
    chosen = tuple(types) or SYSTEM_TYPES
    return SystemSearch(chosen, request.criteria, request.count, used, ignored + request.ignored)


def run_system_search(
    asked: SystemSearch,
    search: TypeSearch,
    *,
    after: PagePosition | None,
    total: TotalMode,
    cancel: Cancellation | None = None,
) -> SearchPage:
    """One page of the merged order; ``search(type, criteria, count, after)`` searches one
    type (its store, its time budget, ``cancel``). Counted only when asked (``accurate``)."""
    position = None if after is None else _split(after)
    pages = {
        kind: search(kind, asked.criteria, asked.count + 1, _resume(kind, position))
        for kind in asked.types
    }
    merged = heapq.merge(
        *(
            [(_key(kind, stored), kind, stored) for stored in page.resources]
            for kind, page in pages.items()
        )
    )
    rows = [(kind, stored) for _key_, kind, stored in merged]
    more = len(rows) > asked.count
    rows = rows[: asked.count]
    counted = None
    if total == "accurate":
        counted = sum(page.total or 0 for page in pages.values())
    last = rows[-1] if more and rows else None
    return SearchPage(
        resources=[stored for _kind, stored in rows],
        total=counted,
        next=None
        if last is None
        else PagePosition(last[1].last_updated, f"{last[0]}/{last[1].resource['id']}"),
    )


def _key(kind: str, stored: StoredResource) -> tuple[int, str, str]:
    # Newest first (whole microseconds: a float would round them), then by type, then by id:
    # the order each type's own search keeps.
    moment = stored.last_updated
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (-((moment - _EPOCH) // _MICROSECOND), kind, str(stored.resource["id"]))


def _split(position: PagePosition) -> tuple[datetime, str, str]:
    kind, _, resource_id = position.resource_id.partition("/")
    if kind not in SYSTEM_TYPES or not resource_id:
        raise FhirRequestError(
            400,
            "invalid",
            f"{PAGE_PARAM} is not a page position of a whole-system search: follow the next "
            "link as given",
            location=PAGE_PARAM,
        )
    return position.last_updated, kind, resource_id


def _resume(kind: str, position: tuple[datetime, str, str] | None) -> PagePosition | None:
    if position is None:
        return None
    at, last_kind, last_id = position
    if kind < last_kind:  # its resources of that instant came before the position's
        return PagePosition(at, _AFTER_EVERY_ID)
    if kind == last_kind:
        return PagePosition(at, last_id)
    return PagePosition(at, "")  # all of its resources of that instant are still to come
