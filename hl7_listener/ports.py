"""Ports of the HL7 side: the durable inbox and the outbox, as Protocols.

``cdr/storage`` implements them on SQL; ``cdr.bootstrap`` wires them in. Every method is
blocking (a database call): the listener runs them on the single writer thread.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "InboundMessage",
    "InboxStatus",
    "InboxStore",
    "OutboundMessage",
    "OutboxItem",
    "OutboxStatus",
    "OutboxStore",
    "PendingMessage",
    "RelookupRequest",
    "StoreOutcome",
]


class InboxStatus(enum.StrEnum):
    PENDING = "pending"  # accepted (AA sent), lookup not done yet
    DONE = "done"  # lookup done, its outbound messages are in the outbox
    IGNORED = "ignored"  # accepted but triggers nothing (event not configured for lookups)
    FAILED = "failed"  # accepted, then could not be processed (kept for an operator)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for (re)delivery
    DELIVERED = "delivered"  # the destination acknowledged it (AA/CA)
    DEAD = "dead"  # gave up after the configured number of tries


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """An accepted message, stored before its AA is sent.

    ``sender_key`` is MSH-3 and MSH-4 as received, joined by ``|``; with ``control_id``
    (MSH-10) it identifies the message: a second message with the same pair is a duplicate.
    ``raw`` is the message as received (the bytes inside the MLLP frame), ``charset`` the Python
    codec it was decoded with; ``ack`` the acknowledgement sent for it (encoded, unframed), sent
    again verbatim for a duplicate.
    """

    sender_key: str
    control_id: str
    received_at: datetime
    message_type: str  # e.g. "ADT^A01"
    patient_key: str  # messages of one patient are processed in arrival order
    charset: str
    raw: bytes
    ack: bytes
    status: InboxStatus = InboxStatus.PENDING


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What storing one message gave: a new inbox id, or the stored ACK of its first copy."""

    inbox_id: int | None
    duplicate_ack: bytes | None = None

    @property
    def is_duplicate(self) -> bool:
        return self.duplicate_ack is not None


@dataclass(frozen=True, slots=True)
class PendingMessage:
    inbox_id: int
    patient_key: str
    message_type: str
    charset: str
    raw: bytes
    received_at: datetime


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to deliver to one destination (``host:port`` for MLLP)."""

    destination: str
    control_id: str  # the outbound MSH-10: the same on every retry, for the receiver's dedupe
    payload: bytes  # encoded, unframed


@dataclass(frozen=True, slots=True)
class RelookupRequest:
    """Look this message up again later: some regime could not be asked (issue 18 item 5).
    ``waiting_for`` names those regimes; the first try is due at ``next_attempt_at``, the last
    one at ``deadline_at``."""

    patient_key: str
    waiting_for: tuple[str, ...]
    next_attempt_at: datetime
    deadline_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    inbox_id: int | None
    destination: str
    control_id: str
    payload: bytes
    status: OutboxStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str
    delivered_at: datetime | None
    ack_code: str


class InboxStore(Protocol):
    def store_many(self, messages: Sequence[InboundMessage]) -> list[StoreOutcome]:
        """Store in one transaction; one outcome per message, in order. A message whose
        (sender_key, control_id) is already stored, or appears earlier in the same batch, is a
        duplicate: it is not stored and its outcome carries the first copy's ACK."""
        ...

    def pending(self, *, after_id: int, limit: int) -> list[PendingMessage]:
        """Pending messages with an id above ``after_id``, oldest first."""
        ...

    def complete(
        self,
        inbox_id: int,
        outbound: Sequence[OutboundMessage],
        *,
        lookup_id: str | None,
        now: datetime,
        relookup: RelookupRequest | None = None,
    ) -> None:
        """In one transaction: mark the message done and queue its outbound messages (and record
        its re-lookup, when given). Idempotent: completing a message already done queues nothing
        twice."""
        ...

    def fail(self, inbox_id: int, error: str, *, now: datetime) -> None: ...

    def depth(self) -> int:
        """Messages accepted and not processed yet."""
        ...

    def last_id(self) -> int:
        """The id of the newest message stored (0 when none): a cheap sign of arrivals."""
        ...


class OutboxStore(Protocol):
    def due(self, destination: str, *, now: datetime, limit: int) -> list[OutboxItem]:
        """Pending items for ``destination`` whose next attempt is due, oldest first."""
        ...

    def head(self, destination: str) -> OutboxItem | None:
        """The oldest pending item for ``destination``, due or not (delivery keeps order)."""
        ...

    def delivered(self, item_id: int, *, ack_code: str, now: datetime) -> None: ...

    def retry_later(self, item_id: int, *, error: str, next_attempt_at: datetime) -> int:
        """Count one failed attempt and schedule the next; returns the attempts made so far."""
        ...

    def dead(self, item_id: int, *, error: str, now: datetime) -> None: ...

    def items(
        self, *, status: OutboxStatus | None = None, limit: int = 100
    ) -> list[OutboxItem]: ...

    def requeue(self, ids: Sequence[int] | None, *, now: datetime) -> int:
        """Make dead items (all of them when ``ids`` is None) pending again, due now; returns
        how many were requeued."""
        ...

    def destinations(self) -> list[str]:
        """Every destination with pending items."""
        ...

    def depth(self) -> dict[str, int]:
        """Item count by status."""
        ...
