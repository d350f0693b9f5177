"""Write transactions that survive a concurrent writer, and the one place their driver errors
become ``StorageError``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from rights.errors import StorageBusy, StorageError

__all__ = ["WRITE_ATTEMPTS", "in_transaction", "storage_error"]

T = TypeVar("T")

WRITE_ATTEMPTS = 3


def in_transaction(engine: Engine, work: Callable[[Connection], T], doing: str) -> T:
    """``work`` in one transaction, committed before this returns.

    Another process (`cdr serve --workers N`, or a second gateway on PostgreSQL) may store the
    same new resource between our read and our insert: a duplicate key (PostgreSQL) or a stale
    snapshot (SQLite WAL). The transaction is then run again from its reads, which now see the
    other writer's row, a bounded number of times.
    """
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with engine.begin() as connection:
                return work(connection)
        except (IntegrityError, OperationalError) as exc:
            if attempt + 1 == WRITE_ATTEMPTS:
                raise storage_error(doing, exc) from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot {doing}: {exc}") from exc
    raise AssertionError("unreachable")  # the loop returns or raises


def storage_error(doing: str, error: Exception) -> StorageError:
    """``error`` of a write as the one error tree has it: ``StorageBusy`` when SQLite refused
    for a lock another connection held (nothing written; the write may be tried again)."""
    kind = StorageBusy if "database is locked" in str(error) else StorageError
    return kind(f"cannot {doing}: {error}")
