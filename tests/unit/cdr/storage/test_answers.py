"""`$submit` answers: resources and lookup record in one transaction, concurrent answers in one
commit, and a bad answer failing alone."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from cdr.bootstrap import write_strategy
from cdr.storage import SqlLookupStore
from cdr.storage.answers import SqlAnswerStore
from cdr.storage.database import Database
from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.writer import SingleWriter
from fhir_server.search_params import index_entries
from fhir_server.store import ResourceWrite
from rights.errors import StorageError
from tests.unit.cdr.storage.test_fhir_store import patient, search
from tests.unit.cdr.storage.test_lookups import _report

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def stores(database):
    database.migrate()
    writer = SingleWriter()
    fhir = SqlFhirStore(database.engine)
    answers = SqlAnswerStore(
        database.engine, now=lambda: T0, run=writer.run, write=write_strategy(database).answers
    )
    yield answers, fhir, SqlLookupStore(database.engine), database.engine
    writer.close()


def response(response_id: str, patient_id: str = "p1") -> dict[str, object]:
    return {
        "resourceType": "CoverageEligibilityResponse",
        "id": response_id,
        "status": "active",
        "patient": {"reference": f"Patient/{patient_id}"},
        "created": "2026-11-24T10:00:00+01:00",
        "outcome": "complete",
    }


def writes(response_id: str, nir: str = "185057505612345") -> list[ResourceWrite]:
    cersp, person = response(response_id), patient("p1", nir)
    return [
        ResourceWrite(cersp, index_entries(cersp), new=True),
        ResourceWrite(person, index_entries(person)),
    ]


async def test_an_answer_and_its_lookup_record_are_stored_together(stores):
    answers, fhir, lookups, _ = stores
    stored = await answers.save(writes("r1"), _report())
    assert [s.resource["resourceType"] for s in stored] == [
        "CoverageEligibilityResponse",
        "Patient",
    ]
    assert [s.resource["meta"]["versionId"] for s in stored] == ["1", "1"]
    assert stored[0].resource["meta"]["lastUpdated"] == "2026-11-24T09:00:00Z"
    assert fhir.read("CoverageEligibilityResponse", "r1") is not None
    assert lookups.count() == 1
    again = await answers.save(writes("r2"), None)  # the same Patient: no new version
    assert [s.version_id for s in again] == [1, 1]
    assert lookups.count() == 1
    assert search(fhir, "CoverageEligibilityResponse", patient="p1")[0] == 2


async def test_concurrent_answers_share_commits(stores):
    answers, fhir, lookups, engine = stores
    commits: list[object] = []
    event.listen(engine, "commit", commits.append)
    stored = await asyncio.gather(*(answers.save(writes(f"r{i}"), _report()) for i in range(8)))
    assert [s[0].resource["id"] for s in stored] == [f"r{i}" for i in range(8)]
    assert lookups.count() == 8
    assert search(fhir, "CoverageEligibilityResponse", patient="p1")[0] == 8
    assert len(commits) < 8  # the first answer alone, the seven that waited behind it together


async def test_a_bad_answer_fails_alone_and_takes_its_lookup_record_with_it(stores):
    answers, fhir, lookups, _ = stores
    await answers.save(writes("taken"), None)
    outcomes = await asyncio.gather(
        answers.save(writes("r1"), _report()),
        answers.save(writes("taken"), _report()),  # "new" yet stored: its insert fails
        answers.save(writes("r2"), _report()),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], StorageError)
    assert [o[0].resource["id"] for o in (outcomes[0], outcomes[2])] == ["r1", "r2"]  # type: ignore[index]
    assert lookups.count() == 2  # not the failed answer's: one transaction, all or nothing
    assert fhir.read("CoverageEligibilityResponse", "r2") is not None


async def test_sqlite_answers_are_written_on_the_driver_postgresql_ones_through_sqlalchemy(stores):
    """On SQLite no statement of a save goes through SQLAlchemy's execution (whose listeners
    see every one): it runs on the sqlite3 driver (``answers_sqlite``)."""
    answers, fhir, lookups, engine = stores
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_rest):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        await answers.save(writes("r1"), _report())
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert lookups.count() == 1 and fhir.read("Patient", "p1") is not None
    if engine.dialect.name == "sqlite":
        assert statements == []
    else:
        assert any(s.startswith("INSERT INTO lookups") for s in statements)


async def test_sqlite_answers_commit_on_the_loop_and_wait_for_a_lock_on_the_writer(tmp_path):
    """With a no-wait engine, an answer is committed on the event loop (no writer hand-off);
    while another connection holds SQLite's write lock it goes to the writer thread, which
    waits for the lock, and the event loop stays free meanwhile."""
    sqlite_db = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    sqlite_db.migrate()
    writer = SingleWriter()
    handed: list[object] = []

    async def counted(fn, *args):
        handed.append(fn)
        return await writer.run(fn, *args)

    fhir = SqlFhirStore(sqlite_db.engine)
    answers = SqlAnswerStore(
        sqlite_db.engine,
        now=lambda: T0,
        run=counted,
        write=write_strategy(sqlite_db).answers,
        quick_engine=sqlite_db.shared_no_wait_engine(),
    )
    try:
        await answers.save(writes("on-loop"), _report())
        assert handed == []  # written on the loop
        holder = sqlite3.connect(tmp_path / "cdr.sqlite3", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            saving = asyncio.create_task(answers.save(writes("locked"), _report()))
            await asyncio.sleep(0.3)  # the loop runs: the save is not blocking it
            assert not saving.done(), "stored while another connection held the lock"
        finally:
            holder.execute("COMMIT")
            holder.close()
        stored = await asyncio.wait_for(saving, 10)
        assert stored[0].resource["id"] == "locked"
        assert len(handed) == 1  # the writer thread took it
        assert fhir.read("CoverageEligibilityResponse", "locked") is not None
        assert SqlLookupStore(sqlite_db.engine).count() == 2
    finally:
        writer.close()
        sqlite_db.dispose()
