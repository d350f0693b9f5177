"""`$submit` answers written on the sqlite3 driver (``cdr/storage/answers_sqlite.py``): the very
rows, and the very results, of the SQLAlchemy path they replace on SQLite."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cdr.storage import Database, SqlLookupStore
from cdr.storage.answers import SqlAnswerStore
from cdr.storage.answers_sqlite import _read_versions, write_answers_on
from cdr.storage.audit_chain import draft
from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.lookups import lookup_record
from cdr.storage.strategy import SQLALCHEMY_WRITES, SQLITE_DRIVER_WRITES
from cdr.storage.tables import (
    audit_chain,
    audit_events,
    fhir_resource_history,
    fhir_resources,
    fhir_search_index,
    lookup_results,
    lookups,
)
from cdr.storage.transactions import in_transaction
from cdr.storage.writer import SingleWriter
from fhir_server.search_params import index_entries
from fhir_server.store import ResourceWrite
from mapping.fhir.audit_event import lookup_audit_event
from rights.caller import Caller, Entry
from rights.errors import StorageError
from rights.model import Requester
from tests.unit.cdr.storage.test_answers import response
from tests.unit.cdr.storage.test_fhir_store import patient, search
from tests.unit.cdr.storage.test_lookups import _report

T1 = datetime(2026, 11, 24, 9, 0, 0, 123456, tzinfo=UTC)
T2 = T1 + timedelta(minutes=5, microseconds=1)
T3 = T2 + timedelta(hours=1)


def _path(strategy):
    """A batch written by ``strategy``'s answer write, in a transaction as ``SqlAnswerStore``
    runs it."""

    def write(engine, records, writes, now):
        return in_transaction(
            engine,
            lambda connection: strategy.answers(connection, records, writes, now),
            "store answers",
        )

    return write


_sqlalchemy_path = _path(SQLALCHEMY_WRITES)  # what PostgreSQL runs
_driver_path = _path(SQLITE_DRIVER_WRITES)


def _rows(engine):
    """Every row of the five tables as SQLite holds it: ``quote()`` tells text from number,
    integer from real, NULL from the JSON text null."""
    out = {}
    for table in (
        lookups,
        lookup_results,
        fhir_resources,
        fhir_resource_history,
        fhir_search_index,
        audit_events,
        audit_chain,
    ):
        columns = ", ".join(f"quote({c.name})" for c in table.c)
        order = ", ".join(c.name for c in table.primary_key)
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                f"SELECT {columns} FROM {table.name} ORDER BY {order}"
            )
            out[table.name] = [tuple(row) for row in rows]
    return out


CALLER = Caller(Entry.FHIR, "his-east", "10.0.0.1")


def _audit(report, caller, lookup_id):
    """The audit event of a lookup, as the gateway's Auditor makes it."""
    return draft(lookup_audit_event(report, caller, lookup_id=lookup_id, observer="gw"))


def _write(resource, *, new=False):
    return ResourceWrite(resource, index_entries(resource), new=new)


def _batches():
    """Batches of answers, each as (lookup records, resource writes, now): new resources,
    unchanged, changed, the same resource twice in a batch; lookups with rights and warnings,
    and without (no results at all, no RPPS, a regime asked for, a non-UTC start)."""
    full = _report()
    bare = replace(
        full,
        query=replace(full.query, requester=Requester(finess="750712184"), regime="cnam"),
        results=(),
        warnings=(),
        started_at=datetime(2026, 11, 24, 10, 0, 0, 654321, tzinfo=timezone(timedelta(hours=1))),
        elapsed_ms=3,
    )
    no_rights = replace(full, results=full.results[1:])
    long_nir = patient("p-long", "9" * 300)  # an index value longer than its column: cut
    p2_later = patient("p2", "285057505612345", birth="1990-02-02")
    p2_last = patient("p2", "285057505612345", birth="1990-03-03")
    with_meta = patient("p1", "185057505612345") | {
        "meta": {"profile": ["http://example.org/p"], "versionId": "7", "lastUpdated": "x"}
    }
    return [
        (
            [lookup_record(full, CALLER, _audit), lookup_record(bare, CALLER, _audit)],
            [
                _write(response("r1"), new=True),
                _write(patient("p1", "185057505612345")),
                _write(response("r2", "p2"), new=True),
                _write(patient("p2", "285057505612345")),
                _write(patient("p1", "185057505612345")),  # again in the batch, unchanged
                _write(long_nir),
            ],
            T1,
        ),
        (
            [lookup_record(no_rights, Caller(Entry.HL7, "APP^FAC"), _audit)],
            [
                _write(patient("p1", "185057505612345")),  # unchanged: no write, same version
                _write(p2_later),  # changed
                _write(patient("p3", "385057505612345")),  # new, then changed in the batch:
                _write(patient("p3", "385057505612345", birth="1970-01-01")),  # the later wins
                _write(p2_last),  # changed twice in the batch: the later wins
                _write(response("r3", "p3"), new=True),
            ],
            T2,
        ),
        ([], [_write(with_meta), _write(long_nir)], T3),  # no lookup record; meta is content
        ([lookup_record(bare)], [], T3),  # a lookup record alone
    ]


@pytest.fixture
def two_databases(tmp_path):
    made = []
    for name in ("sqlalchemy", "driver"):
        database = Database(f"sqlite:///{tmp_path / name}.sqlite3")
        database.migrate()
        made.append(database)
    yield made[0].engine, made[1].engine
    for database in made:
        database.dispose()


def test_the_driver_path_writes_and_returns_what_the_sqlalchemy_path_does(two_databases):
    reference, driver = two_databases
    for records, writes, now in _batches():
        expected = _sqlalchemy_path(reference, records, writes, now)
        stored = _driver_path(driver, records, writes, now)
        assert stored == expected
        assert _rows(driver) == _rows(reference)
    rows = _rows(driver)
    assert len(rows["lookups"]) == 4 and len(rows["lookup_results"]) == 3
    assert len(rows["audit_events"]) == 3  # the lookups made with their audit event
    assert rows["lookup_results"][-1][-1] == "NULL"  # no rights: SQL NULL, as SQLAlchemy
    versions = {(r[0], r[1]): r[2] for r in rows["fhir_resources"]}
    assert versions[("'Patient'", "'p1'")] == "2"  # its meta changed
    assert versions[("'Patient'", "'p2'")] == "3"
    assert versions[("'Patient'", "'p3'")] == "2"


def test_what_is_stored_on_the_driver_path_reads_back_as_through_sqlalchemy(two_databases):
    reference, driver = two_databases
    record_ids = []
    for records, writes, now in _batches():
        _sqlalchemy_path(reference, records, writes, now)
        _driver_path(driver, records, writes, now)
        record_ids += [r.lookup_id for r in records]
    fhir = [SqlFhirStore(reference), SqlFhirStore(driver)]
    for key in (("Patient", "p1"), ("Patient", "p2"), ("Patient", "p3"), ("Patient", "p-long")):
        assert fhir[1].read(*key) == fhir[0].read(*key) is not None
    for resource_type, params in (
        ("Patient", {"identifier": "285057505612345"}),
        ("Patient", {"birthdate": "1970-01-01"}),
        ("Patient", {"birthdate": "1990-02-02"}),
        ("CoverageEligibilityResponse", {"patient": "p2"}),
        ("Patient", {}),
    ):
        assert search(fhir[1], resource_type, **params) == search(fhir[0], resource_type, **params)
    assert search(fhir[1], "Patient", birthdate="1990-02-02")[0] == 0  # its old index is gone
    lookup_stores = [SqlLookupStore(reference), SqlLookupStore(driver)]
    for lookup_id in record_ids:
        assert lookup_stores[1].get(lookup_id) == lookup_stores[0].get(lookup_id) is not None
    assert lookup_stores[1].count() == lookup_stores[0].count() == 4


def test_a_value_sqlalchemy_refuses_is_refused_alike_and_stores_nothing(two_databases):
    bad = lookup_record(replace(_report(), elapsed_ms="soon"))
    writes = [_write(response("r1"), new=True)]
    for path, engine in zip((_sqlalchemy_path, _driver_path), two_databases, strict=True):
        with pytest.raises(StorageError, match="could not convert string to float"):
            path(engine, [bad], writes, T1)
        rows = _rows(engine)
        assert rows.pop("audit_chain")[0][1] == "0"  # the head as migrated: nothing appended
        assert rows == {t: [] for t in rows}


def test_driver_errors_become_storage_errors(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # not migrated: no tables
    with pytest.raises(StorageError, match="no such table"):
        _driver_path(database.engine, [lookup_record(_report())], [], T1)
    with pytest.raises(StorageError, match="no such table"):
        _driver_path(database.engine, [], [_write(patient("p1", "185057505612345"))], T1)
    database.dispose()


async def test_a_resource_stored_meanwhile_by_another_process_is_retried_not_lost(
    tmp_path, monkeypatch
):
    """Between the batch's read and its insert another process stores the same resource: the
    insert's conflict is SQLAlchemy's IntegrityError, so ``in_transaction`` runs the batch again,
    which then finds the other's row and stores ours as its next version."""
    database = Database(f"sqlite:///{tmp_path / 'race.sqlite3'}")
    database.migrate()
    other = Database(database.url)  # another gateway process, as far as SQLite can tell
    mine = patient("p-race", "185057505612345", birth="1981-01-01")
    raced: list[bool] = []

    class RacingCursor:
        def __init__(self, cursor):
            self._cursor = cursor

        def executemany(self, statement, parameters):
            if statement.startswith("INSERT INTO fhir_resources") and not raced:
                raced.append(True)
                rival = patient("p-race", "185057505612345")
                SqlFhirStore(other.engine).upsert(rival, index_entries(rival), T1)
            return self._cursor.executemany(statement, parameters)

        def __getattr__(self, name):
            return getattr(self._cursor, name)

    def racing_write(connection, *rest):
        return write_answers_on(RacingCursor(connection.connection.cursor()), *rest)

    writer = SingleWriter()
    fhir = SqlFhirStore(database.engine)
    answers = SqlAnswerStore(database.engine, now=lambda: T2, run=writer.run, write=racing_write)
    try:
        [stored] = await answers.save([_write(mine)], None)
    finally:
        writer.close()
    assert raced and stored.version_id == 2
    read = fhir.read("Patient", "p-race")
    assert read is not None and read.resource["birthDate"] == "1981-01-01"
    assert search(fhir, "Patient", identifier="185057505612345")[0] == 1
    other.dispose()
    database.dispose()


async def test_a_bad_answer_fails_alone_on_the_driver_path(tmp_path):
    """A value the driver path refuses (as SQLAlchemy would) fails its own answer only: the
    batch is written again answer by answer (``GroupCommit``)."""
    database = Database(f"sqlite:///{tmp_path / 'bad.sqlite3'}")
    database.migrate()
    writer = SingleWriter()
    fhir = SqlFhirStore(database.engine)
    answers = SqlAnswerStore(
        database.engine, now=lambda: T1, run=writer.run, write=SQLITE_DRIVER_WRITES.answers
    )
    try:
        outcomes = await asyncio.gather(
            answers.save([_write(response("r1"), new=True)], _report()),
            answers.save([_write(response("r2"), new=True)], replace(_report(), elapsed_ms="x")),
            answers.save([_write(response("r3"), new=True)], _report()),
            return_exceptions=True,
        )
    finally:
        writer.close()
    assert isinstance(outcomes[1], StorageError)
    assert [o[0].resource["id"] for o in (outcomes[0], outcomes[2])] == ["r1", "r3"]  # type: ignore[index]
    assert fhir.read("CoverageEligibilityResponse", "r2") is None
    assert SqlLookupStore(database.engine).count() == 2
    database.dispose()


def test_reading_stored_versions_uses_the_primary_key_not_a_scan(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    database.migrate()
    statement, parameters = _read_versions({"Patient": ["p1"], "Coverage": ["c1", "c2"]})
    with database.engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    database.dispose()
    # The primary key: fhir_resources is clustered by it on SQLite (WITHOUT ROWID).
    assert "SCAN fhir_resources" not in plan and "USING PRIMARY KEY" in plan, plan
