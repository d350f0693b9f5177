"""``RelookupStore`` on SQL: the re-lookups of admissions whose first result was not final.

Rows are created by ``SqlInbox.complete`` in the transaction of the first result. Closing a row
and queueing its result is one transaction too, guarded by the attempts count read with the row,
so two gateway processes trying the same row queue its result once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, exists, func, insert, select, update
from sqlalchemy.orm import aliased

from cdr.storage.inbox import (
    column_length,
    fit_column,
    from_db,
    pending_message,
    to_utc,
)
from cdr.storage.tables import hl7_inbox, hl7_outbox, hl7_relookups
from cdr.storage.transactions import storage_errors
from hl7_listener.ports import InboxStatus, OutboundMessage, OutboxStatus
from hl7_listener.relookup import DueRelookup, RelookupItem
from hl7_listener.relookup_policy import RelookupStatus

__all__ = ["SqlRelookups"]

_PENDING = RelookupStatus.PENDING.value
_WAITING_LENGTH = column_length(hl7_relookups.c.waiting_for)


class SqlRelookups:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def due(self, *, now: datetime, limit: int) -> list[DueRelookup]:
        r, i = hl7_relookups.c, hl7_inbox.c
        statement = (
            select(
                r.id,
                r.attempts,
                r.deadline_at,
                i.id.label("inbox_id"),
                i.patient_key,
                i.message_type,
                i.charset,
                i.raw,
                i.received_at,
            )
            .join(hl7_inbox, i.id == r.inbox_id)
            .where(r.status == _PENDING, r.next_attempt_at <= to_utc(now))
            .order_by(r.next_attempt_at, r.id)
            .limit(limit)
        )
        with storage_errors("read the due re-lookups"), self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [
            DueRelookup(
                id=row.id,
                attempts=row.attempts,
                deadline_at=from_db(row.deadline_at),
                message=pending_message(row.inbox_id, row),
            )
            for row in rows
        ]

    def superseded(self, relookup_id: int) -> bool:
        r = hl7_relookups.c
        statement = select(exists().where(r.id == relookup_id, _newer_processed()))
        with storage_errors(f"check re-lookup {relookup_id}"), self._engine.connect() as conn:
            return bool(conn.execute(statement).scalar())

    def reschedule(
        self,
        relookup_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        waiting_for: Sequence[str] | None,
    ) -> bool:
        statement = _guarded(relookup_id, attempts).values(
            attempts=attempts + 1, next_attempt_at=to_utc(next_attempt_at)
        )
        if waiting_for is not None:
            statement = statement.values(
                waiting_for=fit_column(",".join(waiting_for), _WAITING_LENGTH)
            )
        with storage_errors(f"reschedule re-lookup {relookup_id}"), self._engine.begin() as c:
            return bool(c.execute(statement).rowcount)

    def close(
        self,
        relookup_id: int,
        *,
        attempts: int,
        status: RelookupStatus,
        outbound: Sequence[OutboundMessage],
        now: datetime,
    ) -> bool:
        at = to_utc(now)
        statement = _guarded(relookup_id, attempts).values(
            attempts=attempts + 1, status=status.value, closed_at=at
        )
        if status is not RelookupStatus.SUPERSEDED:
            # Checked again in the transaction that queues: a newer message of the patient
            # processed since the check must not be overtaken (the next round drops this one).
            statement = statement.values(waiting_for="").where(~_newer_processed())
        by_destination: dict[str, OutboundMessage] = {}
        for message in outbound:
            by_destination.setdefault(message.destination, message)
        with storage_errors(f"close re-lookup {relookup_id}"), self._engine.begin() as c:
            if not c.execute(statement).rowcount:
                return False
            if by_destination:
                c.execute(insert(hl7_outbox), [_outbox_row(m, at) for m in by_destination.values()])
        return True

    def items(
        self, *, status: RelookupStatus | None = None, limit: int = 100
    ) -> list[RelookupItem]:
        """Newest first."""
        statement = (
            select(hl7_relookups, hl7_inbox.c.control_id)
            .join(hl7_inbox, hl7_inbox.c.id == hl7_relookups.c.inbox_id)
            .order_by(hl7_relookups.c.id.desc())
            .limit(limit)
        )
        if status is not None:
            statement = statement.where(hl7_relookups.c.status == status.value)
        with storage_errors("list the re-lookups"), self._engine.connect() as connection:
            return [_item(row) for row in connection.execute(statement)]

    def depth(self) -> dict[str, int]:
        c = hl7_relookups.c
        statement = select(c.status, func.count()).group_by(c.status)
        with storage_errors("count the re-lookups"), self._engine.connect() as connection:
            return {status: int(count) for status, count in connection.execute(statement)}


def _newer_processed() -> Any:
    """A message of the re-lookup's patient newer than its own, processed (its result queued)."""
    newer = aliased(hl7_inbox)
    r = hl7_relookups.c
    return (
        exists()
        .where(
            newer.c.patient_key == r.patient_key,
            newer.c.id > r.inbox_id,
            newer.c.status == InboxStatus.DONE.value,
        )
        .correlate(hl7_relookups)
    )


def _guarded(relookup_id: int, attempts: int) -> Any:
    c = hl7_relookups.c
    return update(hl7_relookups).where(
        c.id == relookup_id, c.status == _PENDING, c.attempts == attempts
    )


def _outbox_row(message: OutboundMessage, at: datetime) -> dict[str, Any]:
    # No inbox_id: the first result holds the (inbox_id, destination) pair; this one follows it.
    return {
        "inbox_id": None,
        "destination": message.destination,
        "control_id": message.control_id,
        "payload": message.payload,
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "created_at": at,
        "next_attempt_at": at,
        "last_error": "",
        "delivered_at": None,
        "ack_code": "",
    }


def _item(row: Row[Any]) -> RelookupItem:
    return RelookupItem(
        id=row.id,
        inbox_id=row.inbox_id,
        control_id=row.control_id,
        patient_key=row.patient_key,
        status=RelookupStatus(row.status),
        attempts=row.attempts,
        created_at=from_db(row.created_at),
        next_attempt_at=from_db(row.next_attempt_at),
        deadline_at=from_db(row.deadline_at),
        waiting_for=tuple(w for w in row.waiting_for.split(",") if w),
        closed_at=None if row.closed_at is None else from_db(row.closed_at),
    )
