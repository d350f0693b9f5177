"""Every advertised search parameter, every date prefix and every pair of parameters is planned
as index searches, never as a search run once per stored resource (issue 19: a correlated
``EXISTS`` per criterion made ``created=ge...`` quadratic), on SQLite and on PostgreSQL; and
the results are the ones the FHIR search rules give, checked against a plain Python reading of
the same rules on random data."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdr.storage import Database
from cdr.storage.fhir_search import bounded_count_statement, count_statement, page_statement
from cdr.storage.fhir_store import SqlFhirStore
from fhir_server.search import parse_search
from fhir_server.search_params import SEARCH_PARAMS, index_entries, normalise_instant
from fhir_server.store import Criterion, IndexEntry

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PREFIXES = ("eq", "ge", "gt", "le", "lt")
# A page position amid the filled resources (written at T0 + 0..480 s).
MIDDLE = (T0 + timedelta(seconds=200), "r1")
# One representative value per advertised parameter (dates take each prefix in turn).
VALUES = {
    "_id": "r1",
    "request": "q1",
    "requestor": "Organization/s1",
    "patient": "p1",
    "beneficiary": "p1",
    "payor": "Organization/o1",
    "outcome": "complete",
    "status": "active",
    "identifier": "urn:oid:1.2.250.1.213.1.4.8|185057505612345",
    "url": "http://example.org/cs1",
    "created": "2026-11-24",
    "birthdate": "1980-01-02",
    "_lastUpdated": "2026-11-24",
}


def _resources(rng: random.Random, n: int) -> Iterator[dict[str, Any]]:
    """``n`` of each served type, their values drawn from small sets so that criteria meet."""
    for i in range(n):
        day = T0 + timedelta(days=rng.randrange(-3, 3), hours=rng.randrange(0, 24))
        created = day.isoformat() if rng.random() < 0.8 else day.date().isoformat()
        patient = {"reference": f"Patient/p{rng.randrange(5)}"}
        status = rng.choice(("active", "cancelled", "draft"))
        yield {
            "resourceType": "CoverageEligibilityResponse",
            "id": f"r{i}",
            "status": status,
            "patient": patient,
            "request": {"reference": f"CoverageEligibilityRequest/q{rng.randrange(5)}"},
            "requestor": {"reference": f"Organization/s{rng.randrange(3)}"},
            "created": created,
            "outcome": rng.choice(("complete", "error", "partial")),
        }
        yield {
            "resourceType": "CoverageEligibilityRequest",
            "id": f"q{i}",
            "status": status,
            "patient": patient,
            "created": created,
        }
        yield {
            "resourceType": "Coverage",
            "id": f"c{i}",
            "status": status,
            "beneficiary": patient,
            "payor": [{"reference": f"Organization/o{rng.randrange(3)}"}],
            "identifier": [{"system": "urn:at", "value": f"AT{rng.randrange(5)}"}],
        }
        system = rng.choice(("urn:oid:1.2.250.1.213.1.4.8", None))
        identifier = {"value": f"1850575056123{rng.randrange(40, 50)}"}
        if system:
            identifier["system"] = system
        yield {
            "resourceType": "Patient",
            "id": f"p{i}",
            "identifier": [identifier],
            "birthDate": rng.choice(("1980-01-02", "1980-01", "1979-12-31", "1980-01-03")),
        }
        for kind in ("Organization", "Practitioner"):
            yield {
                "resourceType": kind,
                "id": f"{kind[0].lower()}{i}",
                "identifier": [{"system": "urn:x", "value": f"v{rng.randrange(5)}"}],
            }
        for kind in ("CodeSystem", "StructureDefinition"):
            yield {"resourceType": kind, "id": f"u{i}", "url": f"http://example.org/cs{i % 4}"}


def _fill(store: SqlFhirStore, n: int, seed: int = 19) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    resources = list(_resources(rng, n))
    # Through the store's own write path, a few batches at different instants.
    for start in range(0, len(resources), 50):
        batch = resources[start : start + 50]
        store.upsert_many([(r, index_entries(r)) for r in batch], T0 + timedelta(seconds=start))
    return resources


def _param_values(name: str, kind: str) -> list[str]:
    value = VALUES[name]
    return [p + value for p in PREFIXES] if kind == "date" else [value]


def _searches() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Every parameter alone (each prefix of a date), and every pair of parameters."""
    for resource_type, params in SEARCH_PARAMS.items():
        if resource_type == "AuditEvent":  # searched in the audit trail's own table
            continue
        singles = [[(p.name, v)] for p in params.values() for v in _param_values(p.name, p.kind)]
        for single in singles:
            yield resource_type, single
        for a, b in itertools.combinations(singles, 2):
            if a[0][0] != b[0][0] or params[a[0][0]].kind == "date":
                yield resource_type, a + b


@pytest.fixture
def filled(database):
    database.migrate()
    store = SqlFhirStore(database.engine)
    resources = _fill(store, 60)
    if not database.is_sqlite:
        with database.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return database, store, resources


def _sqlite_plan(connection: Any, sql: str) -> str:
    return "\n".join(
        str(row[-1])
        for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {_sqlite_literal(sql)}")
    )


def _sqlite_literal(sql: str) -> str:
    # SQLite writes an OFFSET without LIMIT as "LIMIT -1 OFFSET n", its -1 a bound parameter
    # that a literal compilation leaves as "?": written out here for EXPLAIN.
    return sql.replace("LIMIT ? OFFSET", "LIMIT -1 OFFSET")


def _sqlite_per_row_searches(connection: Any, sql: str) -> list[str]:
    """The plan's steps that search the index once per row of another: inside a correlated
    subquery, any access to fhir_search_index but a point lookup by resource id
    (ix_fhir_search_resource); and a scan of the index anywhere."""
    rows = [
        tuple(r) for r in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {_sqlite_literal(sql)}")
    ]
    parent = {row[0]: row[1] for row in rows}
    detail = {row[0]: str(row[-1]) for row in rows}
    correlated = {i for i, text in detail.items() if "CORRELATED" in text}

    def inside(node: int) -> bool:
        while node in parent:
            node = parent[node]
            if node in correlated:
                return True
        return False

    bad = [t for t in detail.values() if "SCAN fhir_search_index" in t]
    for node, text in detail.items():
        if "fhir_search_index" in text and inside(node) and "ix_fhir_search_resource" not in text:
            bad.append(f"per row: {text}")
    return bad


def _postgres_per_row_searches(node: dict[str, Any], inner: bool = False) -> Iterator[str]:
    """Nodes that search the index once per row of another: a search by value or a scan of
    the index in a correlated (not hashed) SubPlan, or on the inner side of a nested loop
    (below a Materialize or a Hash it runs once). A point lookup by resource id per row is the
    check a broad search read in order makes: allowed."""
    if (
        node.get("Subplan Name", "").startswith("SubPlan")
        and node.get("Parent Relationship") == "SubPlan"
    ):
        inner = True  # runs once per row of the node it filters
    # Per row, the index may only be entered by resource id (a point lookup per row); a value
    # search or a scan there is repeated for every row of the outer side.
    by_value = node.get("Index Name") == "ix_fhir_search"
    scanned = node.get("Relation Name") == "fhir_search_index" and node["Node Type"] == "Seq Scan"
    if inner and (by_value or scanned):
        yield f"{node['Node Type']} of fhir_search_index inside a nested loop"
    if node["Node Type"] in ("Materialize", "Hash"):
        inner = False  # what is below runs once, its rows kept
    children = node.get("Plans", [])
    for position, child in enumerate(children):
        nested_inner = node["Node Type"] == "Nested Loop" and position == 1
        yield from _postgres_per_row_searches(child, inner or nested_inner)


def test_no_search_is_planned_as_a_search_per_stored_resource(filled):
    db, _store, _ = filled
    checked = 0
    with db.engine.connect() as connection:
        for resource_type, params in _searches():
            criteria, count, offset = parse_search(resource_type, params)
            driver = next((c for c in criteria if c.param not in ("_id", "_lastUpdated")), None)
            statements = [
                page_statement(resource_type, criteria, limit=count + 1, offset=offset),
                page_statement(resource_type, criteria, limit=count + 1, after=MIDDLE),
                page_statement(
                    resource_type, criteria, limit=count + 1, after=MIDDLE, in_order=False
                ),
                count_statement(resource_type, criteria),
                count_statement(resource_type, criteria, up_to=1000),
                count_statement(resource_type, criteria, up_to=1000, plan="in_order"),
            ]
            if driver is not None:
                statements += [
                    page_statement(
                        resource_type, criteria, limit=count + 1, in_order=False, driver=driver
                    ),
                    count_statement(resource_type, criteria, plan="driver", driver=driver),
                    bounded_count_statement(resource_type, driver, 1001),
                ]
            for statement in statements:
                sql = str(
                    statement.compile(
                        db.engine,
                        compile_kwargs={"literal_binds": True, "render_postcompile": True},
                    )
                )
                if db.is_sqlite:
                    bad = _sqlite_per_row_searches(connection, sql)
                    assert not bad, (resource_type, params, bad, _sqlite_plan(connection, sql))
                else:
                    [[explained]] = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").all()
                    root = (explained if isinstance(explained, list) else json.loads(explained))[0]
                    bad = list(_postgres_per_row_searches(root["Plan"]))
                    assert not bad, (resource_type, params, bad, root)
                checked += 1
    assert checked > 500  # every parameter, prefix and pair was looked at


# The FHIR search rules in plain Python, as the old correlated query applied them.


def _entry_matches(criterion: Criterion, entry: IndexEntry) -> bool:
    if entry.param != criterion.param:
        return False
    for value in criterion.values:
        if criterion.kind == "date":
            starts = entry.value.startswith(value)
            if {
                "eq": starts,
                "ge": entry.value >= value,
                "gt": entry.value > value and not starts,
                "le": entry.value <= value or starts,
                "lt": entry.value < value,
            }[criterion.prefix]:
                return True
        elif criterion.kind == "token" and criterion.system is not None:
            system = (
                entry.system is None if criterion.system == "" else entry.system == criterion.system
            )
            if system and (not value or entry.value == value):
                return True
        elif entry.value == value:
            return True
    return False


def _expected(resource: dict[str, Any], criteria: list[Criterion], written: datetime) -> bool:
    # _lastUpdated is no index row: it is the instant the batch was written, read as one.
    entries = [
        *index_entries(resource),
        IndexEntry("_lastUpdated", normalise_instant(written.isoformat())),
    ]
    for criterion in criteria:
        if criterion.param == "_id":
            if criterion.system or not (
                (criterion.system == "" and "" in criterion.values)
                or resource["id"] in criterion.values
            ):
                return False
        elif not any(_entry_matches(criterion, e) for e in entries):
            return False
    return True


def test_results_follow_the_search_rules_on_random_data(filled):
    _db, store, resources = filled
    written_at = {}
    for position, resource in enumerate(resources):
        written_at[(resource["resourceType"], resource["id"])] = position // 50
    searches = list(_searches())
    assert len(searches) > 100
    for resource_type, params in searches:
        criteria, _, _ = parse_search(resource_type, params)
        expected = [
            r["id"]
            for r in resources
            if r["resourceType"] == resource_type
            and _expected(
                r,
                criteria,
                T0 + timedelta(seconds=50 * written_at[(resource_type, r["id"])]),
            )
        ]
        # Most recently updated first, then by id.
        expected.sort(key=lambda i: (-written_at[(resource_type, i)], i))
        page = store.search(resource_type, criteria, count=1000, total="accurate")
        assert [s.resource["id"] for s in page.resources] == expected, (resource_type, params)
        assert page.total == len(expected)


def test_few_matches_are_taken_by_id_and_many_read_in_order(tmp_path):
    """SQLite: a search known to have few matches must not walk every resource of the type in
    order to find them; a broad one (or a walk by next links) reads the order index from its
    position instead of sorting every match."""
    db = Database(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    db.migrate()
    criteria, _, _ = parse_search("CoverageEligibilityResponse", [("patient", "p1")])

    def plan(statement: Any) -> str:
        sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
        with db.engine.connect() as connection:
            return _sqlite_plan(connection, sql)

    few = plan(
        page_statement(
            "CoverageEligibilityResponse", criteria, limit=21, after=MIDDLE, in_order=False
        )
    )
    assert "ix_fhir_resources_recent" not in few and "USING PRIMARY KEY" in few, few
    for statement in (
        page_statement("CoverageEligibilityResponse", [], limit=21, after=MIDDLE),
        page_statement("CoverageEligibilityResponse", criteria, limit=21, after=MIDDLE),
    ):
        broad = plan(statement)
        assert "ix_fhir_resources_recent" in broad and "TEMP B-TREE" not in broad, broad
    db.dispose()
