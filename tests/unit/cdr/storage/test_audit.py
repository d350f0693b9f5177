"""The audit trail on both databases: events appended with their lookups, hash-chained; any
change, deletion, insertion or reordering found by the verification, which names the first bad
event; reads and searches as the FHIR API serves them."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, text, update

from cdr.audit import Auditor
from cdr.bootstrap import write_strategy
from cdr.storage import SqlLookupStore
from cdr.storage.answers import SqlAnswerStore
from cdr.storage.audit import SqlAuditTrail
from cdr.storage.audit_chain import audit_id
from cdr.storage.audit_retention import purge_audit
from cdr.storage.tables import audit_events
from cdr.storage.writer import SingleWriter
from fhir_server.search import parse_search
from fhir_server.store import PagePosition
from mapping.fhir.ids import structure_id
from rights.caller import Caller, Entry
from rights.model import Requester
from tests.unit.mapping.rights_reports import member, report_for

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FINESS = "750712184"


def _auditor(trail: SqlAuditTrail) -> Auditor:
    return Auditor(trail, observer="cdr-gateway@test", structure_finess=FINESS, now=lambda: T0)


def _report(n: int, given: str = "Manon"):
    report = report_for(member("Martin", given))
    query = replace(report.query, requester=Requester(FINESS))
    return replace(report, query=query, started_at=T0 + timedelta(minutes=n))


@pytest.fixture
def trail(migrated) -> SqlAuditTrail:
    return SqlAuditTrail(migrated.engine)


@pytest.fixture
def filled(migrated, trail):
    """Five lookups: four by the client his-east, one from the command line."""
    auditor = _auditor(trail)
    store = SqlLookupStore(migrated.engine, audit=auditor.lookup)
    for n in range(4):
        store.save(_report(n), Caller(Entry.FHIR, "his-east", "10.0.0.1"))
    store.save(_report(4, "Manon"), Caller(Entry.CLI, "operator"))
    return migrated, trail


def _verdict(trail: SqlAuditTrail) -> tuple[int | None, str]:
    _, broken = trail.verify()
    return (None, "") if broken is None else (broken.seq, broken.reason)


def test_each_lookup_is_one_event_linked_to_the_one_before(filled):
    _database, trail = filled
    checked, broken = trail.verify()
    assert (checked, broken) == (5, None)
    head = trail.head()
    assert (head.first_seq, head.last_seq) == (1, 5)
    first = trail.read(audit_id(1))
    assert first is not None
    assert first.resource["id"] == "ae-1"
    assert first.resource["meta"]["versionId"] == "1"
    assert first.resource["agent"][0]["who"]["display"] == "his-east"


def _edit(database, statement) -> None:
    with database.engine.begin() as connection:
        connection.execute(statement)


TAMPERING = {
    "content changed": (
        lambda db: _edit(
            db,
            update(audit_events).where(audit_events.c.seq == 2).values(content='{"outcome":"0"}'),
        ),
        2,
        "does not match its hash",
    ),
    "column changed": (
        lambda db: _edit(
            db, update(audit_events).where(audit_events.c.seq == 3).values(client="fhir-other")
        ),
        3,
        "client column",
    ),
    "content unreadable": (
        lambda db: _edit(
            db,
            text("UPDATE audit_events SET content = :raw WHERE seq = 2").bindparams(
                raw=b"\x01not deflated"  # marked packed, and not
            ),
        ),
        2,
        "cannot be read",
    ),
    "deleted in the middle": (
        lambda db: _edit(db, delete(audit_events).where(audit_events.c.seq == 2)),
        3,
        "seq 2 missing",
    ),
    "newest deleted": (
        lambda db: _edit(db, delete(audit_events).where(audit_events.c.seq == 5)),
        5,
        "missing",
    ),
    "reordered": (
        lambda db: (
            _edit(db, update(audit_events).where(audit_events.c.seq == 2).values(seq=-2)),
            _edit(db, update(audit_events).where(audit_events.c.seq == 3).values(seq=2)),
            _edit(db, update(audit_events).where(audit_events.c.seq == -2).values(seq=3)),
        ),
        2,
        "not linked",
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_any_change_to_the_trail_is_found_and_the_first_bad_event_named(filled, tampering):
    database, trail = filled
    tamper, seq, reason = TAMPERING[tampering]
    tamper(database)
    found_seq, found_reason = _verdict(trail)
    assert found_seq == seq, found_reason
    assert reason in found_reason


def test_an_event_inserted_with_a_forged_link_is_found(filled):
    database, trail = filled
    with database.engine.begin() as connection:
        row = connection.execute(audit_events.select().where(audit_events.c.seq == 5)).one()
        forged = {**row._mapping, "seq": 6, "prev_hash": "f" * 64}
        connection.execute(audit_events.insert(), [forged])
    seq, reason = _verdict(trail)
    assert seq == 6 and "not linked" in reason


def test_appends_from_several_threads_keep_one_unbroken_chain(migrated, trail):
    auditor = _auditor(trail)

    def append(n: int) -> None:
        for _ in range(10):
            trail.record(
                [auditor.refusal(Caller(Entry.FHIR, f"c{n}"), "no token", interaction="read")]
            )

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert trail.verify() == (40, None)


def test_a_submit_answer_and_its_audit_event_are_written_together(migrated, trail):
    writer = SingleWriter()
    auditor = _auditor(trail)
    answers = SqlAnswerStore(
        migrated.engine,
        now=lambda: T0,
        run=writer.run,
        write=write_strategy(migrated).answers,
        audit=auditor.lookup,
    )
    try:
        asyncio.run(answers.save([], _report(0), Caller(Entry.FHIR, "his-east")))
    finally:
        writer.close()
    assert trail.verify() == (1, None)
    [event] = trail.search([], count=10).resources
    assert event.resource["subtype"][0]["code"] == "fhir-submit"


def _search(trail: SqlAuditTrail, query: str, **kwargs):
    params = [tuple(p.split("=", 1)) for p in query.split("&")] if query else []
    criteria, count, offset = parse_search("AuditEvent", params)
    return trail.search(criteria, count=kwargs.pop("count", count), offset=offset, **kwargs)


def _ids(page) -> list[str]:
    return [s.resource["id"] for s in page.resources]


def test_the_trail_is_searched_by_date_agent_patient_outcome_type_and_subtype(filled):
    _database, trail = filled
    assert _ids(_search(trail, "")) == ["ae-5", "ae-4", "ae-3", "ae-2", "ae-1"]
    assert _ids(_search(trail, "agent=fhir-his-east")) == ["ae-4", "ae-3", "ae-2", "ae-1"]
    assert _ids(_search(trail, "agent=Device/cli-operator")) == ["ae-5"]
    assert len(_ids(_search(trail, f"agent=Organization/{structure_id(FINESS)}"))) == 5
    assert _ids(_search(trail, "agent=Organization/nobody")) == []
    first = trail.read("ae-1")
    assert first is not None
    patient = first.resource["entity"][0]["what"]["reference"]
    assert len(_ids(_search(trail, f"patient={patient}"))) == 5
    assert _ids(_search(trail, "patient=Patient/someone-else")) == []
    assert len(_ids(_search(trail, "outcome=0"))) == 5
    assert len(_ids(_search(trail, "outcome=http://hl7.org/fhir/audit-event-outcome|0"))) == 5
    assert _ids(_search(trail, "outcome=8")) == []
    assert (
        len(_ids(_search(trail, "type=http://dicom.nema.org/resources/ontology/DCM|110112"))) == 5
    )
    assert _ids(_search(trail, "type=http://example.org/other|110112")) == []
    assert _ids(_search(trail, "subtype=cli-lookup")) == ["ae-5"]
    # recorded = started_at + 42 ms: lookup n at T0 + n minutes
    assert _ids(_search(trail, "date=ge2026-12-07T09:02")) == ["ae-5", "ae-4", "ae-3"]
    assert _ids(_search(trail, "date=lt2026-12-07T09:01")) == ["ae-1"]
    assert _ids(_search(trail, "date=2026-12-07T09:03")) == ["ae-4"]
    assert _ids(_search(trail, "_id=ae-2,ae-9")) == ["ae-2"]


def test_a_search_pages_by_position_and_counts(filled):
    _database, trail = filled
    page = _search(trail, "agent=fhir-his-east", count=3)
    assert _ids(page) == ["ae-4", "ae-3", "ae-2"]
    assert page.total == 4
    assert page.next is not None
    rest = _search(trail, "agent=fhir-his-east", count=3, after=page.next)
    assert _ids(rest) == ["ae-1"] and rest.next is None
    uncounted = _search(trail, "", count=2, total="none")
    assert uncounted.total is None


def test_an_unknown_or_malformed_id_reads_nothing(filled):
    _database, trail = filled
    for resource_id in ("ae-99", "ae-x", "5", "ae-", "ae-" + "9" * 30):
        assert trail.read(resource_id) is None
    assert trail.search([], count=5, after=PagePosition(T0, "bogus")).resources == []


def test_a_purge_deletes_the_oldest_events_and_what_is_kept_still_verifies(filled):
    database, trail = filled
    cutoff = T0 + timedelta(minutes=2)  # lookups 0 and 1 were recorded before
    assert purge_audit(database.engine, cutoff, dry_run=True) == 2
    assert trail.verify() == (5, None)  # a dry run deletes nothing
    assert purge_audit(database.engine, cutoff, batch=1) == 2  # one event per transaction
    head = trail.head()
    assert (head.first_seq, head.last_seq) == (3, 5)
    assert trail.verify() == (3, None)
    assert trail.read("ae-2") is None and trail.read("ae-3") is not None
    assert purge_audit(database.engine, cutoff) == 0


def test_after_a_purge_a_deleted_kept_event_is_still_found(filled):
    database, trail = filled
    purge_audit(database.engine, T0 + timedelta(minutes=2))
    _edit(database, delete(audit_events).where(audit_events.c.seq == 3))
    seq, reason = _verdict(trail)
    assert seq == 4 and "seq 3 missing" in reason


def test_an_event_is_stored_packed_with_the_audit_dictionary(filled):
    database, trail = filled
    with database.engine.connect() as connection:
        raw = connection.execute(
            text("SELECT content FROM audit_events WHERE seq = 1")
        ).scalar_one()
    first = trail.read("ae-1")
    assert first is not None
    as_text = len(first.resource.__repr__())
    assert bytes(raw)[:1] == b"\x02"  # format 2: the audit dictionary
    assert len(bytes(raw)) < 500 < as_text  # a lookup's event of about 2.5 KB
