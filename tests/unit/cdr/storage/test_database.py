"""``Database``: migrations and the SQLite connection settings."""

from __future__ import annotations

import sqlalchemy as sa

from cdr.storage import Database


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
