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
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, false, func, intersect, or_, select, true

from cdr.storage.index_types import index_type
from cdr.storage.tables import fhir_resources, fhir_search_index
from fhir_server.store import Criterion

__all__ = [
    "SearchPlan",
    "bounded_count_statement",
    "count_statement",
    "instant_matches",
    "matching",
    "page_statement",
]

SearchPlan = Literal["intersect", "driver", "in_order"]

# The greatest value of each character of an ISO 8601 date-time at the same position: a value
# that starts with ``v`` is at most ``v`` followed by the rest of this text, so a date prefix
# becomes an index range (a ``LIKE 'v%'`` is no range on SQLite nor on PostgreSQL).
_LATEST = "9999-99-99T99:99:99.999999"


def _through(value: str) -> str:
    """The greatest ISO text starting with ``value`` (``2024-01-01`` → ``2024-01-01T99:99:99``)."""
    return value + _LATEST[len(value) :]


def _date(criterion: Criterion, value: str, column: ColumnElement[str]) -> ColumnElement[bool]:
    """The date comparisons, each bounded so that the index gives a range (FHIR R4 §3.1.1.5.6:
    a value at coarser precision is a range, 2024-01-01 is the whole day: gt excludes it, le
    includes it). The ``startswith`` kept beside a range only filters the rows of that range."""
    starts = column.startswith(value, autoescape=True)
    through = _through(value)
    # A stored value is an instant (or a day): "starts after" and "ends before" the searched
    # range are gt and lt; "not equal" is outside it, two ranges.
    return {
        "eq": and_(column >= value, column <= through, starts),
        "ne": or_(column < value, column > through),
        "ge": column >= value,
        "gt": and_(column > value, ~starts),
        "sa": and_(column > value, ~starts),
        "le": and_(column <= through, or_(column <= value, starts)),
        "lt": column < value,
        "eb": column < value,
    }[criterion.prefix]


def _value_matches(criterion: Criterion, *, by_value: bool = True) -> ColumnElement[bool]:
    """The criterion on an index row. ``by_value`` False: the value compared as an expression
    no index serves (a check of rows already found by resource id)."""
    idx = fhir_search_index.c
    value: ColumnElement[str] = idx.value if by_value else idx.value.concat("")
    if criterion.kind == "date":
        return or_(*(_date(criterion, v, value) for v in criterion.values))
    if criterion.kind == "token" and criterion.system is not None:
        system = idx.system.is_(None) if criterion.system == "" else idx.system == criterion.system
        codes = [v for v in criterion.values if v]
        if len(codes) < len(criterion.values):  # ``system|``: any code of the system
            return system
        return and_(system, value.in_(codes))
    return value.in_(criterion.values)


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
    """``_lastUpdated`` on the resources' own column."""
    return instant_matches(criterion, fhir_resources.c.last_updated)


def instant_matches(criterion: Criterion, at: ColumnElement[datetime]) -> ColumnElement[bool]:
    """A date criterion on a column of instants, each prefix over the range the value covers
    (R4 §3.1.1.5.6); values are OR-ed like any criterion's."""
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


def _on_index(criteria: Sequence[Criterion]) -> list[Criterion]:
    return [c for c in criteria if c.param not in ("_id", "_lastUpdated")]


def _has(resource_type: str, criterion: Criterion) -> ColumnElement[bool]:
    """Whether the resource of the outer row meets ``criterion``: a point lookup of its own
    index rows by (type, resource id), never a search of the criterion's value range. The
    parameter and the value are compared as expressions (``param || ''``), which no index can
    serve: the value index (type, param, value) is then no use here and both databases take the
    index by resource id; given the plain columns, SQLite (and PostgreSQL on a small table)
    picked the value index and searched it once per row, the quadratic plan of issue 19."""
    idx = fhir_search_index.c
    lookup = (
        select(idx.resource_id)
        .where(
            idx.resource_type == index_type(resource_type),
            idx.resource_id == fhir_resources.c.id,
            idx.param.concat("") == criterion.param,
            _value_matches(criterion, by_value=False),
        )
        # OFFSET 0 keeps PostgreSQL from turning the check into a join over every match (its
        # estimate of the expressions is a guess; it drops a LIMIT in an EXISTS, not this): the
        # check stays one per row read in order (measured at 100,000: 640 ms -> 2 ms a page).
        .offset(0)
    )
    return lookup.exists()


def matching(
    resource_type: str,
    criteria: Sequence[Criterion],
    *,
    plan: SearchPlan = "intersect",
    driver: Criterion | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions on ``fhir_resources`` of a search (criteria are AND-ed), in one of three
    shapes, each answered without searching the index once per stored resource:

    - ``intersect``: the ids every index criterion matches, intersected in ONE uncorrelated
      subquery (for an exact count of anything). Written as one ``IN`` per criterion,
      PostgreSQL may run the second search once per id the first found; an intersection runs
      each search once.
    - ``driver``: the ids of ``driver``, a criterion known to match few resources (one range
      of ``ix_fhir_search``); every other criterion is checked on those few, by resource id.
    - ``in_order``: for a broad search read in order (``ix_fhir_resources_recent``): each row
      is checked by resource id, and the read stops once the page is full. Building the whole
      set of matches first cost in proportion to the matches (hundreds of ms at 100,000).
    """
    conditions = [fhir_resources.c.resource_type == resource_type]
    conditions += [_id_matches(c) for c in criteria if c.param == "_id"]
    conditions += [_last_updated(c) for c in criteria if c.param == "_lastUpdated"]
    on_index = _on_index(criteria)
    if not on_index:
        return conditions
    if plan == "in_order":
        return conditions + [_has(resource_type, c) for c in on_index]
    if plan == "driver" and driver is not None:
        # MATERIALIZED: the driver's few ids, found once; not searched again per resource.
        few = _index_ids(resource_type, driver).cte("driver").prefix_with("MATERIALIZED")
        conditions.append(fhir_resources.c.id.in_(select(few.c.resource_id)))
        return conditions + [_has(resource_type, c) for c in on_index if c is not driver]
    searches = [_index_ids(resource_type, c) for c in on_index]
    ids = searches[0] if len(searches) == 1 else intersect(*searches)
    # MATERIALIZED: the index searches are planned on their own, as ranges of ix_fhir_search.
    # Inlined, PostgreSQL misjudged a date range (its statistics of the value column mix every
    # parameter) and merged by resource id, reading every index row of the type.
    matches = ids.cte("matches").prefix_with("MATERIALIZED")
    conditions.append(fhir_resources.c.id.in_(select(matches.c.resource_id)))
    return conditions


def bounded_count_statement(resource_type: str, criterion: Criterion, up_to: int) -> Select[Any]:
    """How many index rows ``criterion`` matches, counting stopped at ``up_to``: one range of
    ``ix_fhir_search`` read no further than that. A resource may hold two matching rows (two
    identifiers of one system), so this bounds its matches from above."""
    idx = fhir_search_index.c
    # In the index's order: PostgreSQL then reads the range and stops at the bound. Unordered,
    # its estimate of a date range (the value statistics mix every parameter) made it expect
    # the bound soon from a scan of the whole table (150 ms for 512 matches at 100,000).
    rows = (
        _index_ids(resource_type, criterion)
        .order_by(idx.resource_type, idx.param, idx.value)
        .limit(up_to)
        .subquery()
    )
    return select(func.count()).select_from(rows)


def page_statement(
    resource_type: str,
    criteria: Sequence[Criterion],
    *,
    limit: int,
    offset: int = 0,
    after: tuple[datetime, str] | None = None,
    in_order: bool = True,
    driver: Criterion | None = None,
) -> Select[Any]:
    """One page, most recently updated first (then by id). ``after``: the (lastUpdated, id) of
    the last resource of the previous page, so that a deep page costs what the first does.

    ``in_order``: read ``ix_fhir_resources_recent`` from the position, checking each row, for
    a broad search; otherwise take the matches by id (those of ``driver`` when given) and sort
    them, for a search known to have few (the ordering written as an expression, so that no
    database reads that index instead: SQLite would walk every resource of the type to find a
    handful)."""
    r = fhir_resources.c
    last_updated: ColumnElement[datetime] = (
        r.last_updated if in_order else func.coalesce(r.last_updated, r.last_updated)
    )
    plan: SearchPlan = "in_order" if in_order else ("driver" if driver else "intersect")
    where = matching(resource_type, criteria, plan=plan, driver=driver)
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
    resource_type: str,
    criteria: Sequence[Criterion],
    *,
    up_to: int | None = None,
    plan: SearchPlan = "intersect",
    driver: Criterion | None = None,
) -> Select[Any]:
    """The number of matches; with ``up_to``, counting stops after ``up_to`` of them."""
    where = matching(resource_type, criteria, plan=plan, driver=driver)
    if up_to is None:
        return select(func.count()).select_from(fhir_resources).where(*where)
    bounded = select(fhir_resources.c.id).where(*where).limit(up_to).subquery()
    return select(func.count()).select_from(bounded)
