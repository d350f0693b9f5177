"""What the portal keeps: the terms of use accepted per user and version, and a professional's
recent lookups read back from the lookups table (theirs only, newest first, bounded)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cdr.storage import SqlLookupStore
from cdr.storage.portal import SqlRecentLookups, SqlTermsAcceptances
from rights.caller import Caller, Entry
from rights.model import Requester
from rights.result import LookupReport
from tests.unit.rights.fakes import FakeClock, query

RPPS = "10000000012"


def test_terms_are_accepted_once_per_user_and_version(migrated):
    terms = SqlTermsAcceptances(migrated.engine)
    at = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    assert not terms.has_accepted("810000000012", "v1")
    terms.accept("810000000012", "v1", at)
    terms.accept("810000000012", "v1", at + timedelta(minutes=1))  # a second tab: no error
    assert terms.has_accepted("810000000012", "v1")
    assert not terms.has_accepted("810000000012", "v2")  # a new version asks again
    assert not terms.has_accepted("810000000020", "v1")


def _report(rpps: str, regime: str | None, minutes: int) -> LookupReport:
    q = replace(query(regime), requester=Requester(finess="750100018", rpps=rpps))
    started = FakeClock().now() + timedelta(minutes=minutes)
    return LookupReport(query=q, results=(), started_at=started, elapsed_ms=1.0)


def test_recent_lookups_are_the_professionals_own_newest_first(migrated):
    store = SqlLookupStore(migrated.engine)
    caller = Caller(Entry.PORTAL, "psc:8" + RPPS)
    ids = [store.save(_report(RPPS, "cnam" if i % 2 else None, i), caller) for i in range(4)]
    store.save(_report("10000000020", "cnam", 10), caller)
    recent = SqlRecentLookups(migrated.engine).recent(RPPS, 3)
    assert [r.lookup_id for r in recent] == ids[::-1][:3]
    assert recent[0].regime == "cnam" and recent[1].regime is None
    assert recent[0].created_at.tzinfo is not None
    assert recent[0].nir_masked.endswith("*" * 10) and len(recent[0].nir_masked) == 15
    assert SqlRecentLookups(migrated.engine).recent("", 3) == []


def test_a_stored_report_comes_back_to_whom_asked_only(migrated):
    from cdr.storage.portal import SqlStoredReports
    from rights.evaluation import evaluate
    from rights.result import RegimeStatus, RightsResult
    from tests.unit.fhir_server.portal.test_views import RIGHTS

    q = replace(query("cnam"), requester=Requester(finess="750100018", rpps=RPPS))
    result = RightsResult(
        "cnam", RegimeStatus.FOUND, evaluate(RegimeStatus.FOUND, RIGHTS, q.date_of_care), RIGHTS
    )
    report = LookupReport(query=q, results=(result,), started_at=FakeClock().now(), elapsed_ms=3.0)
    lookup_id = SqlLookupStore(migrated.engine).save(report, Caller(Entry.PORTAL, "psc:x"))
    stored = SqlStoredReports(migrated.engine)
    found = stored.report(lookup_id, RPPS)
    assert found is not None
    back, created = found
    assert back.results == report.results
    assert back.query.nir == q.nir and back.query.date_of_care == q.date_of_care
    assert created == report.started_at
    assert stored.report(lookup_id, "10000000020") is None
    assert stored.report("nope", RPPS) is None
