"""``Database``: migrations and the SQLite connection settings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import command

from cdr.storage import Database, SqlLookupStore
from cdr.storage.database import _alembic_config
from cdr.storage.fhir_store import SqlFhirStore
from fhir_server.search_params import index_entries
from tests.unit.cdr.storage.test_fhir_store import search


def test_migrations_are_idempotent(database):
    database.migrate()
    database.migrate()
    assert database.ping()
    names = set(sa.inspect(database.engine).get_table_names())
    assert {"lookups", "lookup_results", "alembic_version"} <= names


def test_sqlite_runs_in_wal_mode(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'sub' / 'cdr.sqlite3'}")
    db.migrate()
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "sub" / "cdr.sqlite3").exists()
    db.dispose()


def test_rows_stored_before_packing_read_back_the_same_after_the_upgrade(database):
    """Resources, index rows and rights written by revision 0005 (JSON text, full type names
    in the index) read back unchanged through the stores after migrations 0006 and 0007."""
    config = _alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    patient = {
        "resourceType": "Patient",
        "id": "p-old",
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "185057505612345"}],
        "birthDate": "1985-05-05",
    }
    rights = {"amo": [{"period": {"start": "2024-01-01", "end": None}}], "name": "Lefèvre"}
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    with database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO fhir_resources (resource_type, id, version_id, last_updated, content) "
                "VALUES ('Patient', 'p-old', 3, :at, :content)"
            ),
            # As the store wrote it: compact, keys sorted.
            {"at": at, "content": json.dumps(patient, sort_keys=True, separators=(",", ":"))},
        )
        connection.execute(
            sa.text(
                "INSERT INTO fhir_search_index (resource_type, resource_id, param, system, value) "
                "VALUES ('Patient', 'p-old', 'identifier', 'urn:oid:1.2.250.1.213.1.4.8', "
                "'185057505612345')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO lookups (id, created_at, requester_finess, nir, nir_kind, rang, "
                "date_of_care, mode, outcome, in_force, elapsed_ms, warnings) VALUES ('l-old', "
                ":at, '750712184', '185057505612345', 'nir', 1, :day, 'validation', 'complete', "
                "true, 1.5, '[]')"
            ),
            {"at": at, "day": date(2026, 11, 24)},
        )
        connection.execute(
            sa.text(
                "INSERT INTO lookup_results (lookup_id, regime, status, in_force, reason, "
                "attempts, elapsed_ms, from_cache, detail, rights) VALUES ('l-old', 'cnam', "
                "'found', true, 'in-force', 1, 1.0, false, '', :rights)"
            ),
            {"rights": json.dumps(rights, ensure_ascii=False)},
        )
    database.migrate()
    store = SqlFhirStore(database.engine)
    read = store.read("Patient", "p-old")
    assert read is not None and read.version_id == 3
    assert {k: v for k, v in read.resource.items() if k != "meta"} == patient
    total, found = search(store, "Patient", identifier="185057505612345")
    assert total == 1 and found[0].resource["id"] == "p-old"
    stored = SqlLookupStore(database.engine).get("l-old")
    assert stored is not None and stored["results"][0]["rights"] == rights
    # Written again unchanged: no new version (the stored text compares equal to the new).
    assert store.upsert(patient, index_entries(patient), at).version_id == 3
