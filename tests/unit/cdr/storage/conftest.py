"""Fixtures of the storage tests: each store test runs on SQLite, and on PostgreSQL when
``CDR_TEST_POSTGRES_URL`` is set (a database of its own, dropped afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cdr.bootstrap import write_strategy
from cdr.storage import Database, SqlInbox, SqlOutbox
from tests.postgres import scratch_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database, not migrated: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
        yield db
        db.dispose()
        return
    with scratch_database("PostgreSQL storage tests") as url:
        db = Database(url)
        yield db
        db.dispose()


@pytest.fixture
def migrated(database: Database) -> Database:
    """``database`` with the schema at its latest revision."""
    database.migrate()
    return database


@pytest.fixture
def inbox(migrated: Database) -> SqlInbox:
    """Writing its batches as the gateway does on this database (``write_strategy``)."""
    return SqlInbox(migrated.engine, store=write_strategy(migrated).inbox)


@pytest.fixture
def outbox(migrated: Database) -> SqlOutbox:
    return SqlOutbox(migrated.engine)
