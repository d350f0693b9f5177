"""Hand-written fakes for the HL7 side's ports (no mocks, no sockets, no database).

``MemoryInbox`` and ``MemoryOutbox`` keep the semantics of ``cdr.storage.inbox`` and
``cdr.storage.outbox`` that the listener relies on (duplicates, idempotent completion, attempts
counted on every settle), plus a few hooks to make a call fail and counters to observe calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hl7_listener.ports import (
    InboundMessage,
    InboxStatus,
    OutboundMessage,
    OutboxItem,
    OutboxStatus,
    PendingMessage,
    RelookupRequest,
    StoreOutcome,
)
from rights.errors import StorageError

__all__ = [
    "FakeClock",
    "InboxRow",
    "MemoryInbox",
    "MemoryOutbox",
    "ScriptedDelivery",
    "ack_reply",
    "direct",
    "wait_for_count",
    "wait_until",
]

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class FakeClock:
    """``now()`` moves only when a test calls ``advance``."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


async def direct(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The ``blocking`` runner of the tests: the store call runs right here, on the loop."""
    return fn(*args, **kwargs)


async def wait_until(
    predicate: Callable[[], bool], *, what: str = "the condition", timeout_s: float = 5.0
) -> None:
    """Poll ``predicate`` until it holds; fail (not hang) after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def wait_for_count(count: Callable[[], int], expected: int, *, what: str) -> None:
    """Poll until ``count()`` equals ``expected`` (in a loop, where a lambda cannot bind it)."""
    await wait_until(lambda: count() == expected, what=f"{expected} {what}")


@dataclasses.dataclass
class InboxRow:
    inbox_id: int
    message: InboundMessage
    status: InboxStatus
    lookup_id: str | None = None
    error: str = ""
    processed_at: datetime | None = None


class MemoryInbox:
    """``InboxStore`` in a dict. ``fail_complete[id] = n`` makes the next n ``complete`` of that
    message raise ``StorageError`` before changing anything (a refused transaction)."""

    def __init__(self, outbox: MemoryOutbox | None = None) -> None:
        self.rows: dict[int, InboxRow] = {}
        self.outbox = outbox
        self.queued: list[tuple[int, OutboundMessage]] = []
        self.pending_calls: list[tuple[int, int]] = []  # (after_id, limit)
        self.complete_calls: list[int] = []
        self.fail_complete: dict[int, int] = {}
        self._ids = itertools.count(1)

    def add(self, patient_key: str, *, control_id: str | None = None) -> int:
        """Store one pending message (as the intake would have) and return its id."""
        number = len(self.rows) + 1
        message = InboundMessage(
            sender_key="GAM|HOPITAL",
            control_id=control_id or f"MSG-{number}",
            received_at=START,
            message_type="ADT^A01",
            patient_key=patient_key,
            charset="ascii",
            raw=f"MSH|^~\\&|GAM|HOPITAL|||||ADT^A01|MSG-{number}|P|2.5\r".encode(),
            ack=b"MSH|^~\\&|\rMSA|AA|\r",
        )
        [outcome] = self.store_many([message])
        assert outcome.inbox_id is not None
        return outcome.inbox_id

    def status(self, inbox_id: int) -> InboxStatus:
        return self.rows[inbox_id].status

    def store_many(self, messages: Sequence[InboundMessage]) -> list[StoreOutcome]:
        acks = {
            (r.message.sender_key, r.message.control_id): r.message.ack for r in self.rows.values()
        }
        outcomes = []
        for message in messages:
            key = (message.sender_key, message.control_id)
            if key in acks:
                outcomes.append(StoreOutcome(None, acks[key]))
                continue
            inbox_id = next(self._ids)
            self.rows[inbox_id] = InboxRow(inbox_id, message, message.status)
            acks[key] = message.ack
            outcomes.append(StoreOutcome(inbox_id))
        return outcomes

    def pending(self, *, after_id: int, limit: int) -> list[PendingMessage]:
        self.pending_calls.append((after_id, limit))
        rows = sorted(
            (
                r
                for r in self.rows.values()
                if r.status is InboxStatus.PENDING and r.inbox_id > after_id
            ),
            key=lambda r: r.inbox_id,
        )
        return [
            PendingMessage(
                inbox_id=r.inbox_id,
                patient_key=r.message.patient_key,
                message_type=r.message.message_type,
                charset=r.message.charset,
                raw=r.message.raw,
                received_at=r.message.received_at,
            )
            for r in rows[:limit]
        ]

    def complete(
        self,
        inbox_id: int,
        outbound: Sequence[OutboundMessage],
        *,
        lookup_id: str | None,
        now: datetime,
        relookup: RelookupRequest | None = None,
    ) -> None:
        self.complete_calls.append(inbox_id)
        if self.fail_complete.get(inbox_id, 0) > 0:
            self.fail_complete[inbox_id] -= 1
            raise StorageError(f"cannot complete HL7 message {inbox_id}: database is locked")
        row = self._require(inbox_id)
        if row.status is InboxStatus.DONE:
            return  # idempotent: nothing queued twice
        row.status, row.lookup_id, row.processed_at, row.error = (
            InboxStatus.DONE,
            lookup_id,
            now,
            "",
        )
        for message in outbound:
            self.queued.append((inbox_id, message))
            if self.outbox is not None:
                self.outbox.add(message.destination, message.payload, now=now, inbox_id=inbox_id)

    def fail(self, inbox_id: int, error: str, *, now: datetime) -> None:
        row = self._require(inbox_id)
        if row.status is InboxStatus.PENDING:
            row.status, row.error, row.processed_at = InboxStatus.FAILED, error, now

    def depth(self) -> int:
        return sum(r.status is InboxStatus.PENDING for r in self.rows.values())

    def last_id(self) -> int:
        return max(self.rows, default=0)

    def _require(self, inbox_id: int) -> InboxRow:
        if inbox_id not in self.rows:
            raise StorageError(f"HL7 message {inbox_id} is not in the inbox")
        return self.rows[inbox_id]


class MemoryOutbox:
    """``OutboxStore`` in a dict; every settle (delivered, retry_later, dead) counts an attempt."""

    def __init__(self) -> None:
        self.rows: dict[int, OutboxItem] = {}
        self.retries: list[tuple[int, str, datetime]] = []  # (item id, error, next attempt)
        self.head_calls = 0
        self._ids = itertools.count(1)

    def add(
        self,
        destination: str,
        payload: bytes,
        *,
        now: datetime = START,
        inbox_id: int | None = None,
        control_id: str | None = None,
    ) -> int:
        item_id = next(self._ids)
        self.rows[item_id] = OutboxItem(
            id=item_id,
            inbox_id=inbox_id,
            destination=destination,
            control_id=control_id or f"OUT-{item_id}",
            payload=payload,
            status=OutboxStatus.PENDING,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            last_error="",
            delivered_at=None,
            ack_code="",
        )
        return item_id

    def due(self, destination: str, *, now: datetime, limit: int) -> list[OutboxItem]:
        return [i for i in self._pending(destination) if i.next_attempt_at <= now][:limit]

    def head(self, destination: str) -> OutboxItem | None:
        self.head_calls += 1
        pending = self._pending(destination)
        return pending[0] if pending else None

    def delivered(self, item_id: int, *, ack_code: str, now: datetime) -> None:
        self._settle(item_id, status=OutboxStatus.DELIVERED, delivered_at=now, ack_code=ack_code)

    def retry_later(self, item_id: int, *, error: str, next_attempt_at: datetime) -> int:
        self.retries.append((item_id, error, next_attempt_at))
        return self._settle(item_id, last_error=error, next_attempt_at=next_attempt_at)

    def dead(self, item_id: int, *, error: str, now: datetime) -> None:
        self._settle(item_id, status=OutboxStatus.DEAD, last_error=error)

    def items(self, *, status: OutboxStatus | None = None, limit: int = 100) -> list[OutboxItem]:
        newest_first = sorted(self.rows.values(), key=lambda i: -i.id)
        return [i for i in newest_first if status is None or i.status is status][:limit]

    def requeue(self, ids: Sequence[int] | None, *, now: datetime) -> int:
        chosen = [
            i
            for i in self.rows.values()
            if i.status is OutboxStatus.DEAD and (ids is None or i.id in ids)
        ]
        for item in chosen:
            self.rows[item.id] = dataclasses.replace(
                item, status=OutboxStatus.PENDING, next_attempt_at=now, attempts=0
            )
        return len(chosen)

    def destinations(self) -> list[str]:
        return sorted(
            {i.destination for i in self.rows.values() if i.status is OutboxStatus.PENDING}
        )

    def depth(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.rows.values():
            counts[item.status.value] = counts.get(item.status.value, 0) + 1
        return counts

    def _pending(self, destination: str) -> list[OutboxItem]:
        return sorted(
            (
                i
                for i in self.rows.values()
                if i.destination == destination and i.status is OutboxStatus.PENDING
            ),
            key=lambda i: i.id,
        )

    def _settle(self, item_id: int, **values: Any) -> int:
        if item_id not in self.rows:
            raise StorageError(f"outbox item {item_id} does not exist")
        item = self.rows[item_id]
        self.rows[item_id] = dataclasses.replace(item, attempts=item.attempts + 1, **values)
        return item.attempts + 1


def ack_reply(code: str, control_id: str = "OUT-1") -> bytes:
    """A destination's acknowledgement with MSA-1 = ``code``."""
    return (
        f"MSH|^~\\&|RECV|BUS|CDR|GW|20261124090000||ACK^Z99^ACK|R-{control_id}|P|2.5\r"
        f"MSA|{code}|{control_id}\r"
    ).encode("ascii")


class ScriptedDelivery:
    """``Delivery`` that answers each ``send`` with the next step of its script: reply bytes, or
    an exception to raise. Past the script it answers ``then`` (an AA by default)."""

    def __init__(self, *script: bytes | Exception, then: bytes | None = None) -> None:
        self.script = list(script)
        self.then = then if then is not None else ack_reply("AA")
        self.payloads: list[bytes] = []
        self.closed = False

    async def send(self, payload: bytes) -> bytes:
        self.payloads.append(payload)
        step = self.script.pop(0) if self.script else self.then
        if isinstance(step, Exception):
            raise step
        return step

    async def close(self) -> None:
        self.closed = True
