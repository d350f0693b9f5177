"""`cdr purge` (DESIGN §9, issue 14 item 5) as an operator runs it against the gateway's
database: counts per kind, a dry run that deletes nothing, and one line naming the option for a
value that cannot be one (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cdr.audit import Auditor
from cdr.cli import main
from cdr.storage import Database
from cdr.storage.audit import SqlAuditTrail
from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.tables import fhir_resources, hl7_inbox, lookups
from rights.caller import Caller, Entry
from tests.postgres import scratch_database
from tests.unit.cdr.storage.aged_rows import (
    NEW,
    OLD,
    count_rows,
    store_answer,
    store_lookup,
    store_message,
)

COUNT_KEYS = {
    "lookups",
    "lookup_results",
    "fhir_resources",
    "fhir_search_index",
    "fhir_resource_history",
    "hl7_inbox",
    "hl7_outbox",
    "hl7_relookups",
    "audit_events",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway_database(request, tmp_path: Path, monkeypatch) -> Iterator[Database]:
    """The database `cdr` finds through CDR_DATA_DIR (SQLite) or CDR_DATABASE_URL, migrated."""
    monkeypatch.chdir(tmp_path)  # no .env file of the developer's
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CDR_DATABASE_URL", raising=False)
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
        database.migrate()
        yield database
        database.dispose()
        return
    with scratch_database("cdr purge on PostgreSQL") as url:
        monkeypatch.setenv("CDR_DATABASE_URL", url)
        database = Database(url)
        database.migrate()
        yield database
        database.dispose()


def _fill(database: Database, old: datetime, new: datetime) -> None:
    engine = database.engine
    store = SqlFhirStore(engine)
    store_lookup(engine, "old", old)
    store_lookup(engine, "new", new)
    store_answer(store, "old", "anne", old)
    store_answer(store, "new", "bruno", new)
    store_message(engine, "OLD", old)
    store_message(engine, "WAITING", old, status="pending")
    store_message(engine, "NEW", new)


def test_purge_before_a_date_deletes_the_older_rows_and_says_how_many(
    gateway_database, capsys
) -> None:
    _fill(gateway_database, OLD, NEW)

    assert main(["purge", "--before", "2026-01-01", "--json"]) == 0

    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"before", "dry_run", "counts"}
    assert out["dry_run"] is False
    # The start of that day in the establishment's time zone (Europe/Paris: UTC+1 in January).
    assert datetime.fromisoformat(out["before"]) == datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
    counts = out["counts"]
    assert set(counts) == COUNT_KEYS
    assert counts["lookups"] == 1 and counts["lookup_results"] == 2
    # Anne's answer: response, request, Patient, Coverage; the Organizations stay.
    assert counts["fhir_resources"] == 4
    assert (counts["hl7_inbox"], counts["hl7_outbox"]) == (1, 1)
    engine = gateway_database.engine
    assert count_rows(engine, lookups) == 1
    assert count_rows(engine, hl7_inbox) == 2  # the recent one and the one still pending


def test_a_dry_run_prints_a_line_per_kind_and_deletes_nothing(gateway_database, capsys) -> None:
    _fill(gateway_database, OLD, NEW)
    engine = gateway_database.engine
    stored = (count_rows(engine, lookups), count_rows(engine, fhir_resources))

    assert main(["purge", "--before", "2026-01-01", "--dry-run"]) == 0

    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert (
        lines[0]
        == "Older than 2026-01-01T00:00:00+01:00, would be deleted (dry run: nothing deleted):"
    )
    by_kind = {line.rsplit(maxsplit=1)[0].strip(): int(line.split()[-1]) for line in lines[1:]}
    assert len(by_kind) == len(COUNT_KEYS)
    assert by_kind["lookups"] == 1 and by_kind["FHIR resources"] == 4
    assert by_kind["HL7 messages received"] == 1
    assert captured.err.startswith("database: ")
    assert (count_rows(engine, lookups), count_rows(engine, fhir_resources)) == stored


def test_without_an_option_the_retention_period_decides(
    gateway_database, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("CDR_RETENTION_DAYS", "30")
    now = datetime.now(UTC)
    _fill(gateway_database, now - timedelta(days=31), now - timedelta(days=29))

    assert main(["purge", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["lookups"] == 1 and counts["hl7_inbox"] == 1

    assert main(["purge", "--older-than-days", "28", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["lookups"] == 1 and counts["hl7_inbox"] == 1
    assert count_rows(gateway_database.engine, lookups) == 0


def test_the_audit_trail_goes_after_its_own_longer_period_and_still_verifies(
    gateway_database, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("CDR_RETENTION_DAYS", "30")
    monkeypatch.setenv("CDR_AUDIT_RETENTION_DAYS", "90")
    now = datetime.now(UTC)
    trail = SqlAuditTrail(gateway_database.engine)
    for age in (100, 95, 60, 1):  # days; recorded in this order, oldest first
        auditor = Auditor(
            trail,
            observer="cdr-gateway@test",
            structure_finess="750712184",
            now=lambda age=age: now - timedelta(days=age),
        )
        trail.record([auditor.refusal(Caller(Entry.FHIR, "x"), "no token", interaction="read")])

    # --before is about the data: the trail keeps what its own period keeps.
    assert main(["purge", "--before", "2026-01-01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["audit_events"] == 2
    assert trail.verify() == (2, None)
    assert main(["audit", "verify"]) == 0
    assert "audit trail intact: 2 events (ae-3 to ae-4)" in capsys.readouterr().out


def test_the_audit_trail_is_not_kept_shorter_than_the_data(gateway_database, capsys, monkeypatch):
    monkeypatch.setenv("CDR_RETENTION_DAYS", "365")
    monkeypatch.setenv("CDR_AUDIT_RETENTION_DAYS", "30")
    assert main(["purge"]) == 2
    err = capsys.readouterr().err
    assert "CDR_AUDIT_RETENTION_DAYS (30) is shorter than CDR_RETENTION_DAYS (365)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("arguments", "option", "expects"),
    [
        (["--older-than-days", "0"], "--older-than-days", "from 1 to 36500"),
        (["--older-than-days", "-3"], "--older-than-days", "from 1 to 36500"),
        (["--older-than-days", "ten"], "--older-than-days", "got 'ten'"),
        (["--older-than-days", "99999999999"], "--older-than-days", "from 1 to 36500"),
        (["--before", "2026-13-01"], "--before", "expected a date YYYY-MM-DD"),
        (["--before", "yesterday"], "--before", "expected a date YYYY-MM-DD"),
        (["--before", "9999-12-31"], "--before", "is after today"),
        (["--before", "0001-01-01"], "--before", "too far back"),
        (["--before", "2026-01-01", "--older-than-days", "3"], "--before", "not both"),
    ],
)
def test_a_bad_option_is_one_line_naming_it_and_exit_2(
    arguments, option, expects, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))  # no database: refused before opening it
    monkeypatch.delenv("CDR_DATABASE_URL", raising=False)

    assert main(["purge", *arguments]) == 2

    captured = capsys.readouterr()
    assert captured.err.splitlines() == [captured.err.strip()]
    assert captured.err.startswith(f"cdr: error: {option}: ")
    assert expects in captured.err
    assert captured.out == ""


def test_a_bad_option_with_json_is_also_told_on_stdout(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    assert main(["purge", "--older-than-days", "0", "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["location"] == "--older-than-days"


def test_no_gateway_database_is_refused_not_created(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CDR_DATABASE_URL", raising=False)
    assert main(["purge"]) == 2
    assert "no gateway database at" in capsys.readouterr().err
    assert not (tmp_path / "cdr.sqlite3").exists()
