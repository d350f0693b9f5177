from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from cdr.storage import Database
from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.transactions import in_transaction
from cdr.storage.write_statements import read_versions
from fhir_server.search import parse_search
from fhir_server.search_params import index_entries
from fhir_server.store import ResourceWrite
from rights.errors import StorageError

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NIR = "urn:oid:1.2.250.1.213.1.4.8"


@pytest.fixture
def store(database):
    database.migrate()
    return SqlFhirStore(database.engine)


def put(store, resource, at=T0):
    return store.upsert(resource, index_entries(resource), at)


def patient(pid, nir, birth="1980-01-02"):
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": NIR, "value": nir}],
        "birthDate": birth,
    }


def test_versions_only_change_when_the_content_does(store):
    first = put(store, patient("p1", "185057505612345"))
    same = put(store, patient("p1", "185057505612345"), T0 + timedelta(hours=1))
    changed = put(store, patient("p1", "185057505612399"), T0 + timedelta(hours=2))
    assert (first.version_id, same.version_id, changed.version_id) == (1, 1, 2)
    read = store.read("Patient", "p1")
    assert read is not None
    assert read.resource["meta"]["versionId"] == "2"
    assert read.resource["identifier"][0]["value"] == "185057505612399"
    assert read.last_updated == T0 + timedelta(hours=2)
    assert store.read("Patient", "nope") is None


def test_driver_errors_become_storage_errors(database):
    unmigrated = SqlFhirStore(database.engine)  # no tables: every statement fails
    with pytest.raises(StorageError):
        put(unmigrated, patient("p1", "185057505612345"))
    with pytest.raises(StorageError):
        unmigrated.read("Patient", "p1")
    with pytest.raises(StorageError):
        search(unmigrated, "Patient", identifier="185057505612345")


def search(store, resource_type, **params):
    """(total, resources), counted exactly."""
    criteria, count, offset = parse_search(resource_type, list(params.items()))
    page = store.search(resource_type, criteria, count=count, offset=offset, total="accurate")
    return page.total, page.resources


def test_token_search_with_and_without_system(store):
    put(store, patient("p1", "185057505612345"))
    put(store, patient("p2", "285057505612345"))
    assert search(store, "Patient", identifier=f"{NIR}|185057505612345")[0] == 1
    assert search(store, "Patient", identifier="285057505612345")[0] == 1
    assert search(store, "Patient", identifier="other|285057505612345")[0] == 0
    assert search(store, "Patient", identifier="185057505612345,285057505612345")[0] == 2


def test_reference_and_date_search(store):
    for i, hour in enumerate((8, 10, 12)):
        put(
            store,
            {
                "resourceType": "CoverageEligibilityResponse",
                "id": f"r{i}",
                "status": "active",
                "patient": {"reference": "Patient/p1" if i < 2 else "Patient/p2"},
                "request": {"reference": f"CoverageEligibilityRequest/q{i}"},
                "created": f"2026-11-24T{hour:02d}:00:00+01:00",
                "outcome": "complete",
            },
        )
    assert search(store, "CoverageEligibilityResponse", patient="p1")[0] == 2
    assert search(store, "CoverageEligibilityResponse", patient="Patient/p2")[0] == 1
    assert search(store, "CoverageEligibilityResponse", request="q0")[0] == 1
    assert search(store, "CoverageEligibilityResponse", created="ge2026-11-24T09:00:00Z")[0] == 2
    assert search(store, "CoverageEligibilityResponse", created="2026-11-24")[0] == 3
    assert search(store, "CoverageEligibilityResponse", created="lt2026-11-24")[0] == 0
    assert search(store, "CoverageEligibilityResponse", created="gt2026-11-24")[0] == 0
    assert search(store, "CoverageEligibilityResponse", created="le2026-11-24")[0] == 3
    assert search(store, "CoverageEligibilityResponse", created="gt2026-11-24T09:00:00Z")[0] == 1
    total, page = search(store, "CoverageEligibilityResponse", _count="2")
    assert total == 3 and len(page) == 2


def test_a_concurrent_insert_of_the_same_resource_is_retried_not_lost(database):
    """Another writer stores the same new resource between our read and our insert, once."""
    database.migrate()
    store = SqlFhirStore(database.engine)
    other = Database(database.url)  # another gateway process, as far as the database can tell
    raced: list[bool] = []

    def rival_first(_conn, _cursor, statement, *_rest):
        if statement.startswith("INSERT INTO fhir_resources") and not raced:
            raced.append(True)
            rival = patient("p-race", "185057505612345")
            SqlFhirStore(other.engine).upsert(rival, index_entries(rival), T0)

    mine = patient("p-race", "185057505612345", birth="1981-01-01")
    sa.event.listen(database.engine, "before_cursor_execute", rival_first)
    try:
        stored = store.upsert(mine, index_entries(mine), T0 + timedelta(minutes=1))
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", rival_first)
        other.dispose()
    assert raced
    # The retry read the rival's row and stored ours as its next version.
    assert stored.version_id == 2
    read = store.read("Patient", "p-race")
    assert read is not None and read.resource["birthDate"] == "1981-01-01"
    assert search(store, "Patient", identifier="185057505612345")[0] == 1


def test_a_batch_reads_once_and_keeps_the_last_of_a_repeated_resource(store):
    first = patient("p-batch", "185057505612345", birth="1970-01-01")
    again = patient("p-batch", "185057505612345", birth="1971-01-01")
    other = patient("p-other", "285057505612345")
    stored = store.upsert_many(
        [
            (first, index_entries(first)),
            (other, index_entries(other)),
            (again, index_entries(again)),
        ],
        T0,
    )
    assert [s.version_id for s in stored] == [1, 1, 2]
    read = store.read("Patient", "p-batch")
    assert read is not None and read.resource["birthDate"] == "1971-01-01"
    assert search(store, "Patient", birthdate="1971-01-01")[0] == 1
    assert search(store, "Patient", birthdate="1970-01-01")[0] == 0


def test_search_by_id_uses_the_resources_own_key(store):
    put(store, patient("p1", "185057505612345"))
    put(store, patient("p2", "285057505612345"))
    assert search(store, "Patient", _id="p1")[0] == 1
    assert search(store, "Patient", _id="p1,p2")[0] == 2
    assert search(store, "Patient", _id="|p2")[0] == 1
    assert search(store, "Patient", _id="other|p2")[0] == 0
    assert search(store, "Patient", _id="|")[0] == 2
    assert search(store, "Patient", _id="nope")[0] == 0
    assert search(store, "Organization", _id="p1")[0] == 0


def test_a_write_marked_new_is_inserted_without_a_read(store):
    """A fresh id has nothing stored to compare with; were it stored, the insert fails."""
    mine = patient("p-new", "185057505612345")
    with store._engine.begin() as connection:
        [written] = store.write(
            connection, [ResourceWrite(mine, index_entries(mine), new=True)], T0
        )
    assert written.version_id == 1 and written.resource["meta"]["versionId"] == "1"
    with pytest.raises(StorageError):
        in_transaction(
            store._engine,
            lambda c: store.write(c, [ResourceWrite(mine, index_entries(mine), new=True)], T0),
            "store",
        )


def test_what_a_write_returns_is_what_a_read_returns(store):
    mine = patient("p-same", "185057505612345")
    mine["meta"] = {"profile": ["http://example.org/p"], "versionId": "9"}
    written = put(store, mine)
    read = store.read("Patient", "p-same")
    assert read is not None and written.resource == read.resource
    assert written.resource["meta"] == {
        "profile": ["http://example.org/p"],
        "versionId": "1",
        "lastUpdated": "2026-11-24T09:00:00Z",
    }
    assert "versionId" in mine["meta"] and mine["meta"]["versionId"] == "9"  # caller's untouched


def test_reading_stored_versions_uses_the_primary_key_not_a_scan(tmp_path):
    """SQLite runs ``(type, id) IN (...)`` as a scan of every resource: the read is written as
    one ``type = ? AND id IN (...)`` per type instead."""
    db = Database(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    db.migrate()
    statement = read_versions(("Patient", "Coverage")).params(ids_0=["p1"], ids_1=["c1", "c2"])
    sql = str(
        statement.compile(
            db.engine, compile_kwargs={"literal_binds": True, "render_postcompile": True}
        )
    )
    with db.engine.connect() as connection:
        plan = " ".join(
            str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
        )
    db.dispose()
    # The primary key: fhir_resources is clustered by it on SQLite (WITHOUT ROWID).
    assert "SCAN fhir_resources" not in plan and "USING PRIMARY KEY" in plan, plan


def test_a_change_keeps_the_version_it_replaces(store):
    put(store, patient("p1", "185057505612345"))
    put(store, patient("p1", "185057505612345"), T0 + timedelta(hours=1))  # unchanged
    put(store, patient("p1", "185057505612399"), T0 + timedelta(hours=2))
    put(store, patient("p1", "185057505612300"), T0 + timedelta(hours=3))
    versions = store.versions("Patient", "p1")
    assert [v.version_id for v in versions] == [3, 2, 1]
    assert [v.resource["identifier"][0]["value"] for v in versions] == [
        "185057505612300",
        "185057505612399",
        "185057505612345",
    ]
    assert [v.last_updated for v in versions] == [T0 + timedelta(hours=h) for h in (3, 2, 0)]
    first = store.read_version("Patient", "p1", 1)
    assert first is not None and first.resource["meta"]["versionId"] == "1"
    assert first.resource["identifier"][0]["value"] == "185057505612345"
    current = store.read_version("Patient", "p1", 3)
    assert current is not None and current.resource == store.read("Patient", "p1").resource
    assert store.read_version("Patient", "p1", 4) is None
    assert store.read_version("Patient", "nope", 1) is None
    assert store.versions("Patient", "nope") == []


def test_an_unchanged_write_adds_no_history(store, database):
    for hour in range(3):
        put(store, patient("p2", "185057505612345"), T0 + timedelta(hours=hour))
    with database.engine.connect() as connection:
        kept = connection.execute(sa.text("SELECT count(*) FROM fhir_resource_history")).scalar()
    assert kept == 0
    assert [v.version_id for v in store.versions("Patient", "p2")] == [1]
