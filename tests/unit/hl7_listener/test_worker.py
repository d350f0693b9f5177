"""InboxWorker: lanes by patient, the in-flight bound, failures, refused completions, wake()."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from hl7_listener.ports import InboxStatus, OutboundMessage, PendingMessage
from hl7_listener.processing import Processed
from hl7_listener.worker import InboxWorker
from rights.errors import MappingError
from tests.unit.hl7_listener.fakes import (
    FakeClock,
    MemoryInbox,
    direct,
    wait_for_count,
    wait_until,
)

LANES = 32


def patients_in_distinct_lanes(count: int, lanes: int = LANES) -> list[str]:
    """Patient keys the worker deals to ``count`` different lanes (it hashes with CRC-32), so
    that a test about parallelism is not defeated by two patients sharing a lane."""
    keys: list[str] = []
    used: set[int] = set()
    for n in range(10_000):
        key = f"patient-{n}"
        lane = zlib.crc32(key.encode()) % lanes
        if lane not in used:
            used.add(lane)
            keys.append(key)
            if len(keys) == count:
                return keys
    raise AssertionError("not enough lanes")


class Processor:
    """The ``process`` function: records starts and ends, and holds a message while its gate is
    closed. ``gate(id)`` closes the next processing of ``id``; ``fail[id]`` raises instead."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.running: set[int] = set()
        self.peak = 0
        self.overlaps: list[int] = []  # ids that started while already being processed
        self.fail: dict[int, Exception] = {}
        self._gates: dict[int, list[asyncio.Event]] = {}

    def gate(self, inbox_id: int) -> asyncio.Event:
        event = asyncio.Event()
        self._gates.setdefault(inbox_id, []).append(event)
        return event

    def starts(self, inbox_id: int | None = None) -> list[int]:
        return [i for e, i in self.events if e == "start" and inbox_id in (None, i)]

    def ends(self) -> list[int]:
        return [i for e, i in self.events if e == "end"]

    async def __call__(self, row: PendingMessage) -> Processed:
        if row.inbox_id in self.running:
            self.overlaps.append(row.inbox_id)
        self.running.add(row.inbox_id)
        self.peak = max(self.peak, len(self.running))
        self.events.append(("start", row.inbox_id))
        try:
            gates = self._gates.get(row.inbox_id)
            if gates:
                await gates.pop(0).wait()
            if row.inbox_id in self.fail:
                raise self.fail[row.inbox_id]
            outbound = OutboundMessage("bus:2575", f"OUT-{row.inbox_id}", b"ADT^Z99")
            return Processed(f"lookup-{row.inbox_id}", (outbound,))
        finally:
            self.running.discard(row.inbox_id)
            self.events.append(("end", row.inbox_id))


@asynccontextmanager
async def running(
    inbox: MemoryInbox, process: Processor, **options: Any
) -> AsyncIterator[InboxWorker]:
    options.setdefault("poll_interval_s", 0.01)
    worker = InboxWorker(
        inbox=inbox, blocking=direct, process=process, now=FakeClock().now, **options
    )
    worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def test_one_patients_messages_are_processed_one_at_a_time_in_inbox_order() -> None:
    inbox, process = MemoryInbox(), Processor()
    patient, other = patients_in_distinct_lanes(2)
    first, second, third = (inbox.add(patient) for _ in range(3))
    elsewhere = inbox.add(other)
    slow = process.gate(first)  # the first is the slowest, the later ones take no time
    watcher = process.gate(elsewhere)
    async with running(inbox, process, lanes=LANES):
        await wait_until(lambda: set(process.running) == {first, elsewhere}, what="both lanes")
        watcher.set()
        await wait_until(lambda: elsewhere in process.ends(), what="the other patient's message")
        # The other lane has moved on; this patient's next messages still wait for the first.
        assert process.starts() == [first, elsewhere]
        slow.set()
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")
    same_patient = [(e, i) for e, i in process.events if i != elsewhere]
    assert same_patient == [
        ("start", first),
        ("end", first),
        ("start", second),
        ("end", second),
        ("start", third),
        ("end", third),
    ]
    assert [inbox.status(i) for i in (first, second, third)] == [InboxStatus.DONE] * 3


async def test_completion_order_follows_the_inbox_even_when_later_gates_open_first() -> None:
    inbox, process = MemoryInbox(), Processor()
    [patient] = patients_in_distinct_lanes(1)
    ids = [inbox.add(patient) for _ in range(3)]
    gates = [process.gate(i) for i in ids]
    for gate in reversed(gates[1:]):  # the later messages could finish at once...
        gate.set()
    async with running(inbox, process):
        await wait_until(lambda: process.starts() == ids[:1], what="the first message")
        gates[0].set()  # ...but only once the first is done do they start
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")
    assert process.ends() == ids
    assert [i for i, _ in inbox.queued] == ids


async def test_different_patients_are_processed_in_parallel() -> None:
    inbox, process = MemoryInbox(), Processor()
    one, two = patients_in_distinct_lanes(2)
    ids = [inbox.add(one), inbox.add(two)]
    gates = [process.gate(i) for i in ids]
    async with running(inbox, process, lanes=LANES):
        # Both in flight at once: neither lane waits for the other to finish.
        await wait_until(lambda: process.running == set(ids), what="both patients in flight")
        for gate in gates:
            gate.set()
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")
    assert process.peak == 2


async def test_no_more_than_max_in_flight_messages_are_taken_at_once() -> None:
    inbox, process = MemoryInbox(), Processor()
    patients = patients_in_distinct_lanes(10)
    ids = [inbox.add(p) for p in patients]
    gates = {i: process.gate(i) for i in ids}
    async with running(inbox, process, lanes=LANES, max_in_flight=3):
        for done in range(len(ids)):
            expected = min(done + 3, len(ids))
            await wait_for_count(lambda: len(process.starts()), expected, what="started")
            assert len(process.running) == min(3, len(ids) - done)
            gates[process.starts()[done]].set()
            await wait_for_count(lambda: len(process.ends()), done + 1, what="finished")
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")
    assert process.peak == 3
    assert process.starts() == ids
    assert all(limit <= 3 for _, limit in inbox.pending_calls)


@pytest.mark.parametrize(
    "error",
    [MappingError("PID-3: no usable NIR", code=101, location="PID-3"), RuntimeError("bug")],
    ids=["CdrError", "unexpected"],
)
async def test_a_message_that_cannot_be_processed_is_marked_failed_and_the_worker_goes_on(
    error: Exception,
) -> None:
    inbox, process = MemoryInbox(), Processor()
    [patient] = patients_in_distinct_lanes(1)
    bad, good = inbox.add(patient), inbox.add(patient)
    process.fail[bad] = error
    async with running(inbox, process) as worker:
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")
        assert (worker.failed, worker.processed) == (1, 1)
    assert inbox.status(bad) is InboxStatus.FAILED
    assert str(error) in inbox.rows[bad].error
    assert inbox.status(good) is InboxStatus.DONE
    assert [i for i, _ in inbox.queued] == [good]


async def test_a_refused_completion_is_retried_without_processing_the_message_again() -> None:
    inbox, process = MemoryInbox(), Processor()
    [patient] = patients_in_distinct_lanes(1)
    first = inbox.add(patient)
    inbox.fail_complete = {first: 2}
    async with running(inbox, process, retry_s=0.01):
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")
    assert inbox.complete_calls.count(first) == 3  # refused twice, then recorded
    assert process.starts(first) == [first]  # the lookup ran once
    assert [i for i, _ in inbox.queued] == [first]


async def test_a_refused_completion_keeps_the_patients_order() -> None:
    inbox, process = MemoryInbox(), Processor()
    [patient] = patients_in_distinct_lanes(1)
    first, second = inbox.add(patient), inbox.add(patient)
    inbox.fail_complete = {first: 1}
    async with running(inbox, process, retry_s=0.01):
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")
    assert [i for i, _ in inbox.queued] == [first, second]


async def test_wake_processes_a_new_message_without_waiting_for_the_poll() -> None:
    inbox, process = MemoryInbox(), Processor()
    async with running(inbox, process, poll_interval_s=60.0) as worker:
        await wait_until(lambda: len(inbox.pending_calls) == 1, what="the first empty scan")
        message = inbox.add("patient-late")
        worker.wake()
        await wait_until(lambda: inbox.status(message) is InboxStatus.DONE, what="the message")
        assert await worker.idle()
    assert process.starts() == [message]


async def test_while_messages_arrive_lookups_trickle_and_the_acks_go_first() -> None:
    inbox, process = MemoryInbox(), Processor()
    ids = [inbox.add(key) for key in patients_in_distinct_lanes(8)]
    gates = [process.gate(i) for i in ids]
    async with running(inbox, process, busy_window_s=0.5, busy_rate=2.0) as worker:
        # The intake keeps accepting messages (the first wake comes before the worker's tasks
        # first run): lookups start at two per second at most, not all eight at once...
        for _ in range(10):
            worker.wake()
            await asyncio.sleep(0.05)
        assert 1 <= len(process.running) <= 2
        # ...and once it is quiet, every lane runs.
        await wait_until(lambda: len(process.running) == 8, what="all lanes once quiet")
        for gate in gates:
            gate.set()
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")


async def test_arrivals_seen_in_the_inbox_also_make_lookups_trickle() -> None:
    """With the intake in another process nobody calls wake(): the worker notices the inbox's
    newest id moving."""
    inbox, process = MemoryInbox(), Processor()
    keys = patients_in_distinct_lanes(9)
    inbox.add(keys[0])
    async with running(inbox, process, busy_window_s=0.5, busy_rate=2.0, poll_interval_s=0.05):
        await wait_until(lambda: len(process.starts()) == 1, what="the first message")
        gates = []
        for key in keys[1:]:  # another process stores eight messages
            message = inbox.add(key)
            gates.append(process.gate(message))
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert 1 <= len(process.running) <= 2
        for gate in gates:
            gate.set()
        await wait_until(lambda: inbox.depth() == 0, what="the inbox to drain")
