"""Fixtures of the storage tests: each store test runs on SQLite, and on PostgreSQL when
``CDR_TEST_POSTGRES_URL`` is set (a database of its own, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cdr.bootstrap import write_strategy
from cdr.storage import Database, SqlInbox, SqlOutbox

PG_URL = os.environ.get("CDR_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh database, not migrated: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
        yield db
        db.dispose()
        return
    if not PG_URL:
        pytest.skip("CDR_TEST_POSTGRES_URL not set: PostgreSQL storage tests not run")
    name = f"cdr_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    db = Database(sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    yield db
    db.dispose()
    with admin.connect() as connection:
        # FORCE: the backend of a cancelled query may still be on its way out.
        connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


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
