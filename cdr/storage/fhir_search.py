"""The SQL of a FHIR search: every criterion is an index search producing resource ids.

A criterion used to be a correlated ``EXISTS`` run once per stored resource of the type, and
each run walked the index over the criterion's whole value range: with 111,733 responses,
``created=ge...`` never answered (issue 19). Here each criterion is one uncorrelated
``id IN (SELECT resource_id FROM fhir_search_index WHERE resource_type = ? AND param = ? AND
value ...)``, answered by a range of ``ix_fhir_search`` once per query, whatever the number of
resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, intersect, or_, select, true

from cdr.storage.index_types import index_type
from cdr.storage.tables import fhir_resources, fhir_search_index
from fhir_server.store import Criterion

__all__ = ["count_statement", "matching", "page_statement"]

# The greatest value of each character of an ISO 8601 date-time at the same position: a value
# that starts with ``v`` is at most ``v`` followed by the rest of this text, so a date prefix
# becomes an index range (a ``LIKE 'v%'`` is no range on SQLite nor on PostgreSQL).
_LATEST = "9999-99-99T99:99:99.999999"


def _through(value: str) -> str:
    """The greatest ISO text starting with ``value`` (``2024-01-01`` → ``2024-01-01T99:99:99``)."""
    return value + _LATEST[len(value) :]


def _date(criterion: Criterion, value: str) -> ColumnElement[bool]:
    """The date comparisons, each bounded so that the index gives a range (FHIR R4 §3.1.1.5.6:
    a value at coarser precision is a range, 2024-01-01 is the whole day: gt excludes it, le
    includes it). The ``startswith`` kept beside a range only filters the rows of that range."""
    idx = fhir_search_index.c
    starts = idx.value.startswith(value, autoescape=True)
    through = _through(value)
    # A stored value is an instant (or a day): "starts after" and "ends before" the searched
    # range are gt and lt; "not equal" is outside it, two ranges.
    return {
        "eq": and_(idx.value >= value, idx.value <= through, starts),
        "ne": or_(idx.value < value, idx.value > through),
        "ge": idx.value >= value,
        "gt": and_(idx.value > value, ~starts),
        "sa": and_(idx.value > value, ~starts),
        "le": and_(idx.value <= through, or_(idx.value <= value, starts)),
        "lt": idx.value < value,
        "eb": idx.value < value,
    }[criterion.prefix]


def _value_matches(criterion: Criterion) -> ColumnElement[bool]:
    idx = fhir_search_index.c
    if criterion.kind == "date":
        return or_(*(_date(criterion, v) for v in criterion.values))
    if criterion.kind == "token" and criterion.system is not None:
        system = idx.system.is_(None) if criterion.system == "" else idx.system == criterion.system
        codes = [v for v in criterion.values if v]
        if len(codes) < len(criterion.values):  # ``system|``: any code of the system
            return system
        return and_(system, idx.value.in_(codes))
    return idx.value.in_(criterion.values)


def _index_ids(resource_type: str, criterion: Criterion) -> Select[Any]:
    """The ids of the resources a criterion matches: one search of ``ix_fhir_search``."""
    idx = fhir_search_index.c
    return select(idx.resource_id).where(
        idx.resource_type == index_type(resource_type),
        idx.param == criterion.param,
        _value_matches(criterion),
    )


def _id_matches(criterion: Criterion) -> ColumnElement[bool]:
    """``_id`` on the resources' key. A logical id has no system: ``_id=|x`` is ``x``, an
    ``_id`` with any other system matches nothing, and ``_id=|`` matches every id."""
    if criterion.system:
        return false()
    if criterion.system == "" and "" in criterion.values:
        return true()
    return fhir_resources.c.id.in_(criterion.values)


def _instant_range(text: str) -> tuple[datetime, datetime]:
    """The UTC instants a searched date covers, start included and end excluded, at the
    precision it was written (``2026-12-07`` is that day, ``…T10:15`` that minute)."""
    if len(text) <= 10:
        year = int(text[:4])
        month = int(text[5:7]) if len(text) >= 7 else 1
        day = int(text[8:10]) if len(text) == 10 else 1
        start = datetime(year, month, day, tzinfo=UTC)
        if len(text) == 4:
            end = datetime(year + 1, 1, 1, tzinfo=UTC) if year < 9999 else datetime.max
        elif len(text) == 7:
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        else:
            end = start + timedelta(days=1)
        return start, end.replace(tzinfo=UTC)
    clock = text[11:]
    if len(clock) == 5:  # hh:mm
        start = datetime.fromisoformat(text + ":00").replace(tzinfo=UTC)
        return start, start + timedelta(minutes=1)
    start = datetime.fromisoformat(text).replace(tzinfo=UTC)
    digits = len(clock) - 9 if len(clock) > 8 else 0  # fraction digits written
    return start, start + timedelta(microseconds=10 ** (6 - digits))


def _last_updated(criterion: Criterion) -> ColumnElement[bool]:
    """``_lastUpdated`` on the resources' own column, each prefix over the range the value
    covers (R4 §3.1.1.5.6); values are OR-ed like any criterion's."""
    at = fhir_resources.c.last_updated
    terms = []
    for value in criterion.values:
        start, end = _instant_range(value)
        terms.append(
            {
                "eq": and_(at >= start, at < end),
                "ne": or_(at < start, at >= end),
                "gt": at >= end,
                "sa": at >= end,
                "ge": at >= start,
                "lt": at < start,
                "eb": at < start,
                "le": at < end,
            }[criterion.prefix]
        )
    return or_(*terms)


def matching(resource_type: str, criteria: Sequence[Criterion]) -> list[ColumnElement[bool]]:
    """The conditions on ``fhir_resources`` of a search (criteria are AND-ed): the ids the
    index criteria match, intersected in ONE uncorrelated subquery. Written as one ``IN`` per
    criterion, PostgreSQL may run the second criterion's index search once per id the first
    one found (a nested loop); an intersection runs each search once."""
    conditions = [fhir_resources.c.resource_type == resource_type]
    conditions += [_id_matches(c) for c in criteria if c.param == "_id"]
    conditions += [_last_updated(c) for c in criteria if c.param == "_lastUpdated"]
    on_index = [c for c in criteria if c.param not in ("_id", "_lastUpdated")]
    searches = [_index_ids(resource_type, c) for c in on_index]
    if searches:
        ids = searches[0] if len(searches) == 1 else intersect(*searches)
        # MATERIALIZED: the index searches are planned on their own, as ranges of
        # ix_fhir_search. Inlined, PostgreSQL misjudged a date range (its statistics of the
        # value column mix every parameter) and merged by resource id, reading every index
        # row of the type.
        matches = ids.cte("matches").prefix_with("MATERIALIZED")
        conditions.append(fhir_resources.c.id.in_(select(matches.c.resource_id)))
    return conditions


def page_statement(
    resource_type: str,
    criteria: Sequence[Criterion],
    *,
    limit: int,
    offset: int = 0,
    after: tuple[datetime, str] | None = None,
    in_order: bool = True,
) -> Select[Any]:
    """One page, most recently updated first (then by id). ``after``: the (lastUpdated, id) of
    the last resource of the previous page, so that a deep page costs what the first does.

    ``in_order``: read ``ix_fhir_resources_recent`` from the position, keeping the matches, for
    a broad search; otherwise take the matches by id and sort them, for a search known to have
    few (the ordering written as an expression, so that no database reads that index instead:
    SQLite would walk every resource of the type to find a handful)."""
    r = fhir_resources.c
    last_updated: ColumnElement[datetime] = (
        r.last_updated if in_order else func.coalesce(r.last_updated, r.last_updated)
    )
    where = matching(resource_type, criteria)
    if after is not None:
        at, resource_id = after
        # The first term bounds an index range; the second keeps the ties after the position.
        where += [
            last_updated <= at,
            or_(last_updated < at, and_(last_updated == at, r.id > resource_id)),
        ]
    return (
        select(r.id, r.content, r.version_id, r.last_updated)
        .where(*where)
        .order_by(last_updated.desc(), r.id)
        .limit(limit)
        .offset(offset)
    )


def count_statement(
    resource_type: str, criteria: Sequence[Criterion], *, up_to: int | None = None
) -> Select[Any]:
    """The number of matches; with ``up_to``, counting stops after ``up_to`` of them."""
    where = matching(resource_type, criteria)
    if up_to is None:
        return select(func.count()).select_from(fhir_resources).where(*where)
    bounded = select(fhir_resources.c.id).where(*where).limit(up_to).subquery()
    return select(func.count()).select_from(bounded)
