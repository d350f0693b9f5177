"""Retention (issue 14 item 5): what is older than the period goes, in bounded batches, and
nothing a kept row still needs goes with it; on SQLite, and on PostgreSQL when
``CDR_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.retention import PurgeCounts, purge, purge_batches
from cdr.storage.retention_fhir import PURGED_TYPES
from cdr.storage.tables import (
    fhir_resource_history,
    fhir_resources,
    fhir_search_index,
    hl7_inbox,
    hl7_outbox,
    hl7_relookups,
    lookup_results,
    lookups,
)
from fhir_server.search import parse_search
from mapping.fhir.codesystems import all_conformance_resources
from tests.unit.cdr.storage.aged_rows import (
    BEFORE,
    NEW,
    OLD,
    count_rows,
    publish_conformance,
    store_answer,
    store_lookup,
    store_message,
)


def _ids(engine: Any, column: Any) -> set[Any]:
    with engine.connect() as connection:
        return set(connection.execute(select(column)).scalars())


def test_old_lookups_go_with_their_results_recent_ones_stay(migrated) -> None:
    engine = migrated.engine
    for n in range(3):
        store_lookup(engine, f"old-{n}", OLD + timedelta(minutes=n))
    store_lookup(engine, "recent", NEW)
    store_lookup(engine, "edge", BEFORE)  # not older than BEFORE: kept

    counts = purge(engine, BEFORE)

    assert (counts.lookups, counts.lookup_results) == (3, 6)
    assert _ids(engine, lookups.c.id) == {"recent", "edge"}
    assert _ids(engine, lookup_results.c.lookup_id) == {"recent", "edge"}


def _search(store: SqlFhirStore, resource_type: str, *params: tuple[str, str]) -> set[str]:
    criteria, count, _ = parse_search(resource_type, list(params))
    page = store.search(resource_type, criteria, count=count)
    return {r.resource["id"] for r in page.resources}


def test_old_answers_go_with_their_index_and_history_the_people_kept_answers_name_stay(
    migrated,
) -> None:
    engine = migrated.engine
    store = SqlFhirStore(engine)
    # Anne: answered long ago only (her Patient changed once: a version in the history).
    store_answer(store, "a1", "anne", OLD)
    store_answer(store, "a2", "anne", OLD + timedelta(days=1), family="MARTIN-DURAND")
    # Bruno: first answered long ago, answered again lately, unchanged: his Patient and
    # Coverage keep their old last_updated, and the recent answer names them.
    store_answer(store, "b1", "bruno", OLD)
    store_answer(store, "b2", "bruno", NEW)
    publish_conformance(store, OLD)  # the conformance resources, published long ago

    counts = purge(engine, BEFORE)

    remaining = {(t, i) for t, i in _rows(engine, fhir_resources)}
    assert remaining >= {
        ("CoverageEligibilityResponse", "response-b2"),
        ("CoverageEligibilityRequest", "request-b2"),
        ("Patient", "bruno"),
        ("Coverage", "coverage-bruno"),
        ("Organization", "caisse-1"),
        ("Organization", "structure-1"),
    }
    gone = {
        ("CoverageEligibilityResponse", "response-a1"),
        ("CoverageEligibilityResponse", "response-a2"),
        ("CoverageEligibilityResponse", "response-b1"),
        ("CoverageEligibilityRequest", "request-a1"),
        ("CoverageEligibilityRequest", "request-a2"),
        ("CoverageEligibilityRequest", "request-b1"),
        ("Patient", "anne"),
        ("Coverage", "coverage-anne"),
    }
    assert not remaining & gone
    assert counts.fhir_resources == len(gone)
    conformance = {(r["resourceType"], r["id"]) for r in all_conformance_resources()}
    assert conformance <= remaining
    # The history of Anne's Patient went with it; her rows left no index behind.
    assert counts.fhir_resource_history == 1
    assert count_rows(engine, fhir_resource_history) == 0
    assert count_rows(engine, fhir_search_index, fhir_search_index.c.resource_id == "anne") == 0
    assert count_rows(engine, fhir_search_index, fhir_search_index.c.resource_id.like("%a1")) == 0
    assert counts.fhir_search_index > 0
    # Searches no longer find them; they still find what stays.
    assert _search(store, "CoverageEligibilityResponse", ("patient", "Patient/anne")) == set()
    assert _search(store, "Coverage", ("beneficiary", "Patient/anne")) == set()
    assert _search(store, "CoverageEligibilityResponse", ("patient", "Patient/bruno")) == {
        "response-b2"
    }
    assert _search(store, "Coverage", ("beneficiary", "Patient/bruno")) == {"coverage-bruno"}
    assert store.read("Patient", "anne") is None
    assert store.read("Patient", "bruno") is not None


def _rows(engine: Any, table: Any) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [(r.resource_type, r.id) for r in connection.execute(table.select())]


def test_the_conformance_types_are_never_purged() -> None:
    published = {r["resourceType"] for r in all_conformance_resources()}
    assert published and not published & set(PURGED_TYPES)


def test_hl7_messages_go_once_finished_with_what_they_led_to(migrated) -> None:
    engine = migrated.engine
    delivered = store_message(engine, "M1", OLD)
    dead = store_message(engine, "M2", OLD, delivery="dead")
    pending = store_message(engine, "M3", OLD, status="pending")
    unsent = store_message(engine, "M4", OLD, delivery=None)
    relooking = store_message(engine, "M5", OLD, relookup="pending")
    relooked = store_message(engine, "M6", OLD, relookup="final")
    failed = store_message(engine, "M7", OLD, status="failed")
    recent = store_message(engine, "M8", NEW)

    counts = purge(engine, BEFORE)

    kept_inbox = {pending.inbox_id, unsent.inbox_id, relooking.inbox_id, recent.inbox_id}
    assert _ids(engine, hl7_inbox.c.id) == kept_inbox
    # M5's result was delivered (it goes) but its re-lookup still runs (it and M5 stay).
    assert _ids(engine, hl7_outbox.c.id) == {unsent.outbox_id, recent.outbox_id}
    assert _ids(engine, hl7_relookups.c.id) == {relooking.relookup_id}
    assert (counts.hl7_inbox, counts.hl7_outbox, counts.hl7_relookups) == (4, 4, 1)
    assert delivered.inbox_id not in kept_inbox and dead.inbox_id not in kept_inbox
    assert relooked.inbox_id not in kept_inbox and failed.inbox_id not in kept_inbox


def test_a_pending_message_stays_whatever_its_age(migrated) -> None:
    engine = migrated.engine
    pending = store_message(engine, "M1", OLD - timedelta(days=3650), status="pending")
    assert purge(engine, NEW + timedelta(days=1)).hl7_inbox == 0
    assert _ids(engine, hl7_inbox.c.id) == {pending.inbox_id}


def _fill(migrated: Any) -> None:
    engine = migrated.engine
    store = SqlFhirStore(engine)
    for n in range(7):
        store_lookup(engine, f"old-{n}", OLD + timedelta(seconds=n))
        store_answer(store, f"old-{n}", f"person-{n % 3}", OLD + timedelta(seconds=n))
        store_message(engine, f"OLD-{n}", OLD + timedelta(seconds=n))
    store_answer(store, "kept", "person-0", NEW)
    store_lookup(engine, "recent", NEW)
    store_message(engine, "NEW", NEW)
    store_message(engine, "WAITING", OLD, status="pending")
    publish_conformance(store, OLD)


def _snapshot(engine: Any) -> dict[str, int]:
    tables = (
        lookups,
        lookup_results,
        fhir_resources,
        fhir_search_index,
        fhir_resource_history,
        hl7_inbox,
        hl7_outbox,
        hl7_relookups,
    )
    return {t.name: count_rows(engine, t) for t in tables}


def test_a_dry_run_deletes_nothing_and_counts_what_the_purge_then_deletes(migrated) -> None:
    _fill(migrated)
    engine = migrated.engine
    before_run = _snapshot(engine)

    predicted = purge(engine, BEFORE, dry_run=True)

    assert _snapshot(engine) == before_run
    assert predicted.total > 0
    assert purge(engine, BEFORE) == predicted
    assert purge(engine, BEFORE) == PurgeCounts()  # nothing left to do


def test_more_rows_than_a_batch_go_in_several_transactions(migrated) -> None:
    _fill(migrated)
    engine = migrated.engine
    expected = purge(engine, BEFORE, dry_run=True)

    steps = list(purge_batches(engine, BEFORE, batch=2))

    total = sum(steps, PurgeCounts())
    assert total == expected
    # No step took more than two lookups, messages or resources of a table.
    assert all(
        max(s.lookups, s.fhir_resources, s.hl7_inbox, s.hl7_outbox, s.hl7_relookups) <= 2
        for s in steps
    )
    assert sum(1 for s in steps if s.lookups) == 4  # 7 old lookups, two at a time
    assert count_rows(engine, lookups) == 1
    # The person the kept answer names is still whole.
    store = SqlFhirStore(engine)
    assert store.read("Patient", "person-0") is not None
    assert _search(store, "Coverage", ("beneficiary", "Patient/person-0")) == {"coverage-person-0"}
    assert store.read("Patient", "person-1") is None


def test_a_dry_run_in_batches_steps_over_what_it_counted(migrated) -> None:
    _fill(migrated)
    engine = migrated.engine
    assert sum(purge_batches(engine, BEFORE, batch=2, dry_run=True), PurgeCounts()) == purge(
        engine, BEFORE, dry_run=True
    )


def test_before_must_carry_its_time_zone(migrated) -> None:
    with pytest.raises(ValueError, match="naive"):
        purge(migrated.engine, datetime(2026, 1, 1))


@contextmanager
def _statements(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_every_statement_of_a_purge_finds_its_rows_by_an_index(migrated) -> None:
    """A range of an index is read only by the statement that takes a batch (bounded by its
    LIMIT); every other step finds its rows by equality (a key, an id list, a reference); no
    table is scanned."""
    _fill(migrated)
    engine = migrated.engine
    with _statements(engine) as seen:
        purge(engine, BEFORE, batch=2, dry_run=True)
        purge(engine, BEFORE, batch=2)
    statements = {s: p for s, p in seen if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))}
    assert len(statements) > 20
    with engine.connect() as connection:
        if not migrated.is_sqlite:
            # With sequential scans priced out, one left in a plan is a table no index serves.
            connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements.items():
            if migrated.is_sqlite:
                explained = connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
                steps = [
                    str(row[-1]) for row in explained if str(row[-1]).startswith(("SEARCH", "SCAN"))
                ]
            else:
                [[explained]] = connection.exec_driver_sql(
                    f"EXPLAIN (FORMAT JSON) {statement}", parameters
                ).all()
                root = explained if isinstance(explained, list) else json.loads(explained)
                steps = list(_postgres_steps(root[0]["Plan"]))
            assert not [s for s in steps if s.startswith("SCAN") or "Seq Scan" in s], (
                statement,
                steps,
            )
            ranges = [n for n, step in enumerate(steps) if "<" in step or ">" in step]
            assert ranges in ([], [0]), (statement, steps)
            assert not ranges or " LIMIT " in statement, (statement, steps)


def _postgres_steps(node: dict[str, Any]) -> Iterator[str]:
    """Each node that reads a table, with the condition its index answers."""
    if "Relation Name" in node or "Index Name" in node:
        yield f"{node['Node Type']} {node.get('Index Name', '')} {node.get('Index Cond', '')}"
    for child in node.get("Plans", []):
        yield from _postgres_steps(child)
