"""A `$submit` repeated for the same person stores its new request and response and nothing
else: the Patient, Coverage, Organization and Practitioner it maps to again are unchanged, so
they keep their rows, versions and index rows (issue 19 item 4). On SQLite, and on PostgreSQL
when ``CDR_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cdr.bootstrap import build_gateway, build_submit_service
from cdr.storage.index_types import INDEX_TYPE_CODES
from rights.caller import Caller, Entry
from sandbox.server import RunningServer
from tests.conftest import gateway_settings
from tests.e2e.test_fhir_api import cer_for
from tests.e2e.test_scenarios import POPULATION
from tests.postgres import scratch_database

CALLER = Caller(Entry.FHIR, "his-test", "127.0.0.1")

_NEW_EACH_TIME = {"CoverageEligibilityRequest", "CoverageEligibilityResponse"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cdr.sqlite3'}"
        return
    with scratch_database("PostgreSQL storage tests") as url:
        yield url


def _stored(engine: sa.Engine) -> tuple[dict[tuple[str, str], tuple], dict[tuple[str, str], int]]:
    """Each stored resource's (version, lastUpdated) by (type, id), and its number of index
    rows by (type, id)."""
    with engine.connect() as connection:
        resources = {
            (t, i): (v, at)
            for t, i, v, at in connection.exec_driver_sql(
                "SELECT resource_type, id, version_id, last_updated FROM fhir_resources"
            )
        }
        codes = {code: name for name, code in INDEX_TYPE_CODES.items()}
        index = {
            (codes.get(t, t), i): n
            for t, i, n in connection.exec_driver_sql(
                "SELECT resource_type, resource_id, count(*) FROM fhir_search_index "
                "GROUP BY resource_type, resource_id"
            )
        }
    return resources, index


async def test_a_repeated_lookup_rewrites_no_unchanged_resource(
    sandbox: RunningServer, tmp_path: Path, database_url: str
) -> None:
    member = next(
        m
        for m in POPULATION.members
        if m.regime == "cnam" and "medecin-traitant" in m.scenarios and "open" in m.scenarios
    )
    settings = gateway_settings(sandbox.url, tmp_path, cache_ttl_s=0, database_url=database_url)
    gateway = build_gateway(settings)
    try:
        submit = build_submit_service(gateway)
        first = await submit.submit(cer_for(member), CALLER)
        assert first.body["outcome"] == "complete"
        before, index_before = _stored(gateway.database.engine)
        second = await submit.submit(cer_for(member), CALLER)
        after, index_after = _stored(gateway.database.engine)
    finally:
        await gateway.aclose()
    assert second.response_id != first.response_id
    added = after.keys() - before.keys()
    assert {t for t, _ in added} == _NEW_EACH_TIME and len(added) == 2
    mapped_again = {key for key in before if key[0] not in _NEW_EACH_TIME}
    assert {"Patient", "Coverage", "Organization", "Practitioner"} <= {t for t, _ in mapped_again}
    # Unchanged: the same row, version and lastUpdated, and the same index rows; the only
    # new index rows are the new request's and response's.
    assert {key: after[key] for key in before} == before
    assert {key: index_after[key] for key in index_before} == index_before
    assert index_after.keys() - index_before.keys() == added
