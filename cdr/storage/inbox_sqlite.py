"""The inbox's hot write on SQLite, on the driver itself.

The MLLP intake commits every batch before its ACKs leave. Through SQLAlchemy's statement
machinery (parameter processing, result wrapping) a batch of 16 spent about half its time in
Python; the driver's own ``execute`` does the same work in C. Same table, same rows, and the
same outcomes (``inbox_batch``) as ``inbox.store_batch``; PostgreSQL keeps the SQLAlchemy path.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from cdr.storage.driver_sql import sqlite_statement
from cdr.storage.inbox_batch import Key, batch_outcomes, new_rows
from cdr.storage.sqlite_values import sqlite_datetime
from cdr.storage.write_statements import INBOX_INSERT, INBOX_STORED
from hl7_listener.ports import StoreOutcome

__all__ = ["store_batch_sqlite"]

_COLUMNS = (
    "sender_key",
    "control_id",
    "received_at",
    "message_type",
    "patient_key",
    "charset",
    "raw",
    "ack",
    "status",
    "lookup_id",
    "error",
    "processed_at",
)
_STORED = sqlite_statement(INBOX_STORED)
_INSERT = sqlite_statement(INBOX_INSERT, column_keys=_COLUMNS)


def store_batch_sqlite(connection: Connection, rows: list[dict[str, Any]]) -> list[StoreOutcome]:
    """The ``InboxWrite`` of the sqlite3 driver: ``rows`` as ``inbox._inbox_row`` makes
    them, within the caller's transaction."""
    cursor = connection.connection.cursor()  # the driver's, in this same transaction
    try:
        return store_batch_on(cursor, rows)
    finally:
        cursor.close()


def store_batch_on(cursor: Any, rows: list[dict[str, Any]]) -> list[StoreOutcome]:
    """``store_batch_sqlite`` on ``cursor``."""
    keys = {
        "senders": list({r["sender_key"] for r in rows}),
        "controls": list({r["control_id"] for r in rows}),
    }
    cursor.execute(*_STORED.expanded(keys))
    stored: dict[Key, bytes] = {(s, c): bytes(a) for s, c, a in cursor.fetchall()}
    inserted: dict[Key, int] = {}
    for row in new_rows(rows, stored):
        # received_at is the one column of the row that needs converting (processed_at is
        # None in a new row).
        cursor.execute(_INSERT.sql, row | {"received_at": sqlite_datetime(row["received_at"])})
        inbox_id, sender_key, control_id = cursor.fetchone()
        inserted[(sender_key, control_id)] = int(inbox_id)
    return batch_outcomes(rows, stored, inserted)
