"""``OutboxStore`` on SQL: store-and-forward of the HL7 results, one row per destination."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, func, select, update

from cdr.storage.inbox import (
    column_length,
    fit_column,
    from_db,
    storable_text,
    to_utc,
)
from cdr.storage.tables import hl7_outbox
from cdr.storage.transactions import storage_errors
from hl7_listener.ports import OutboxItem, OutboxStatus
from rights.errors import StorageError

__all__ = ["SqlOutbox"]

_PENDING = OutboxStatus.PENDING.value
_ACK_CODE_LENGTH = column_length(hl7_outbox.c.ack_code)


class SqlOutbox:
    """Attempts count every delivery try: each failure (``retry_later``, or ``dead`` for the
    last one) and the successful one (``delivered``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def due(self, destination: str, *, now: datetime, limit: int) -> list[OutboxItem]:
        c = hl7_outbox.c
        statement = (
            select(hl7_outbox)
            .where(c.destination == destination, c.status == _PENDING)
            .where(c.next_attempt_at <= to_utc(now))
            .order_by(c.id)
            .limit(limit)
        )
        with storage_errors(f"read the outbox of {destination}"), self._engine.connect() as conn:
            return [_item(r) for r in conn.execute(statement)]

    def head(self, destination: str) -> OutboxItem | None:
        c = hl7_outbox.c
        statement = (
            select(hl7_outbox)
            .where(c.destination == destination, c.status == _PENDING)
            .order_by(c.id)
            .limit(1)
        )
        with storage_errors(f"read the outbox of {destination}"), self._engine.connect() as conn:
            row = conn.execute(statement).first()
        return None if row is None else _item(row)

    def delivered(self, item_id: int, *, ack_code: str, now: datetime) -> None:
        self._settle(
            item_id,
            status=OutboxStatus.DELIVERED.value,
            delivered_at=to_utc(now),
            ack_code=fit_column(ack_code, _ACK_CODE_LENGTH),
        )

    def retry_later(self, item_id: int, *, error: str, next_attempt_at: datetime) -> int:
        return self._settle(
            item_id, last_error=storable_text(error), next_attempt_at=to_utc(next_attempt_at)
        )

    def dead(self, item_id: int, *, error: str, now: datetime) -> None:
        # No column records when it died: ``now`` is only checked; last_error says why.
        to_utc(now)
        self._settle(item_id, status=OutboxStatus.DEAD.value, last_error=storable_text(error))

    def items(self, *, status: OutboxStatus | None = None, limit: int = 100) -> list[OutboxItem]:
        """Newest first (what an operator listing the outbox looks for)."""
        statement = select(hl7_outbox).order_by(hl7_outbox.c.id.desc()).limit(limit)
        if status is not None:
            statement = statement.where(hl7_outbox.c.status == status.value)
        with storage_errors("list the outbox"), self._engine.connect() as connection:
            return [_item(r) for r in connection.execute(statement)]

    def requeue(self, ids: Sequence[int] | None, *, now: datetime) -> int:
        """Dead items become pending and due now, with a fresh count of attempts (the sender
        gives up after N tries: a requeued item gets N again); last_error is kept."""
        if ids is not None and not ids:
            return 0
        statement = (
            update(hl7_outbox)
            .where(hl7_outbox.c.status == OutboxStatus.DEAD.value)
            .values(status=_PENDING, next_attempt_at=to_utc(now), attempts=0)
        )
        if ids is not None:
            statement = statement.where(hl7_outbox.c.id.in_(list(ids)))
        with storage_errors("requeue outbox items"), self._engine.begin() as connection:
            return int(connection.execute(statement).rowcount)

    def statuses(self, ids: Sequence[int]) -> dict[int, OutboxStatus]:
        """The state of each of ``ids`` that exists (an operator names ids to requeue)."""
        c = hl7_outbox.c
        statement = select(c.id, c.status).where(c.id.in_(list(ids)))
        with storage_errors("read outbox states"), self._engine.connect() as connection:
            return {int(i): OutboxStatus(status) for i, status in connection.execute(statement)}

    def destinations(self) -> list[str]:
        c = hl7_outbox.c
        statement = select(c.destination).where(c.status == _PENDING).distinct()
        with storage_errors("list the outbox destinations"), self._engine.connect() as conn:
            return sorted(conn.execute(statement).scalars())

    def depth(self) -> dict[str, int]:
        c = hl7_outbox.c
        statement = select(c.status, func.count()).group_by(c.status)
        with storage_errors("count the outbox"), self._engine.connect() as connection:
            return {status: int(count) for status, count in connection.execute(statement)}

    def _settle(self, item_id: int, **values: Any) -> int:
        """One attempt more, with ``values``; returns the attempts made so far."""
        statement = (
            update(hl7_outbox)
            .where(hl7_outbox.c.id == item_id)
            .values(attempts=hl7_outbox.c.attempts + 1, **values)
            .returning(hl7_outbox.c.attempts)
        )
        with storage_errors(f"update outbox item {item_id}"), self._engine.begin() as connection:
            attempts = connection.execute(statement).scalar_one_or_none()
        if attempts is None:
            raise StorageError(f"outbox item {item_id} does not exist")
        return int(attempts)


def _item(row: Row[Any]) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        inbox_id=row.inbox_id,
        destination=row.destination,
        control_id=row.control_id,
        payload=bytes(row.payload),
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        created_at=from_db(row.created_at),
        next_attempt_at=from_db(row.next_attempt_at),
        last_error=row.last_error,
        delivered_at=None if row.delivered_at is None else from_db(row.delivered_at),
        ack_code=row.ack_code,
    )
