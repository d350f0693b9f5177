"""The re-lookup loop's decisions, with an in-memory store and a clock passed in."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hl7_listener.ports import OutboundMessage, PendingMessage
from hl7_listener.processing import Processed
from hl7_listener.relookup import DueRelookup, RelookupItem, RelookupLoop
from hl7_listener.relookup_policy import RelookupPolicy, RelookupStatus

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
POLICY = RelookupPolicy(window_s=100, backoff_s=10, backoff_max_s=40)
MESSAGE = PendingMessage(7, "185077512345678", "ADT^A01", "ascii", b"MSH|", T0)
RESULT = (OutboundMessage("127.0.0.1:6661", "OUT-2", b"MSH|"),)


@dataclasses.dataclass
class Row:
    attempts: int = 0
    next_at: datetime = T0
    status: RelookupStatus = RelookupStatus.PENDING
    waiting_for: tuple[str, ...] = ("msa",)
    queued: tuple[OutboundMessage, ...] = ()
    superseded: bool = False


class FakeStore:
    def __init__(self) -> None:
        self.row = Row()

    def due(self, *, now: datetime, limit: int) -> list[DueRelookup]:
        row = self.row
        if row.status is not RelookupStatus.PENDING or row.next_at > now:
            return []
        return [DueRelookup(1, row.attempts, T0 + timedelta(seconds=100), MESSAGE)]

    def superseded(self, relookup_id: int) -> bool:
        return self.row.superseded

    def reschedule(
        self,
        relookup_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        waiting_for: Sequence[str] | None,
    ) -> bool:
        self.row.attempts += 1
        self.row.next_at = next_attempt_at
        if waiting_for is not None:
            self.row.waiting_for = tuple(waiting_for)
        return True

    def close(
        self,
        relookup_id: int,
        *,
        attempts: int,
        status: RelookupStatus,
        outbound: Sequence[OutboundMessage],
        now: datetime,
    ) -> bool:
        self.row.status, self.row.queued = status, tuple(outbound)
        return True

    def items(
        self, *, status: RelookupStatus | None = None, limit: int = 100
    ) -> list[RelookupItem]:
        return []

    def depth(self) -> dict[str, int]:
        return {}


async def _blocking(fn: Any) -> Any:
    return fn()


def _loop(store: FakeStore, clock: list[datetime], answers: list[Processed | Exception]):
    asked: list[bool] = []

    async def again(_message: PendingMessage, last: bool) -> Processed:
        asked.append(last)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    loop = RelookupLoop(
        store=store, blocking=_blocking, again=again, policy=POLICY, now=lambda: clock[0]
    )
    return loop, asked


STILL_DOWN = Processed("L", (), final=False, not_asked=("msa",))
ANSWERED = Processed("L", RESULT)
EXPIRED = Processed("L", RESULT, not_asked=("msa",))


async def test_tries_back_off_until_every_regime_answers_then_queue_the_final_result() -> None:
    store, clock = FakeStore(), [T0]
    loop, asked = _loop(store, clock, [STILL_DOWN, STILL_DOWN, ANSWERED])
    assert await loop.run_once() == 1
    assert store.row.next_at == T0 + timedelta(seconds=20)  # after the 1st try: 10 × 2¹
    clock[0] = T0 + timedelta(seconds=19)
    assert await loop.run_once() == 0  # not due yet
    clock[0] = T0 + timedelta(seconds=20)
    await loop.run_once()
    assert store.row.next_at == clock[0] + timedelta(seconds=40)  # capped
    clock[0] = store.row.next_at
    await loop.run_once()
    assert store.row.status is RelookupStatus.FINAL and store.row.queued == RESULT
    assert asked == [False, False, False]
    assert loop.outcomes == {"retry": 2, "final": 1}


async def test_the_try_at_the_deadline_is_the_last_and_closes_expired() -> None:
    store, clock = FakeStore(), [T0 + timedelta(seconds=100)]
    loop, asked = _loop(store, clock, [EXPIRED])
    await loop.run_once()
    assert asked == [True]
    assert store.row.status is RelookupStatus.EXPIRED and store.row.queued == RESULT


async def test_a_superseded_re_lookup_is_closed_without_a_lookup_or_a_result() -> None:
    store, clock = FakeStore(), [T0]
    store.row.superseded = True
    loop, asked = _loop(store, clock, [])
    await loop.run_once()
    assert asked == [] and store.row.status is RelookupStatus.SUPERSEDED
    assert store.row.queued == ()


async def test_a_failing_re_lookup_is_backed_off_not_retried_at_every_poll() -> None:
    store, clock = FakeStore(), [T0]
    loop, _ = _loop(store, clock, [RuntimeError("bug"), RuntimeError("bug")])
    await loop.run_once()
    assert store.row.status is RelookupStatus.PENDING
    assert store.row.next_at == T0 + timedelta(seconds=20) and store.row.waiting_for == ("msa",)
    clock[0] = T0 + timedelta(seconds=100)
    store.row.next_at = clock[0]
    await loop.run_once()
    assert store.row.status is RelookupStatus.EXPIRED and store.row.queued == ()
