"""Faults injected in the real sandbox: per-regime statuses, the others still answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cdr.bootstrap import build_gateway
from rights.caller import Caller, Entry
from rights.catalogue import default_catalogue
from rights.errors import IdentifierKeyError
from rights.model import Requester
from rights.queries import build_query
from rights.result import RegimeStatus
from sandbox.server import RunningServer
from tests.conftest import gateway_settings
from tests.e2e.test_scenarios import POPULATION

CLI = Caller(Entry.CLI, "tester")

CATALOGUE = default_catalogue()
MEMBER = next(m for m in POPULATION.members if m.regime == "cnam" and "open" in m.scenarios)


def query(regime: str | None = None):
    return build_query(
        MEMBER.nir,
        date_of_care=MEMBER.date_of_care,
        catalogue=CATALOGUE,
        requester=Requester(finess="750712184"),
        birth_date=MEMBER.birth_date,
        rang=MEMBER.rang,
        regime=regime,
    )


@pytest.fixture
def faults(sandbox: RunningServer) -> Iterator[Callable]:
    def set_faults(regime: str, **settings: object) -> None:
        httpx.put(f"{sandbox.url}/admin/faults/{regime}", json=settings).raise_for_status()

    yield set_faults
    httpx.delete(f"{sandbox.url}/admin/faults").raise_for_status()


async def test_down_slow_and_erroring_regimes_get_their_own_status(sandbox, faults, tmp_path):
    faults("msa", down=True)
    faults("mgen", error_rate=1.0)
    faults("senat", latency_ms=2000)
    gateway = build_gateway(
        gateway_settings(sandbox.url, tmp_path, regime_timeout_s=0.5, regime_max_attempts=2)
    )
    try:
        report = (await gateway.service.run(query(), CLI)).report
    finally:
        await gateway.aclose()
    statuses = {r.regime: r for r in report.results}
    assert statuses["msa"].status is RegimeStatus.UNAVAILABLE
    assert statuses["msa"].attempts == 2
    assert statuses["mgen"].status is RegimeStatus.UNAVAILABLE
    assert statuses["senat"].status is RegimeStatus.TIMEOUT
    assert statuses["cnam"].status is RegimeStatus.FOUND
    assert statuses["cnam"].evaluation.in_force
    assert report.outcome == "partial"


async def test_timeouts_in_the_sandbox_are_retried_then_reported(sandbox, faults, tmp_path):
    faults("cnam", timeout_rate=1.0, hang_s=5)
    gateway = build_gateway(
        gateway_settings(sandbox.url, tmp_path, regime_timeout_s=0.3, regime_max_attempts=3)
    )
    try:
        result = (await gateway.service.run(query("cnam"), CLI)).report.results[0]
    finally:
        await gateway.aclose()
    assert result.status is RegimeStatus.TIMEOUT
    assert "no answer within 0.3 s" in result.detail


async def test_refused_connection_is_unavailable_and_trips_the_breaker(tmp_path):
    # A port nothing listens on: every regime refuses the connection.
    gateway = build_gateway(
        gateway_settings("http://127.0.0.1:9", tmp_path, regime_max_attempts=1, breaker_failures=1)
    )
    try:
        first = (await gateway.service.run(query("cnam"), CLI)).report.results[0]
        second = (await gateway.service.run(query("cnam"), CLI)).report.results[0]
    finally:
        await gateway.aclose()
    assert first.status is RegimeStatus.UNAVAILABLE
    assert "cannot reach" in first.detail
    assert second.status is RegimeStatus.UNAVAILABLE
    assert "circuit open" in second.detail


async def test_non_eligible_structure_is_rejected(sandbox, tmp_path):
    gateway = build_gateway(gateway_settings(sandbox.url, tmp_path))
    ehpad = _non_eligible_finess()
    q = build_query(
        MEMBER.nir,
        date_of_care=MEMBER.date_of_care,
        catalogue=CATALOGUE,
        requester=Requester(finess=ehpad),
        regime="cnam",
    )
    try:
        result = (await gateway.service.run(q, CLI)).report.results[0]
    finally:
        await gateway.aclose()
    assert result.status is RegimeStatus.REJECTED
    assert result.attempts == 1


def _non_eligible_finess() -> str:
    from sandbox.eligibility import default_structures

    return next(s.finess for s in default_structures() if not s.eligible)


def test_invalid_nir_is_refused_before_any_regime_is_called():
    with pytest.raises(IdentifierKeyError) as err:
        build_query(
            MEMBER.nir[:13] + f"{(int(MEMBER.nir[13:]) % 97) + 1:02d}",
            date_of_care=MEMBER.date_of_care,
            catalogue=CATALOGUE,
            requester=Requester(finess="750712184"),
        )
    assert err.value.expected_key == MEMBER.nir[13:]


async def test_every_lookup_is_stored(gateway):
    stored = await gateway.service.run(query("cnam"), CLI)
    row = gateway.store.get(stored.lookup_id)
    assert row is not None
    assert row["nir"] == MEMBER.nir
    assert row["results"][0]["status"] == "found"
    assert row["results"][0]["rights"]["beneficiary"]["family_name"] == MEMBER.family_name


def test_population_is_the_same_as_the_served_one(sandbox: RunningServer, tmp_path: Path):
    served = httpx.get(f"{sandbox.url}/admin/population").json()
    assert served == POPULATION.to_json()
