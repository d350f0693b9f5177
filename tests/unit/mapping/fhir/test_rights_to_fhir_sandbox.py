"""The mapping fed by real lookups: the four wire adapters and ``RightsLookup`` against the regime
sandbox app in-process (ASGI transport, no socket), with one regime down and a structure that
CDR does not serve."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from cdr.bootstrap import build_sandbox
from cdr.clock import SystemClock
from cdr.settings import Settings
from mapping.fhir.common import CS_CDR_ERROR
from mapping.fhir.terms import CS_COVERAGE_TYPE
from regimes.cnam import CnamGateway
from regimes.httpx_port import HttpxPort
from regimes.msa import MsaGateway
from regimes.port import RegimePort
from regimes.slm import SlmGateway
from regimes.special import SpecialGateway
from rights.identifiers import parse_nir
from rights.lookup import RightsLookup
from rights.model import Requester, RightsQuery
from rights.ports import RegimeGateway
from rights.resilience import ResiliencePolicy
from tests.unit.mapping.fhir_schema import assert_valid
from tests.unit.mapping.rights_reports import TODAY, answer_for, catalogue, member, resources_of

_FAMILIES: dict[str, Callable[[RegimePort], RegimeGateway]] = {
    "cnam": CnamGateway,
    "msa": MsaGateway,
    "slm": SlmGateway,
    "special": SpecialGateway,
}
_ELIGIBLE = Requester(finess="750100018")  # a centre hospitalier of the sandbox's structures
_EHPAD = Requester(finess="130100050")  # category 500: not served by CDR


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def lookup() -> AsyncIterator[RightsLookup]:
    settings = Settings(_env_file=None, sandbox_faults={"msa": {"down": True}})  # type: ignore[call-arg]
    app = build_sandbox(settings, today=TODAY)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        gateways = {
            r.code: _FAMILIES[r.family](HttpxPort(client, "http://sandbox")) for r in catalogue()
        }
        policy = ResiliencePolicy(max_attempts=1)
        yield RightsLookup(catalogue(), gateways, SystemClock(), policy, sleep=_no_sleep)


def _query(family: str, given: str, *, regime: str | None, requester: Requester) -> RightsQuery:
    who = member(family, given)
    return RightsQuery(
        nir=parse_nir(who.nir),
        date_of_care=TODAY,
        birth_date=who.birth_date,
        rang=who.rang,
        regime=regime,
        requester=requester,
    )


def _codes(answer: Any, system: str) -> list[str]:
    return [
        c["code"]
        for e in answer.response.get("error", [])
        for c in e["code"]["coding"]
        if c["system"] == system
    ]


async def test_discovery_with_one_regime_down_is_partial_with_the_rights_found(
    lookup: RightsLookup,
) -> None:
    query = _query("Fournier", "Philippe", regime=None, requester=_ELIGIBLE)
    report = await lookup.lookup(query)
    answer = answer_for(report, purposes=("discovery",))
    assert answer.response["outcome"] == "partial"
    assert _codes(answer, CS_CDR_ERROR) == ["regime-unavailable"]
    kinds = [
        c["code"] for cov in answer.coverages for c in cov["type"]["coding"]
        if c["system"] == CS_COVERAGE_TYPE
    ]  # fmt: skip
    assert kinds == ["amo", "atmp", "atmp"]
    for resource in resources_of(answer):
        assert_valid(resource)


async def test_a_structure_cdr_does_not_serve_is_refused(lookup: RightsLookup) -> None:
    query = _query("Lefèvre", "Jean-Baptiste", regime="cnam", requester=_EHPAD)
    answer = answer_for(await lookup.lookup(query))
    assert answer.response["outcome"] == "error"
    assert _codes(answer, CS_CDR_ERROR) == ["requester-refused"]
    assert "insurance" not in answer.response
    eligible = dataclasses.replace(query, requester=_ELIGIBLE, regime="msa")
    down = answer_for(await lookup.lookup(eligible))
    assert _codes(down, CS_CDR_ERROR) == ["regime-unavailable"]
