"""`cdr outbox list` and `cdr outbox retry`: what an operator uses when a destination was down."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cdr.cli import main
from cdr.gateway_database import database_label
from cdr.storage.inbox import SqlInbox
from cdr.storage.outbox import SqlOutbox
from hl7_listener.ports import OutboxStatus
from tests.e2e.stored_admissions import NOW, gateway_database, processed_admission


@pytest.fixture
def outbox(tmp_path, monkeypatch):
    """An outbox with one delivered, one pending and two dead-lettered results."""
    database = gateway_database(tmp_path, monkeypatch)
    inbox, store = SqlInbox(database.engine), SqlOutbox(database.engine)
    for number in range(4):
        processed_admission(inbox, number)
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


def test_outbox_commands_name_the_database_they_read(outbox, tmp_path, capsys):
    assert main(["outbox", "list"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"database: sqlite:///{(tmp_path / 'cdr.sqlite3').resolve().as_posix()}"]


@pytest.mark.parametrize(
    "command", [["outbox", "list"], ["outbox", "retry", "--all"], ["outbox", "relookups"]]
)
def test_outbox_commands_never_invent_an_empty_database(command, tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("CDR_DATA_DIR", raising=False)
    monkeypatch.delenv("CDR_DATABASE_URL", raising=False)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "no gateway database at" in err and "CDR_DATA_DIR or CDR_DATABASE_URL" in err
    assert list(elsewhere.iterdir()) == []  # no var/, no cdr.sqlite3


def test_a_database_without_the_gateway_schema_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "cdr.sqlite3").touch()
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CDR_DATABASE_URL", raising=False)
    assert main(["outbox", "list"]) == 2
    assert "holds no gateway data" in capsys.readouterr().err


def test_a_database_password_is_masked():
    label = database_label("postgresql+psycopg://cdr:s3cret@db.example/cdr")
    assert "s3cret" not in label and "db.example/cdr" in label


def test_retrying_an_unknown_id_is_an_error_naming_it(outbox, capsys):
    assert main(["outbox", "retry", "42"]) == 2
    err = capsys.readouterr().err
    assert "no outbox message with id 42" in err
    assert outbox.depth() == {"delivered": 1, "pending": 1, "dead": 2}  # nothing requeued


def test_retrying_a_message_that_is_not_dead_says_so(outbox, capsys):
    dead = {item.control_id: item.id for item in outbox.items(status=OutboxStatus.DEAD)}
    delivered = outbox.items(status=OutboxStatus.DELIVERED)[0].id
    assert main(["outbox", "retry", str(dead["OUT-2"]), str(delivered)]) == 2
    assert f"{delivered} is delivered" in capsys.readouterr().err
    assert outbox.depth()["dead"] == 2


def test_a_message_delivered_after_errors_shows_no_current_error(outbox, capsys):
    dead = outbox.items(status=OutboxStatus.DEAD)[0]
    outbox.requeue([dead.id], now=NOW)
    outbox.delivered(dead.id, ack_code="AA", now=NOW)
    assert main(["outbox", "list", "--json"]) == 0
    row = next(i for i in json.loads(capsys.readouterr().out)["items"] if i["id"] == dead.id)
    assert row["status"] == "delivered"
    assert row["last_error"] is None
    assert row["error_before_delivery"].startswith("destination answered")
    assert main(["outbox", "list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(f"{dead.id} "))
    assert "before delivery: destination answered" in line
