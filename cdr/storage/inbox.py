"""``InboxStore`` on SQL: the durable HL7 inbox. A message is committed here before its AA."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    String,
    func,
    insert,
    select,
    update,
)

from cdr.storage.inbox_batch import Key, batch_outcomes, new_rows
from cdr.storage.tables import hl7_inbox, hl7_outbox, hl7_relookups
from cdr.storage.transactions import HeldConnection, in_transaction, storage_errors
from cdr.storage.write_statements import INBOX_INSERT, INBOX_STORED
from hl7_listener.ports import (
    InboundMessage,
    InboxStatus,
    OutboundMessage,
    OutboxStatus,
    PendingMessage,
    RelookupRequest,
    StoreOutcome,
)
from rights.errors import StorageError

# The helpers are shared with ``cdr.storage.outbox``, the other half of the HL7 storage.
__all__ = [
    "InboxWrite",
    "SqlInbox",
    "column_length",
    "fit_column",
    "from_db",
    "pending_message",
    "storable_text",
    "store_batch",
    "to_utc",
]

InboxWrite = Callable[[Connection, list[dict[str, Any]]], list[StoreOutcome]]
"""Stores a batch of inbox rows (``_inbox_row``) within the caller's transaction: one outcome
per row, duplicates answered with their first copy's ACK (``inbox_batch``)."""

# A concurrent writer (another gateway process) may insert a key of our batch between our read
# and our insert: the unique constraint refuses it, and the batch is run again from its read,
# which then sees that row as a duplicate.
_STORE_ATTEMPTS = 2


def column_length(column: ColumnElement[Any]) -> int | None:
    return column.type.length if isinstance(column.type, String) else None


_DIGEST_MIN_LENGTH = 48  # room for a readable prefix beside the 32-character digest
_FITTED = ("sender_key", "control_id", "message_type", "patient_key", "charset")
_LENGTHS = {name: column_length(hl7_inbox.c[name]) for name in _FITTED}


def fit_column(value: str, length: int | None) -> str:
    """``value`` made storable in a ``String(length)`` column, unchanged when it already is.

    Senders control MSH-3/4/10: an over-long or NUL-bearing value would make PostgreSQL refuse
    the whole group-commit batch (and fail every other sender's message in it). In a key column
    (long enough) such a value is cut and suffixed with a digest of the whole, so different
    values stay different and a retransmission still finds its first copy; a short descriptive
    column (message type, charset, ACK code) is just cut.
    """
    if (length is None or len(value) <= length) and "\x00" not in value:
        return value
    clean = value.replace("\x00", "")
    if length is None or length < _DIGEST_MIN_LENGTH:
        return clean[:length]
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{clean[: length - len(digest) - 1]}~{digest}"


def storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; error texts may quote a sender's bytes.
    return value.replace("\x00", "\\x00")


def to_utc(value: datetime) -> datetime:
    """UTC before writing: SQLite keeps the wall time and drops the offset."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: storage needs timezone-aware times")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def from_db(value: datetime) -> datetime:
    """Aware UTC after reading: SQLite hands back naive datetimes (they were stored in UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


class SqlInbox:
    def __init__(
        self,
        engine: Engine,
        *,
        store: InboxWrite | None = None,
        writes: Engine | HeldConnection | None = None,
    ) -> None:
        """``store``: how ``store_many`` writes a batch (the composition root's choice);
        ``store_batch``, through SQLAlchemy, by default. ``writes``: where ``store_many``
        runs its transactions, ``engine`` by default (a ``HeldConnection`` of it for the
        commits made on the event loop)."""
        self._engine = engine
        self._writes = engine if writes is None else writes
        self._store = store_batch if store is None else store

    def store_many(self, messages: Sequence[InboundMessage]) -> list[StoreOutcome]:
        """One transaction for the batch: one read of the batch's keys already stored, one
        INSERT of the new ones (the group commit of the MLLP intake)."""
        if not messages:
            return []
        rows = [_inbox_row(m) for m in messages]
        return in_transaction(
            self._writes,
            lambda connection: self._store(connection, rows),
            "store HL7 messages",
            attempts=_STORE_ATTEMPTS,
        )

    def pending(self, *, after_id: int, limit: int) -> list[PendingMessage]:
        c = hl7_inbox.c
        statement = (
            select(c.id, c.patient_key, c.message_type, c.charset, c.raw, c.received_at)
            .where(c.status == InboxStatus.PENDING.value, c.id > after_id)
            .order_by(c.id)
            .limit(limit)
        )
        with storage_errors("read pending HL7 messages"), self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [pending_message(r.id, r) for r in rows]

    def complete(
        self,
        inbox_id: int,
        outbound: Sequence[OutboundMessage],
        *,
        lookup_id: str | None,
        now: datetime,
        relookup: RelookupRequest | None = None,
    ) -> None:
        """Mark done and queue the outbound messages, in one transaction (with the re-lookup
        to make, if any: a crash cannot keep one without the other).

        Idempotent through the status: only the transaction that moves the row out of
        pending/failed queues anything (on PostgreSQL a concurrent one waits for the row lock,
        then finds it done). UNIQUE(inbox_id, destination) allows one message per destination:
        a destination named twice keeps its first message.
        """
        at = to_utc(now)
        by_destination: dict[str, OutboundMessage] = {}
        for message in outbound:
            by_destination.setdefault(message.destination, message)
        outbox_rows = [
            {
                "inbox_id": inbox_id,
                "destination": m.destination,
                "control_id": m.control_id,
                "payload": m.payload,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "created_at": at,
                "next_attempt_at": at,
                "last_error": "",
                "delivered_at": None,
                "ack_code": "",
            }
            for m in by_destination.values()
        ]
        with storage_errors(f"complete HL7 message {inbox_id}"), self._engine.begin() as connection:
            moved = connection.execute(
                update(hl7_inbox)
                .where(
                    hl7_inbox.c.id == inbox_id,
                    hl7_inbox.c.status != InboxStatus.DONE.value,
                )
                .values(
                    status=InboxStatus.DONE.value,
                    lookup_id=lookup_id,
                    processed_at=at,
                    error="",
                )
            ).rowcount
            if moved == 0:
                _require(connection, inbox_id)  # done already: nothing to queue twice
                return
            if outbox_rows:
                connection.execute(insert(hl7_outbox), outbox_rows)
            if relookup is not None:
                connection.execute(insert(hl7_relookups), _relookup_row(inbox_id, relookup, at))

    def fail(self, inbox_id: int, error: str, *, now: datetime) -> None:
        """Kept for an operator with its error; a message already done stays done."""
        with storage_errors(f"mark HL7 message {inbox_id} failed"), self._engine.begin() as c:
            moved = c.execute(
                update(hl7_inbox)
                .where(
                    hl7_inbox.c.id == inbox_id,
                    hl7_inbox.c.status == InboxStatus.PENDING.value,
                )
                .values(
                    status=InboxStatus.FAILED.value,
                    error=storable_text(error),
                    processed_at=to_utc(now),
                )
            ).rowcount
            if moved == 0:
                _require(c, inbox_id)

    def depth(self) -> int:
        statement = (
            select(func.count())
            .select_from(hl7_inbox)
            .where(hl7_inbox.c.status == InboxStatus.PENDING.value)
        )
        with storage_errors("count pending HL7 messages"), self._engine.connect() as connection:
            return int(connection.execute(statement).scalar_one())

    def last_id(self) -> int:
        statement = select(func.max(hl7_inbox.c.id))
        with storage_errors("read the newest HL7 message"), self._engine.connect() as connection:
            return int(connection.execute(statement).scalar() or 0)


def _inbox_row(message: InboundMessage) -> dict[str, Any]:
    return {
        "sender_key": fit_column(message.sender_key, _LENGTHS["sender_key"]),
        "control_id": fit_column(message.control_id, _LENGTHS["control_id"]),
        "received_at": to_utc(message.received_at),
        "message_type": fit_column(message.message_type, _LENGTHS["message_type"]),
        "patient_key": fit_column(message.patient_key, _LENGTHS["patient_key"]),
        "charset": fit_column(message.charset, _LENGTHS["charset"]),
        "raw": message.raw,
        "ack": message.ack,
        "status": message.status.value,
        "lookup_id": None,
        "error": "",
        "processed_at": None,
    }


def _relookup_row(inbox_id: int, request: RelookupRequest, at: datetime) -> dict[str, Any]:
    waiting_for = ",".join(request.waiting_for)
    return {
        "inbox_id": inbox_id,
        "patient_key": fit_column(request.patient_key, _LENGTHS["patient_key"]),
        "status": "pending",  # hl7_listener.relookup_policy.RelookupStatus.PENDING
        "attempts": 0,
        "created_at": at,
        "next_attempt_at": to_utc(request.next_attempt_at),
        "deadline_at": to_utc(request.deadline_at),
        "waiting_for": fit_column(waiting_for, column_length(hl7_relookups.c.waiting_for)),
        "closed_at": None,
    }


def store_batch(connection: Connection, rows: list[dict[str, Any]]) -> list[StoreOutcome]:
    """The ``InboxWrite`` of SQLAlchemy's statements (any database)."""
    keys = {"senders": list({r["sender_key"] for r in rows})}
    keys["controls"] = list({r["control_id"] for r in rows})
    stored: dict[Key, bytes] = {
        (r.sender_key, r.control_id): bytes(r.ack) for r in connection.execute(INBOX_STORED, keys)
    }
    fresh = new_rows(rows, stored)
    inserted: dict[Key, int] = {}
    if fresh:
        returned = connection.execute(INBOX_INSERT, fresh)
        inserted = {(r.sender_key, r.control_id): r.id for r in returned}
    return batch_outcomes(rows, stored, inserted)


def _require(connection: Connection, inbox_id: int) -> None:
    found = connection.execute(select(hl7_inbox.c.id).where(hl7_inbox.c.id == inbox_id)).first()
    if found is None:
        raise StorageError(f"HL7 message {inbox_id} is not in the inbox")


def pending_message(inbox_id: int, row: Any) -> PendingMessage:
    """The stored message of inbox row ``inbox_id`` from a result row holding its
    ``patient_key``, ``message_type``, ``charset``, ``raw`` and ``received_at`` columns."""
    return PendingMessage(
        inbox_id=inbox_id,
        patient_key=row.patient_key,
        message_type=row.message_type,
        charset=row.charset,
        raw=bytes(row.raw),
        received_at=from_db(row.received_at),
    )
