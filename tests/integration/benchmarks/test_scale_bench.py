"""The store-at-scale benchmark (`python -m benchmarks.run --only scale`) at a tiny size: it fills
a real store through the gateway's write path and times every advertised search on it.

600 lookups: two fill chunks, the second one more than half a year back, so that the deep page
has a position to start from. The `$submit` part (cdr serve under wrk) is the FHIR benchmark's
machinery and is left out here: no gateway process, no sandbox, no wrk.
"""

from __future__ import annotations

from datetime import date

import pytest

from benchmarks.scale_bench import run_scale
from benchmarks.scale_fill import StoreFiller, answer_templates, year_end
from cdr.storage import Database, SqlLookupStore
from cdr.storage.fhir_store import SqlFhirStore
from fhir_server.search_params import SEARCH_PARAMS


def test_the_scale_section_times_every_advertised_search_on_a_filled_store(capsys):
    run_scale(sizes=(600,), databases=("sqlite",), quick=True, submit=False)
    out = capsys.readouterr().out
    assert "## Store at scale: SQLite, 600 lookups" in out
    assert "600 lookups at" in out and "bytes per lookup" in out
    for resource_type, params in SEARCH_PARAMS.items():
        for name in params:
            assert f"  {resource_type}?{name}=" in out, (resource_type, name)
    assert "deep page (next link" in out
    assert "&_total=accurate" in out
    assert "FAILED" not in out
    assert "goal: every search <= 200 ms p95" in out


@pytest.fixture
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    db.migrate()
    yield db
    db.dispose()


def test_a_filled_lookup_is_stored_as_a_submit_stores_it(database):
    filler = StoreFiller(database, answer_templates(), year_end(date(2026, 12, 7)))
    filler.fill(40)
    assert SqlLookupStore(database.engine).count() == 40
    fhir = SqlFhirStore(database.engine)
    page = fhir.search("CoverageEligibilityResponse", [], count=100, total="accurate")
    assert page.total == 40
    # Every answer points at its request and at a stored Patient; people come back.
    patients = set()
    for stored in page.resources:
        response = stored.resource
        request_id = response["request"]["reference"].split("/")[1]
        assert fhir.read("CoverageEligibilityRequest", request_id) is not None
        patient_id = response["patient"]["reference"].split("/")[1]
        assert fhir.read("Patient", patient_id) is not None
        patients.add(patient_id)
    assert 1 < len(patients) < 40
    # Each at its own instant, within the year before the fill's end.
    created = {s.resource["created"] for s in page.resources}
    assert len(created) == 40
    assert all("2025-12-07" <= c < "2026-12-08" for c in created)
