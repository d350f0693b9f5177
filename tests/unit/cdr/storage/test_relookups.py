"""The re-lookups on SQL (issue 18 item 5), on SQLite and on PostgreSQL when
``CDR_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cdr.storage import SqlInbox, SqlOutbox
from cdr.storage.relookups import SqlRelookups
from hl7_listener.ports import InboundMessage, OutboundMessage, RelookupRequest
from hl7_listener.relookup_policy import RelookupStatus

T0 = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
NIR = "185077512345678"


@pytest.fixture
def stores(migrated):
    engine = migrated.engine
    return SqlInbox(engine), SqlOutbox(engine), SqlRelookups(engine)


def _store(inbox: SqlInbox, control_id: str, *, patient: str = NIR) -> int:
    raw = f"MSH|^~\\&|LAB|HOSP|CDR|GW|20261124083015||ADT^A01^ADT_A01|{control_id}|P|2.5\r"
    message = InboundMessage(
        sender_key="LAB|HOSP",
        control_id=control_id,
        received_at=T0,
        message_type="ADT^A01",
        patient_key=patient,
        charset="latin-1",
        raw=raw.encode(),
        ack=b"MSA|AA\r",
    )
    (outcome,) = inbox.store_many([message])
    assert outcome.inbox_id is not None
    return outcome.inbox_id


def _request(*, patient: str = NIR, due_s: float = 30, window_s: float = 3600) -> RelookupRequest:
    return RelookupRequest(
        patient_key=patient,
        waiting_for=("msa", "cnmss"),
        next_attempt_at=T0 + timedelta(seconds=due_s),
        deadline_at=T0 + timedelta(seconds=window_s),
    )


def _out(control_id: str, destination: str = "127.0.0.1:6661") -> OutboundMessage:
    return OutboundMessage(destination, control_id, f"MSH|Z99 {control_id}\r".encode())


def test_a_re_lookup_is_recorded_with_the_first_result_and_is_due_at_its_time(stores) -> None:
    inbox, outbox, relookups = stores
    inbox_id = _store(inbox, "M1")
    inbox.complete(inbox_id, [_out("R1")], lookup_id=None, now=T0, relookup=_request())
    # Completing again (a retried transaction) records nothing twice.
    inbox.complete(inbox_id, [_out("R1")], lookup_id=None, now=T0, relookup=_request())
    assert relookups.depth() == {"pending": 1}
    assert relookups.due(now=T0 + timedelta(seconds=29), limit=10) == []
    (due,) = relookups.due(now=T0 + timedelta(seconds=30), limit=10)
    assert due.attempts == 0 and due.deadline_at == T0 + timedelta(hours=1)
    assert due.message.inbox_id == inbox_id and due.message.received_at == T0
    assert due.message.raw.startswith(b"MSH|") and due.message.charset == "latin-1"
    (item,) = relookups.items()
    assert (item.control_id, item.status, item.waiting_for) == (
        "M1",
        RelookupStatus.PENDING,
        ("msa", "cnmss"),
    )


def test_closing_queues_the_updated_result_behind_the_first_once(stores) -> None:
    inbox, outbox, relookups = stores
    inbox_id = _store(inbox, "M1")
    inbox.complete(inbox_id, [_out("FIRST")], lookup_id=None, now=T0, relookup=_request(due_s=0))
    (due,) = relookups.due(now=T0, limit=10)
    later = T0 + timedelta(minutes=5)
    closed = relookups.close(
        due.id, attempts=0, status=RelookupStatus.FINAL, outbound=[_out("UPDATE")], now=later
    )
    # A second process that read the same row before: its close is refused, nothing queued.
    again = relookups.close(
        due.id, attempts=0, status=RelookupStatus.FINAL, outbound=[_out("DUP")], now=later
    )
    assert (closed, again) == (True, False)
    head = outbox.head("127.0.0.1:6661")
    assert head is not None and head.control_id == "FIRST"
    queued = [i.control_id for i in reversed(outbox.items())]
    assert queued == ["FIRST", "UPDATE"]
    (item,) = relookups.items()
    assert item.status is RelookupStatus.FINAL and item.closed_at == later
    assert item.attempts == 1 and item.waiting_for == ()
    assert relookups.due(now=later + timedelta(days=1), limit=10) == []


def test_rescheduling_moves_the_next_try_and_counts_it(stores) -> None:
    inbox, _, relookups = stores
    inbox_id = _store(inbox, "M1")
    inbox.complete(inbox_id, [_out("R1")], lookup_id=None, now=T0, relookup=_request(due_s=0))
    (due,) = relookups.due(now=T0, limit=10)
    next_at = T0 + timedelta(seconds=60)
    assert relookups.reschedule(due.id, attempts=0, next_attempt_at=next_at, waiting_for=["msa"])
    assert not relookups.reschedule(due.id, attempts=0, next_attempt_at=T0, waiting_for=[])
    assert relookups.due(now=next_at - timedelta(seconds=1), limit=10) == []
    (due,) = relookups.due(now=next_at, limit=10)
    assert due.attempts == 1
    assert relookups.items()[0].waiting_for == ("msa",)


def test_a_newer_processed_message_of_the_patient_supersedes_the_re_lookup(stores) -> None:
    inbox, _, relookups = stores
    first = _store(inbox, "M1")
    inbox.complete(first, [_out("R1")], lookup_id=None, now=T0, relookup=_request(due_s=0))
    other_patient = _store(inbox, "M2", patient="299017512345678")
    inbox.complete(other_patient, [_out("R2")], lookup_id=None, now=T0)
    (due,) = relookups.due(now=T0, limit=10)
    assert not relookups.superseded(due.id)  # another patient's message does not count
    newer = _store(inbox, "M3")
    assert not relookups.superseded(due.id)  # stored, not processed yet: its result is not out
    inbox.complete(newer, [_out("R3")], lookup_id=None, now=T0)
    assert relookups.superseded(due.id)


def test_a_close_checks_again_that_no_newer_message_was_processed(stores) -> None:
    # The loop checked before its lookup; a newer admission processed during the lookup must
    # not be overtaken by this older one's result.
    inbox, outbox, relookups = stores
    first = _store(inbox, "M1")
    inbox.complete(first, [_out("R1")], lookup_id=None, now=T0, relookup=_request(due_s=0))
    (due,) = relookups.due(now=T0, limit=10)
    assert not relookups.superseded(due.id)
    newer = _store(inbox, "M2")
    inbox.complete(newer, [_out("R2")], lookup_id=None, now=T0)
    final = RelookupStatus.FINAL
    assert not relookups.close(due.id, attempts=0, status=final, outbound=[_out("U1")], now=T0)
    assert [i.control_id for i in outbox.items()] == ["R2", "R1"]
    assert relookups.close(
        due.id, attempts=0, status=RelookupStatus.SUPERSEDED, outbound=(), now=T0
    )
    assert relookups.items()[0].status is RelookupStatus.SUPERSEDED
