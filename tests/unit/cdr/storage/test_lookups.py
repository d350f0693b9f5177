from __future__ import annotations

from dataclasses import replace
from datetime import date

from cdr.storage import SqlLookupStore
from rights.caller import Caller, Entry
from rights.catalogue import default_catalogue
from rights.evaluation import evaluate
from rights.model import Requester
from rights.result import LookupReport, RegimeStatus, RightsResult, Warning
from tests.unit.rights.fakes import FakeClock, query, rights_for


def _report() -> LookupReport:
    catalogue = default_catalogue()
    q = replace(query(None), requester=Requester(finess="750712184", rpps="10001234567"))
    cnam = catalogue.get("cnam")
    rights = rights_for(cnam)
    day = q.date_of_care
    return LookupReport(
        query=q,
        results=(
            RightsResult(
                "cnam", RegimeStatus.FOUND, evaluate(RegimeStatus.FOUND, rights, day), rights,
                elapsed_ms=12.5, attempts=1,
            ),
            RightsResult(
                "msa", RegimeStatus.TIMEOUT, evaluate(RegimeStatus.TIMEOUT, None, day),
                detail="msa: no answer within 3 s", elapsed_ms=3000.0, attempts=2,
            ),
        ),
        started_at=FakeClock().now(),
        elapsed_ms=3001.0,
        warnings=(Warning("test-nir", "test NIR"),),
    )  # fmt: skip


def test_every_lookup_is_persisted_with_its_per_regime_outcome(database):
    database.migrate()
    store = SqlLookupStore(database.engine)
    report = _report()
    lookup_id = store.save(report, Caller(Entry.CLI, "operator"))
    stored = store.get(lookup_id)
    assert stored is not None
    assert stored["nir"] == report.query.nir.value
    assert stored["requester_finess"] == "750712184"
    assert stored["requester_rpps"] == "10001234567"
    assert stored["mode"] == "discovery"
    assert stored["outcome"] == "partial"
    assert stored["in_force"] is True
    assert stored["date_of_care"] == date(2026, 11, 24)
    assert stored["warnings"] == [{"code": "test-nir", "message": "test NIR"}]
    results = {r["regime"]: r for r in stored["results"]}
    assert results["cnam"]["status"] == "found"
    assert results["cnam"]["rights"]["organisation"]["caisse"] == "751"
    assert results["cnam"]["rights"]["amo"][0]["period"]["start"] == "2024-01-01"
    assert results["msa"]["status"] == "timeout"
    assert results["msa"]["attempts"] == 2
    assert results["msa"]["elapsed_ms"] == 3000.0
    assert results["msa"]["rights"] is None
    assert store.count() == 1
