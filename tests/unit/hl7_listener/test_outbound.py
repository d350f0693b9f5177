"""OutboundSender: head-of-line delivery per destination, ACK codes, backoff, dead letters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest

from hl7_listener.client import DeliveryFailed
from hl7_listener.outbound import OutboundSender, ack_code_of
from hl7_listener.ports import OutboxStatus
from tests.unit.hl7_listener.fakes import (
    FakeClock,
    MemoryOutbox,
    ScriptedDelivery,
    ack_reply,
    direct,
    wait_for_count,
    wait_until,
)

DESTINATION = "bus.example:2575"


@asynccontextmanager
async def sending(
    outbox: MemoryOutbox, delivery: ScriptedDelivery, clock: FakeClock, **options: Any
) -> AsyncIterator[OutboundSender]:
    connected: list[str] = []

    def connect(destination: str) -> ScriptedDelivery:
        connected.append(destination)
        return delivery

    # A short poll: the sender re-reads the head often, so a due retry is seen soon after the
    # fake clock moves (the clock, not the poll, decides when an item is due).
    sender = OutboundSender(
        outbox=outbox,
        blocking=direct,
        connect=connect,
        now=clock.now,
        destinations=[DESTINATION],
        poll_interval_s=0.005,
        **options,
    )
    sender.start()
    try:
        yield sender
    finally:
        await sender.stop()
    assert connected == [DESTINATION]
    assert delivery.closed


def status_of(outbox: MemoryOutbox, item_id: int) -> OutboxStatus:
    return outbox.rows[item_id].status


@pytest.mark.parametrize("code", ["AA", "CA", "aa"])
async def test_an_accepting_ack_marks_the_item_delivered(code: str) -> None:
    outbox, clock = MemoryOutbox(), FakeClock()
    item = outbox.add(DESTINATION, b"ADT^Z99 one")
    delivery = ScriptedDelivery(ack_reply(code))
    async with sending(outbox, delivery, clock) as sender:
        await wait_until(lambda: status_of(outbox, item) is OutboxStatus.DELIVERED, what="ack")
        assert (sender.delivered, sender.failures) == (1, 0)
    delivered = outbox.rows[item]
    assert delivered.ack_code == code.upper()
    assert delivered.delivered_at == clock.now()
    assert delivered.attempts == 1
    assert delivery.payloads == [b"ADT^Z99 one"]
    assert outbox.retries == []


async def test_failures_back_off_doubling_then_the_item_is_dead_and_the_queue_moves_on() -> None:
    outbox, clock = MemoryOutbox(), FakeClock()
    first = outbox.add(DESTINATION, b"first")
    second = outbox.add(DESTINATION, b"second")
    delivery = ScriptedDelivery(
        ack_reply("AE"),
        ack_reply("AR"),
        DeliveryFailed("connection refused by bus.example:2575", reason="refused"),
        ack_reply("CE"),
    )
    async with sending(outbox, delivery, clock, max_attempts=4, backoff_s=1.0) as sender:
        for tries, delay in enumerate([1.0, 2.0, 4.0], start=1):
            await wait_for_count(lambda: len(outbox.retries), tries, what="retries")
            item_id, _, next_at = outbox.retries[-1]
            assert item_id == first
            assert next_at == clock.now() + timedelta(seconds=delay)
            assert outbox.rows[first].attempts == tries
            assert delivery.payloads == [b"first"] * tries  # the second waits behind it
            clock.advance(delay)
        await wait_until(lambda: status_of(outbox, second) is OutboxStatus.DELIVERED, what="2nd")
        assert (sender.delivered, sender.failures, sender.dead) == (1, 4, 1)
    assert delivery.payloads == [b"first"] * 4 + [b"second"]
    dead = outbox.rows[first]
    assert dead.status is OutboxStatus.DEAD
    assert dead.attempts == 4
    assert "CE" in dead.last_error
    errors = [error for _, error, _ in outbox.retries]
    assert "AE" in errors[0] and "AR" in errors[1] and "connection refused" in errors[2]


async def test_the_backoff_stops_growing_at_its_maximum() -> None:
    outbox, clock = MemoryOutbox(), FakeClock()
    item = outbox.add(DESTINATION, b"only")
    delivery = ScriptedDelivery(then=ack_reply("AR"))
    options = {"max_attempts": 6, "backoff_s": 1.0, "backoff_max_s": 3.0}
    delays: list[float] = []
    async with sending(outbox, delivery, clock, **options):
        for tries in range(1, 6):
            await wait_for_count(lambda: len(outbox.retries), tries, what="retries")
            # The fake clock stood still since the try: the schedule is relative to it.
            delay = (outbox.retries[-1][2] - clock.now()).total_seconds()
            delays.append(delay)
            clock.advance(delay)
        await wait_until(lambda: status_of(outbox, item) is OutboxStatus.DEAD, what="dead")
    assert delays == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert outbox.rows[item].attempts == 6


async def test_a_reply_that_is_not_an_ack_counts_as_a_failed_try() -> None:
    outbox, clock = MemoryOutbox(), FakeClock()
    item = outbox.add(DESTINATION, b"only")
    delivery = ScriptedDelivery(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    async with sending(outbox, delivery, clock, backoff_s=2.0):
        await wait_until(lambda: len(outbox.retries) == 1, what="the retry")
        assert outbox.retries[0][1].endswith("no readable ACK")
        assert outbox.retries[0][2] == clock.now() + timedelta(seconds=2)
        clock.advance(2)
        await wait_until(lambda: status_of(outbox, item) is OutboxStatus.DELIVERED, what="AA")


async def test_a_later_item_is_not_sent_while_the_head_waits_for_its_retry() -> None:
    outbox, clock = MemoryOutbox(), FakeClock()
    head = outbox.add(DESTINATION, b"head")
    behind = outbox.add(DESTINATION, b"behind")  # due now, but behind the head
    delivery = ScriptedDelivery(ack_reply("AE"))
    async with sending(outbox, delivery, clock, backoff_s=30.0):
        await wait_until(lambda: len(outbox.retries) == 1, what="the head's failed try")
        reads = outbox.head_calls
        await wait_until(lambda: outbox.head_calls >= reads + 5, what="several more loops")
        assert delivery.payloads == [b"head"]
        assert outbox.rows[behind].attempts == 0
        assert status_of(outbox, behind) is OutboxStatus.PENDING
        clock.advance(30)
        await wait_until(lambda: status_of(outbox, behind) is OutboxStatus.DELIVERED, what="2nd")
    assert delivery.payloads == [b"head", b"head", b"behind"]
    assert status_of(outbox, head) is OutboxStatus.DELIVERED


async def test_each_destination_has_its_own_queue() -> None:
    outbox, clock = MemoryOutbox(), FakeClock()
    stuck = outbox.add(DESTINATION, b"stuck")
    other = outbox.add("other.example:2575", b"elsewhere")  # found in the outbox, not configured
    deliveries = {
        DESTINATION: ScriptedDelivery(then=ack_reply("AE")),
        "other.example:2575": ScriptedDelivery(),
    }
    sender = OutboundSender(
        outbox=outbox,
        blocking=direct,
        connect=deliveries.__getitem__,
        now=clock.now,
        destinations=[DESTINATION],
        poll_interval_s=0.005,
    )
    sender.start()
    try:
        await wait_until(lambda: status_of(outbox, other) is OutboxStatus.DELIVERED, what="other")
    finally:
        await sender.stop()
    assert status_of(outbox, stuck) is OutboxStatus.PENDING
    assert deliveries["other.example:2575"].payloads == [b"elsewhere"]


@pytest.mark.parametrize(
    "reply",
    [
        b"",
        b"garbage",
        b"\xff\xfe\x00\x01",
        b"MSH",
        b"PID|1||123",
        b"MSH|^~\\&|RECV|BUS|||||ACK|1|P|2.5\r",  # no MSA
        b"MSH|^~\\&|\rNOT A SEGMENT\r",
    ],
    ids=["empty", "text", "binary", "bare-msh", "no-msh", "no-msa", "bad-segment"],
)
def test_ack_code_of_garbage_is_empty(reply: bytes) -> None:
    assert ack_code_of(reply) == ""


def test_ack_code_of_reads_msa_1_in_upper_case() -> None:
    assert ack_code_of(ack_reply("ca")) == "CA"
    assert ack_code_of(ack_reply("AR")) == "AR"
