"""``in_transaction`` and ``storage_errors``: busy databases told apart by the driver's error
code (sqlite3's ``sqlite_errorcode``, PostgreSQL's SQLSTATE), conflicts retried, the rest
translated once."""

from __future__ import annotations

import sqlite3

import psycopg.errors
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from cdr.storage import Database
from cdr.storage.tables import lookups
from cdr.storage.transactions import (
    HeldConnection,
    in_transaction,
    is_busy,
    is_interrupted,
    storage_error,
    storage_errors,
)
from rights.errors import StorageBusy, StorageError


def _sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


def _wrapped(driver_error: Exception) -> OperationalError:
    """As SQLAlchemy raises a driver's error from a statement."""
    return OperationalError("UPDATE t SET x = 1", {}, driver_error)


@pytest.mark.parametrize(
    ("error", "busy"),
    [
        (_sqlite_error("database is locked", sqlite3.SQLITE_BUSY), True),
        (_sqlite_error("database table is locked", sqlite3.SQLITE_LOCKED), True),
        # SQLITE_BUSY_SNAPSHOT: an extended code, whatever its message says.
        (_sqlite_error("a wording of another SQLite version", 517), True),
        # The words alone do not make it busy: a disk error that happens to quote them.
        (_sqlite_error("disk I/O error: database is locked?", sqlite3.SQLITE_IOERR), False),
        (_sqlite_error("no such table: lookups", sqlite3.SQLITE_ERROR), False),
        (psycopg.errors.lookup("40001")("could not serialize access"), True),
        (psycopg.errors.lookup("40P01")("deadlock detected"), True),
        (psycopg.errors.lookup("55P03")("could not obtain lock on row"), True),
        (psycopg.errors.lookup("23505")("duplicate key value"), False),
        (psycopg.errors.lookup("57014")("canceling statement due to statement timeout"), False),
        (ValueError("database is locked"), False),
    ],
    ids=lambda v: getattr(v, "sqlite_errorcode", None) or getattr(v, "sqlstate", None) or v,
)
def test_busy_is_the_drivers_error_code_not_its_message(error, busy):
    assert is_busy(error) is busy
    assert is_busy(_wrapped(error)) is busy
    expected = StorageBusy if busy else StorageError
    assert type(storage_error("store", error)) is expected
    with pytest.raises(expected), storage_errors("store"):
        raise _wrapped(error)


def _migrated_sqlite(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'busy.sqlite3'}")
    database.migrate()
    return database


def test_a_sqlite_write_lock_held_elsewhere_is_storage_busy(tmp_path):
    database = _migrated_sqlite(tmp_path)
    quick = database.no_wait_engine()  # never waits for the lock
    assert quick is not None
    holder = sqlite3.connect(tmp_path / "busy.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    calls: list[int] = []

    def work(connection):
        calls.append(1)
        connection.execute(sa.delete(lookups))

    try:
        with pytest.raises(StorageBusy, match="cannot clear lookups"):
            in_transaction(quick, work, "clear lookups")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        quick.dispose()
        database.dispose()
    assert len(calls) == 3  # a conflict: tried again, then given up as busy


def test_an_error_that_is_no_conflict_is_not_tried_again(tmp_path):
    database = _migrated_sqlite(tmp_path)
    calls: list[int] = []

    def work(connection):
        calls.append(1)
        connection.exec_driver_sql("SELECT * FROM no_such_table")

    try:
        with pytest.raises(StorageError, match="no such table") as raised:
            in_transaction(database.engine, work, "read")
    finally:
        database.dispose()
    assert type(raised.value) is StorageError and calls == [1]


def test_driver_errors_of_the_sqlite3_path_are_translated_too(tmp_path):
    database = _migrated_sqlite(tmp_path)

    def work(connection):
        cursor = connection.connection.cursor()
        cursor.execute("INSERT INTO no_such_table VALUES (1)")

    try:
        with pytest.raises(StorageError, match="no such table"):
            in_transaction(database.engine, work, "insert")
    finally:
        database.dispose()


def test_a_held_connection_runs_every_transaction_on_one_connection(tmp_path):
    database = _migrated_sqlite(tmp_path)
    held = HeldConnection(database.engine)
    seen: list[object] = []

    def insert(connection):
        seen.append(connection.connection.driver_connection)
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (id integer PRIMARY KEY)")
        connection.exec_driver_sql(f"INSERT INTO probe VALUES ({len(seen)})")

    def fail(connection):
        connection.exec_driver_sql("INSERT INTO probe VALUES (100)")
        connection.exec_driver_sql("SELECT * FROM no_such_table")

    try:
        in_transaction(held, insert, "insert")
        with pytest.raises(StorageError, match="no such table"):
            in_transaction(held, fail, "insert then fail")  # rolled back as a whole
        in_transaction(held, insert, "insert")
        assert database.engine.pool.checkedout() == 1  # kept, never given back between
        with database.engine.connect() as reader:
            ids = reader.exec_driver_sql("SELECT id FROM probe ORDER BY id").scalars().all()
        assert ids == [1, 2]  # committed, and the failed transaction left nothing
        assert seen[0] is seen[1]
    finally:
        held.close()
        assert database.engine.pool.checkedout() == 0
        database.dispose()


def test_a_held_connection_on_a_locked_database_is_busy_and_goes_on_after(tmp_path):
    database = _migrated_sqlite(tmp_path)
    quick = database.no_wait_engine()
    assert quick is not None
    held = HeldConnection(quick)
    holder = sqlite3.connect(tmp_path / "busy.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageBusy):
            in_transaction(held, lambda c: c.execute(sa.delete(lookups)), "clear lookups")
        holder.execute("ROLLBACK")
        in_transaction(held, lambda c: c.execute(sa.delete(lookups)), "clear lookups")
    finally:
        holder.close()
        held.close()
        quick.dispose()
        database.dispose()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)  # PostgreSQL's NOWAIT lock
def test_a_postgresql_row_lock_held_elsewhere_is_storage_busy(database):
    database.migrate()
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE busy_probe (id integer PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO busy_probe VALUES (1)")
    holder = database.engine.connect()
    holder.begin()
    holder.exec_driver_sql("SELECT id FROM busy_probe WHERE id = 1 FOR UPDATE")
    try:
        with pytest.raises(StorageBusy, match="lock"):
            in_transaction(
                database.engine,
                lambda c: c.exec_driver_sql(
                    "SELECT id FROM busy_probe WHERE id = 1 FOR UPDATE NOWAIT"
                ).all(),
                "lock the probe",
            )
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize(
    ("error", "interrupted"),
    [
        (_sqlite_error("interrupted", sqlite3.SQLITE_INTERRUPT), True),
        (_sqlite_error("another wording", sqlite3.SQLITE_INTERRUPT), True),
        (_sqlite_error("interrupted", sqlite3.SQLITE_BUSY), False),
        (psycopg.errors.lookup("57014")("canceling statement due to statement timeout"), True),
        (psycopg.errors.lookup("40001")("could not serialize access"), False),
    ],
    ids=lambda v: getattr(v, "sqlite_errorcode", None) or getattr(v, "sqlstate", None) or v,
)
def test_a_statement_stopped_on_request_is_told_by_its_code(error, interrupted):
    assert is_interrupted(error) is interrupted
    assert is_interrupted(_wrapped(error)) is interrupted
