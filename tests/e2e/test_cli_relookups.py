"""`cdr outbox relookups`: the admissions an operator sees being looked up again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cdr.cli import main
from cdr.storage.inbox import SqlInbox
from cdr.storage.relookups import SqlRelookups
from hl7_listener.ports import RelookupRequest
from hl7_listener.relookup_policy import RelookupStatus
from tests.e2e.stored_admissions import NOW, gateway_database, processed_admission


@pytest.fixture
def relookups(tmp_path, monkeypatch):
    """Two admissions whose first result was not final: one still pending, one closed."""
    database = gateway_database(tmp_path, monkeypatch)
    inbox, store = SqlInbox(database.engine), SqlRelookups(database.engine)
    for number in range(2):
        relookup = RelookupRequest(
            f"p{number}", ("msa",), NOW + timedelta(seconds=30), NOW + timedelta(hours=1)
        )
        processed_admission(inbox, number, relookup=relookup)
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
