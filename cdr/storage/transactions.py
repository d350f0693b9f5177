"""The one place storage transactions are run and their driver errors become ``StorageError``.

Every store goes through here, whichever way it writes (SQLAlchemy's statements, or the sqlite3
driver's cursor inside a SQLAlchemy transaction): ``in_transaction`` for a write that may meet
a concurrent writer, ``storage_errors`` around anything else. Both tell a busy database
(``StorageBusy``: nothing written, try again) from any other failure by the driver's own error
code, never by the wording of its message.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from rights.errors import StorageBusy, StorageError

__all__ = [
    "WRITE_ATTEMPTS",
    "HeldConnection",
    "in_transaction",
    "is_busy",
    "is_interrupted",
    "storage_error",
    "storage_errors",
]

T = TypeVar("T")

WRITE_ATTEMPTS = 3

# SQLite result codes: another connection holds the lock we need. Extended codes
# (SQLITE_BUSY_SNAPSHOT: a WAL read snapshot gone stale before our write, SQLITE_BUSY_RECOVERY,
# SQLITE_LOCKED_SHAREDCACHE…) carry their primary code in the low byte.
_SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
# PostgreSQL SQLSTATEs (Appendix A): serialization_failure, deadlock_detected (the server rolled
# the transaction back: running it again is the documented answer) and lock_not_available
# (NOWAIT or lock_timeout).
_POSTGRES_BUSY_STATES = frozenset({"40001", "40P01", "55P03"})
_POSTGRES_QUERY_CANCELED = "57014"


def _driver_error(error: BaseException) -> BaseException:
    """The DB-API exception behind ``error``: SQLAlchemy wraps the driver's in ``.orig``; the
    sqlite3 driver path raises the driver's own."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        return error.orig
    return error


def is_busy(error: BaseException) -> bool:
    """Whether the database refused ``error``'s statement for a lock or a conflicting
    transaction, by the driver's error code: sqlite3's ``sqlite_errorcode``, psycopg's
    ``sqlstate``."""
    driver = _driver_error(error)
    code = getattr(driver, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    return getattr(driver, "sqlstate", None) in _POSTGRES_BUSY_STATES


def is_interrupted(error: BaseException) -> bool:
    """Whether ``error``'s statement was stopped on our request: SQLite's SQLITE_INTERRUPT
    (``interrupt()``, or a progress handler that said stop), PostgreSQL's query_canceled
    (57014: a ``statement_timeout`` or a cancel request)."""
    driver = _driver_error(error)
    code = getattr(driver, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == sqlite3.SQLITE_INTERRUPT
    return getattr(driver, "sqlstate", None) == _POSTGRES_QUERY_CANCELED


def _is_conflict(error: BaseException) -> bool:
    """A concurrent writer got there first: a duplicate key, or a lock or snapshot conflict."""
    return isinstance(error, IntegrityError | sqlite3.IntegrityError) or is_busy(error)


def storage_error(doing: str, error: BaseException) -> StorageError:
    """``error`` as the one error tree has it: ``StorageBusy`` when the database refused for a
    lock another connection held (nothing written; the write may be tried again)."""
    kind = StorageBusy if is_busy(error) else StorageError
    return kind(f"cannot {doing}: {error}")


@contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Driver errors raised inside become ``StorageError`` (503 at the FHIR edge, not 500; a
    loop of the HL7 listener logs them instead of dying)."""
    try:
        yield
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise storage_error(doing, exc) from exc


class HeldConnection:
    """One connection of ``engine`` kept open by its owner, for the hot writes made on one
    thread (the HL7 intake's commits on the event loop): each transaction skips the pool's
    check-out and check-in, and the rollback the pool makes at every check-in (measured: a
    third of the intake's commit time outside the driver). Not for sharing between threads."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """Like ``Engine.begin``: a transaction committed on leaving, rolled back on an error."""
        if self._connection is None or self._connection.closed:
            self._connection = self._engine.connect()
        connection = self._connection
        with connection.begin():
            yield connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def in_transaction(
    engine: Engine | HeldConnection,
    work: Callable[[Connection], T],
    doing: str,
    *,
    attempts: int = WRITE_ATTEMPTS,
) -> T:
    """``work`` in one transaction, committed before this returns.

    Another process (`cdr serve --workers N`, or a second gateway on PostgreSQL) may store the
    same new row between our read and our insert: a duplicate key, or (SQLite WAL) a stale
    snapshot. The transaction is then run again from its reads, which now see the other
    writer's row, up to ``attempts`` times in all. ``work`` may use SQLAlchemy's statements or
    the driver's cursor of the same connection (``connection.connection.cursor()``).
    """
    for attempt in range(attempts):
        try:
            with engine.begin() as connection:
                return work(connection)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            if attempt + 1 == attempts or not _is_conflict(exc):
                raise storage_error(doing, exc) from exc
    raise AssertionError("unreachable")  # the loop returns or raises
