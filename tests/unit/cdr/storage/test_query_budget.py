"""Every search has a time budget, and stops when nobody waits for it (issue 19), on SQLite and
on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from cdr.storage.fhir_store import SqlFhirStore
from fhir_server.search import parse_search
from fhir_server.search_params import index_entries
from fhir_server.store import Cancellation
from rights.errors import SearchTooCostly, StorageError
from tests.unit.cdr.storage.endless_index import make_index_endless

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NIR = "urn:oid:1.2.250.1.213.1.4.8|185057505612345"


@pytest.fixture
def endless(database):
    database.migrate()
    # Resources of the type searched: with none, a planner may answer without the index.
    store = SqlFhirStore(database.engine)
    for i in range(3):
        patient = {"resourceType": "Patient", "id": f"x{i}", "birthDate": "1980-01-02"}
        store.upsert(patient, index_entries(patient), T0)
    make_index_endless(database.engine)
    return database


def _wait_until_running(database) -> None:
    """PostgreSQL: until the server runs the search (a cancel request reaching it before would
    be lost; the store's own check covers a cancel made before it sends the statement).
    SQLite looks at the cancellation while the statement runs, whenever it is made."""
    if database.is_sqlite:
        return
    deadline = time.monotonic() + 30
    with database.engine.connect() as connection:
        while time.monotonic() < deadline:
            running = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND strpos(query, 'fhir_search_index') > 0 AND pid <> pg_backend_pid() "
                "AND datname = current_database()"
            ).scalar_one()
            if running:
                return
            connection.rollback()
            time.sleep(0.01)
    raise AssertionError("the search did not start within 30 s")


def test_a_search_past_its_budget_is_too_costly_and_names_its_parameters(endless):
    store = SqlFhirStore(endless.engine, search_timeout_s=0.5)
    criteria, count, offset = parse_search(
        "Patient", [("identifier", NIR), ("birthdate", "1980-01-02")]
    )
    with pytest.raises(SearchTooCostly) as raised:
        store.search("Patient", criteria, count=count, offset=offset, total="accurate")
    assert raised.value.parameters == ("identifier", "birthdate")
    # The connection went back to the pool usable: the next statement on it works.
    assert store.read("Patient", "p1") is None


def test_a_cancelled_search_stops_whatever_its_budget(endless):
    store = SqlFhirStore(endless.engine, search_timeout_s=3600)
    criteria, count, offset = parse_search("Patient", [("identifier", NIR)])
    cancel = Cancellation()
    outcome: list[BaseException] = []

    def search() -> None:
        try:
            store.search("Patient", criteria, count=count, offset=offset, cancel=cancel)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=search)
    worker.start()
    _wait_until_running(endless)
    cancel.cancel()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the cancelled search did not stop"
    assert len(outcome) == 1 and isinstance(outcome[0], StorageError), outcome
    assert not isinstance(outcome[0], SearchTooCostly)
