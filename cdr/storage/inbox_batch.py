"""Which messages of an inbox batch are new, and what each one's outcome is.

Shared by the two ways a batch is written (SQLAlchemy for PostgreSQL, the sqlite3 driver for
SQLite): a message is a duplicate when its (sender, control id) is already stored or appears
earlier in the same batch; duplicates get the first copy's ACK.
"""

from __future__ import annotations

from typing import Any

from hl7_listener.ports import StoreOutcome

__all__ = ["Key", "batch_outcomes", "new_rows"]

Key = tuple[str, str]
Row = dict[str, Any]


def _key(row: Row) -> Key:
    return (row["sender_key"], row["control_id"])


def new_rows(rows: list[Row], stored: dict[Key, bytes]) -> list[Row]:
    """The rows to insert: the first copy of each key not stored yet, in batch order."""
    seen: set[Key] = set()
    fresh: list[Row] = []
    for row in rows:
        key = _key(row)
        if key not in stored and key not in seen:
            seen.add(key)
            fresh.append(row)
    return fresh


def batch_outcomes(
    rows: list[Row], stored: dict[Key, bytes], inserted: dict[Key, int]
) -> list[StoreOutcome]:
    """One outcome per row: its new id, or the ACK of the copy stored before or earlier in the
    batch (``inserted`` maps each inserted key to its id)."""
    first_ack: dict[Key, bytes] = {}
    outcomes: list[StoreOutcome] = []
    for row in rows:
        key = _key(row)
        if key in stored:
            outcomes.append(StoreOutcome(None, stored[key]))
        elif key not in first_ack:
            first_ack[key] = row["ack"]
            outcomes.append(StoreOutcome(inserted[key]))
        else:  # a later copy of a message first seen in this batch
            outcomes.append(StoreOutcome(None, first_ack[key]))
    return outcomes
