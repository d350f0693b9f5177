"""``SqlOutbox``: store-and-forward of the HL7 results, fed by completed inbox messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hl7_listener.ports import OutboxStatus
from rights.errors import StorageError
from tests.unit.cdr.storage.test_inbox import T0, _queue


def test_head_is_the_oldest_pending_item_and_due_respects_the_next_attempt(inbox, outbox):
    _queue(inbox, ["1", "2", "3"], ["bus:2575"])
    head = outbox.head("bus:2575")
    assert head is not None and head.control_id == "OUT1"
    assert head.payload == b"MSH|Z99 OUT1\r" and isinstance(head.payload, bytes)
    assert [i.control_id for i in outbox.due("bus:2575", now=T0, limit=10)] == [
        "OUT1",
        "OUT2",
        "OUT3",
    ]
    assert outbox.due("bus:2575", now=T0 - timedelta(seconds=1), limit=10) == []
    assert len(outbox.due("bus:2575", now=T0, limit=2)) == 2

    later = T0 + timedelta(seconds=30)
    assert outbox.retry_later(head.id, error="timeout", next_attempt_at=later) == 1
    # Not due any more, yet still the head: delivery to one destination keeps its order.
    assert outbox.head("bus:2575").id == head.id
    assert [i.control_id for i in outbox.due("bus:2575", now=T0, limit=10)] == ["OUT2", "OUT3"]
    assert [i.control_id for i in outbox.due("bus:2575", now=later, limit=10)] == [
        "OUT1",
        "OUT2",
        "OUT3",
    ]
    assert outbox.head("elsewhere:1") is None


def test_an_item_is_retried_then_delivered(inbox, outbox):
    _queue(inbox, ["1"], ["bus:2575"])
    item = outbox.head("bus:2575")
    paris = timezone(timedelta(hours=2))
    next_at = datetime(2026, 11, 24, 10, 31, tzinfo=paris)
    assert outbox.retry_later(item.id, error="refused", next_attempt_at=next_at) == 1
    assert outbox.retry_later(item.id, error="AE from the bus", next_attempt_at=next_at) == 2
    retried = outbox.head("bus:2575")
    assert retried.attempts == 2 and retried.last_error == "AE from the bus"
    assert retried.next_attempt_at == next_at and retried.next_attempt_at.tzinfo is UTC

    outbox.delivered(item.id, ack_code="CA", now=T0 + timedelta(minutes=3))
    assert outbox.head("bus:2575") is None and outbox.destinations() == []
    (done,) = outbox.items(status=OutboxStatus.DELIVERED)
    assert done.attempts == 3 and done.ack_code == "CA"
    assert done.delivered_at == T0 + timedelta(minutes=3)
    assert outbox.depth() == {"delivered": 1}


def test_dead_items_leave_the_queue_until_requeued(inbox, outbox):
    _queue(inbox, ["1", "2", "3"], ["bus:2575"])
    first, second, third = outbox.due("bus:2575", now=T0, limit=10)
    outbox.retry_later(first.id, error="timeout", next_attempt_at=T0)
    outbox.dead(first.id, error="timeout, gave up", now=T0)
    outbox.dead(second.id, error="AR", now=T0)
    assert outbox.head("bus:2575").id == third.id
    dead = outbox.items(status=OutboxStatus.DEAD)
    assert [i.id for i in dead] == [second.id, first.id]  # newest first
    assert dead[1].attempts == 2 and dead[1].last_error == "timeout, gave up"
    assert outbox.depth() == {"dead": 2, "pending": 1}

    later = T0 + timedelta(hours=1)
    assert outbox.requeue([first.id, third.id], now=later) == 1  # third is not dead
    requeued = outbox.head("bus:2575")
    assert requeued.id == first.id and requeued.attempts == 0
    assert requeued.next_attempt_at == later
    assert requeued.last_error == "timeout, gave up"
    assert outbox.requeue([], now=later) == 0
    assert outbox.requeue(None, now=later) == 1  # second
    assert outbox.depth() == {"pending": 3}


def test_destinations_and_depth_cover_every_pending_destination(inbox, outbox):
    _queue(inbox, ["1", "2"], ["bus:2575", "archive:2576"])
    assert outbox.destinations() == ["archive:2576", "bus:2575"]
    assert outbox.depth() == {"pending": 4}
    for item in outbox.due("archive:2576", now=T0, limit=10):
        outbox.delivered(item.id, ack_code="AA", now=T0)
    assert outbox.destinations() == ["bus:2575"]
    assert outbox.depth() == {"pending": 2, "delivered": 2}
    assert len(outbox.items(limit=3)) == 3
    with pytest.raises(StorageError, match="outbox item 9999 does not exist"):
        outbox.retry_later(9999, error="x", next_attempt_at=T0)
