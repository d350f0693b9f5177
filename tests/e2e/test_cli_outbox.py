"""`cdr outbox list` and `cdr outbox retry`: what an operator uses when a destination was down."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cdr.cli import main
from cdr.storage import Database
from cdr.storage.inbox import SqlInbox
from cdr.storage.outbox import SqlOutbox
from hl7_listener.ports import InboundMessage, OutboundMessage, OutboxStatus

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    """An outbox with one delivered, one pending and two dead-lettered results."""
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CDR_DATABASE_URL", raising=False)
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    database.migrate()
    inbox, store = SqlInbox(database.engine), SqlOutbox(database.engine)
    for number in range(4):
        [outcome] = inbox.store_many(
            [
                InboundMessage(
                    sender_key="CPAGE|CHU",
                    control_id=f"IN-{number}",
                    received_at=NOW,
                    message_type="ADT^A01",
                    patient_key=f"p{number}",
                    charset="ascii",
                    raw=b"MSH|...",
                    ack=b"MSH|...\rMSA|AA|IN\r",
                )
            ]
        )
        assert outcome.inbox_id is not None
        inbox.complete(
            outcome.inbox_id,
            [OutboundMessage("127.0.0.1:6661", f"OUT-{number}", b"MSH|...")],
            lookup_id=None,
            now=NOW,
        )
    items = sorted(store.items(), key=lambda item: item.id)
    store.delivered(items[0].id, ack_code="AA", now=NOW)
    store.retry_later(items[1].id, error="refused", next_attempt_at=NOW + timedelta(minutes=5))
    store.dead(items[2].id, error="destination answered AR", now=NOW)
    store.dead(items[3].id, error="destination answered AE", now=NOW)
    yield store
    database.dispose()


def test_outbox_list_json_shows_every_state_and_the_last_error(outbox, capsys):
    assert main(["outbox", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"delivered": 1, "pending": 1, "dead": 2}
    by_control_id = {item["control_id"]: item for item in data["items"]}
    assert by_control_id["OUT-0"]["status"] == "delivered"
    assert by_control_id["OUT-0"]["ack_code"] == "AA"
    assert by_control_id["OUT-1"]["last_error"] == "refused"
    assert by_control_id["OUT-2"]["status"] == "dead"
    assert by_control_id["OUT-2"]["last_error"] == "destination answered AR"


def test_outbox_list_filters_by_status_as_a_table(outbox, capsys):
    assert main(["outbox", "list", "--status", "dead"]) == 0
    out = capsys.readouterr().out
    assert "OUT-2" in out and "OUT-3" in out
    assert "OUT-0" not in out and "OUT-1" not in out
    assert "2 dead" in out


def test_outbox_retry_requeues_the_named_dead_messages(outbox, capsys):
    dead = {item.control_id: item.id for item in outbox.items(status=OutboxStatus.DEAD)}
    assert main(["outbox", "retry", str(dead["OUT-2"])]) == 0
    assert "1 message(s) requeued" in capsys.readouterr().out
    assert [item.control_id for item in outbox.items(status=OutboxStatus.DEAD)] == ["OUT-3"]
    assert main(["outbox", "retry", "--all"]) == 0
    assert outbox.items(status=OutboxStatus.DEAD) == []
    assert outbox.depth() == {"delivered": 1, "pending": 3}


def test_outbox_retry_without_ids_says_what_to_give(outbox, capsys):
    assert main(["outbox", "retry"]) == 2
    assert "name the outbox ids to retry, or --all" in capsys.readouterr().err
