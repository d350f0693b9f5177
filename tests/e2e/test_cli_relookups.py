"""`cdr outbox relookups`: the admissions an operator sees being looked up again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cdr.cli import main
from cdr.storage import Database
from cdr.storage.inbox import SqlInbox
from cdr.storage.relookups import SqlRelookups
from hl7_listener.ports import InboundMessage, OutboundMessage, RelookupRequest
from hl7_listener.relookup_policy import RelookupStatus

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def relookups(tmp_path, monkeypatch):
    """Two admissions whose first result was not final: one still pending, one closed."""
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CDR_DATABASE_URL", raising=False)
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    database.migrate()
    inbox, store = SqlInbox(database.engine), SqlRelookups(database.engine)
    for number in range(2):
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
            relookup=RelookupRequest(
                f"p{number}", ("msa",), NOW + timedelta(seconds=30), NOW + timedelta(hours=1)
            ),
        )
    (closing, _) = store.due(now=NOW + timedelta(minutes=1), limit=10)
    store.close(closing.id, attempts=0, status=RelookupStatus.FINAL, outbound=(), now=NOW)
    yield store
    database.dispose()


def test_relookups_json_lists_each_with_what_it_waits_for(relookups, capsys):
    assert main(["outbox", "relookups", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"pending": 1, "final": 1}
    by_control = {item["control_id"]: item for item in data["items"]}
    pending = next(i for i in by_control.values() if i["status"] == "pending")
    assert pending["waiting_for"] == ["msa"] and pending["attempts"] == 0
    assert pending["deadline_at"].startswith("2026-11-24T10:00:00")
    closed = next(i for i in by_control.values() if i["status"] == "final")
    assert closed["closed_at"] is not None and closed["waiting_for"] == []


def test_relookups_table_and_status_filter(relookups, capsys):
    assert main(["outbox", "relookups", "--status", "pending"]) == 0
    out = capsys.readouterr().out
    assert "Waiting for" in out and "msa" in out
    assert out.rstrip().endswith("1 final, 1 pending")
    assert out.count("IN-") == 1
