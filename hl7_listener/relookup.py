"""The background re-lookups of admissions whose first result was not final (issue 18 item 5).

A row is recorded with the first result (``InboxStore.complete``). When it is due, the stored
message is looked up again for the same date of care (the day it arrived). Every regime asked:
the updated result is queued, final, and the row closed. Some regime still not asked: tried
again later with backoff, and at the end of the window a last result is queued, final, the
regimes still down left unknown. Results go to the outbox, one per destination, behind the
first result (the outbox keeps each destination's order).

Patient order: an older admission's late result must not arrive after a newer admission's
result for the same patient. So when a newer message of the patient was processed meanwhile,
the re-lookup is dropped (closed ``superseded``): the newer message's lookup, and its own
re-lookup if it needs one, speaks for the patient.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hl7_listener.ports import OutboundMessage, PendingMessage
from hl7_listener.processing import Processed
from hl7_listener.relookup_policy import RelookupPolicy, RelookupStatus, settled_status
from rights.errors import StorageError

__all__ = ["DueRelookup", "RelookupItem", "RelookupLoop", "RelookupStore"]

log = logging.getLogger("cdr.hl7")

Blocking = Callable[..., Awaitable[Any]]
LookupAgain = Callable[[PendingMessage, bool], Awaitable[Processed]]


@dataclass(frozen=True, slots=True)
class DueRelookup:
    id: int
    attempts: int  # tries made so far (the first lookup not counted)
    deadline_at: datetime
    message: PendingMessage


@dataclass(frozen=True, slots=True)
class RelookupItem:
    """A re-lookup as an operator sees it."""

    id: int
    inbox_id: int
    control_id: str  # MSH-10 of the admission
    patient_key: str
    status: RelookupStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    deadline_at: datetime
    waiting_for: tuple[str, ...]
    closed_at: datetime | None


class RelookupStore(Protocol):
    """Blocking (database) calls. ``attempts`` passed to the updates is the count read with the
    row: an update made by another process meanwhile makes ours a no-op (returns False), so a
    result is never queued twice."""

    def due(self, *, now: datetime, limit: int) -> list[DueRelookup]:
        """Pending re-lookups due at ``now``, soonest first."""
        ...

    def superseded(self, relookup_id: int) -> bool:
        """Whether a newer message of the same patient was processed since."""
        ...

    def reschedule(
        self,
        relookup_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        waiting_for: Sequence[str] | None,
    ) -> bool:
        """``waiting_for`` None: unchanged."""
        ...

    def close(
        self,
        relookup_id: int,
        *,
        attempts: int,
        status: RelookupStatus,
        outbound: Sequence[OutboundMessage],
        now: datetime,
    ) -> bool:
        """In one transaction: close the row and queue ``outbound``."""
        ...

    def items(
        self, *, status: RelookupStatus | None = None, limit: int = 100
    ) -> list[RelookupItem]: ...

    def depth(self) -> dict[str, int]:
        """Re-lookups by status."""
        ...


class RelookupLoop:
    def __init__(
        self,
        *,
        store: RelookupStore,
        blocking: Blocking,
        again: LookupAgain,
        policy: RelookupPolicy,
        now: Callable[[], datetime],
        poll_interval_s: float = 1.0,
        batch: int = 32,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._blocking = blocking
        self._again = again
        self._policy = policy
        self._now = now
        self._poll_interval_s = poll_interval_s
        self._batch = batch
        self._on_queued = on_queued
        self._task: asyncio.Task[None] | None = None
        self.outcomes: Counter[str] = Counter()  # by RelookupStatus, "retry" for a reschedule

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                done = await self.run_once()
            except StorageError as exc:
                log.error("hl7 re-lookups unreadable, retrying: %s", exc.message)
                done = 0
            except Exception:  # the loop must outlive any fault, or re-lookups stall
                log.exception("hl7 re-lookups: unexpected error, retrying")
                done = 0
            if done < self._batch:
                await asyncio.sleep(self._poll_interval_s)

    async def run_once(self) -> int:
        """Try every re-lookup due now (up to a batch, concurrently); returns how many."""
        now = self._now()
        rows: list[DueRelookup] = await self._blocking(
            lambda: self._store.due(now=now, limit=self._batch)
        )
        await asyncio.gather(*(self._try(row) for row in rows))
        return len(rows)

    async def _try(self, row: DueRelookup) -> None:
        try:
            await self._step(row)
        except StorageError as exc:  # the row stays due: tried again at the next round
            log.error("hl7 re-lookup %d: %s", row.id, exc.message)
        except Exception:
            # Not retried at every poll: backed off like a failed try, closed at the deadline.
            log.exception("hl7 re-lookup %d: unexpected error", row.id)
            with contextlib.suppress(StorageError):
                await self._back_off(row)

    async def _back_off(self, row: DueRelookup) -> None:
        if self._policy.is_last_try(now=self._now(), deadline=row.deadline_at):
            await self._close(row, RelookupStatus.EXPIRED, ())
            return
        next_at = self._policy.next_attempt(
            attempts=row.attempts + 1, now=self._now(), deadline=row.deadline_at
        )
        await self._blocking(
            lambda: self._store.reschedule(
                row.id, attempts=row.attempts, next_attempt_at=next_at, waiting_for=None
            )
        )

    async def _step(self, row: DueRelookup) -> None:
        store = self._store
        if await self._blocking(lambda: store.superseded(row.id)):
            await self._close(row, RelookupStatus.SUPERSEDED, ())
            return
        last = self._policy.is_last_try(now=self._now(), deadline=row.deadline_at)
        processed = await self._again(row.message, last)
        if processed.final:
            await self._close(row, settled_status(processed.not_asked), processed.outbound)
            return
        next_at = self._policy.next_attempt(
            attempts=row.attempts + 1, now=self._now(), deadline=row.deadline_at
        )
        moved = await self._blocking(
            lambda: store.reschedule(
                row.id,
                attempts=row.attempts,
                next_attempt_at=next_at,
                waiting_for=processed.not_asked,
            )
        )
        if moved:
            self.outcomes["retry"] += 1
            log.info(
                "hl7 re-lookup %d (inbox %d): %s still not asked, next try %s",
                row.id,
                row.message.inbox_id,
                ",".join(processed.not_asked),
                next_at.isoformat(timespec="seconds"),
            )

    async def _close(
        self, row: DueRelookup, status: RelookupStatus, outbound: Sequence[OutboundMessage]
    ) -> None:
        now = self._now()
        moved = await self._blocking(
            lambda: self._store.close(
                row.id, attempts=row.attempts, status=status, outbound=outbound, now=now
            )
        )
        if not moved:
            return  # another process settled it first
        self.outcomes[status.value] += 1
        log.info(
            "hl7 re-lookup %d (inbox %d) closed %s, %d result(s) queued",
            row.id,
            row.message.inbox_id,
            status.value,
            len(outbound),
        )
        if outbound:
            self._on_queued()
