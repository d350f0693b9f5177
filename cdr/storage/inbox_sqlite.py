"""The inbox's hot write on SQLite, on the driver itself.

The MLLP intake commits every batch before its ACKs leave. Through SQLAlchemy's statement
machinery (parameter processing, result wrapping) a batch of 16 spent about half its time in
Python; the driver's own ``execute`` does the same work in C. Same table, same rows, same
outcomes as ``inbox._store_batch``; PostgreSQL keeps the SQLAlchemy path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
_INSERT = (
    f"INSERT INTO hl7_inbox ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}) RETURNING id"
)


def _sqlite_datetime(value: datetime) -> str:
    # The text SQLAlchemy's SQLite DATETIME writes and reads back (UTC, offset dropped).
    return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond:06d}"


def store_batch_sqlite(cursor: Any, rows: list[dict[str, Any]]) -> list[StoreOutcome]:
    """``rows`` as ``inbox._inbox_row`` makes them; the caller commits or rolls back."""
    senders = list({r["sender_key"] for r in rows})
    controls = list({r["control_id"] for r in rows})
    cursor.execute(
        "SELECT sender_key, control_id, ack FROM hl7_inbox "
        f"WHERE sender_key IN ({', '.join('?' * len(senders))}) "
        f"AND control_id IN ({', '.join('?' * len(controls))})",
        [*senders, *controls],
    )
    stored: dict[tuple[str, str], bytes] = {(s, c): bytes(a) for s, c, a in cursor.fetchall()}
    first_in_batch: dict[tuple[str, str], bytes] = {}
    outcomes: list[StoreOutcome] = []
    for row in rows:
        key = (row["sender_key"], row["control_id"])
        if key in stored:
            outcomes.append(StoreOutcome(None, stored[key]))
        elif key in first_in_batch:  # a later copy of a message first seen in this batch
            outcomes.append(StoreOutcome(None, first_in_batch[key]))
        else:
            first_in_batch[key] = row["ack"]
            values = [row[c] for c in _COLUMNS]
            values[2] = _sqlite_datetime(row["received_at"])
            cursor.execute(_INSERT, values)
            (inbox_id,) = cursor.fetchone()
            outcomes.append(StoreOutcome(int(inbox_id)))
    return outcomes
