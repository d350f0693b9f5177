"""The assertion signer the composition root wires sees every regime call, health probes
included, against the real sandbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cdr.bootstrap import build_gateway
from regimes.port import WireRequest
from rights.model import Requester
from rights.queries import build_query
from sandbox.server import RunningServer
from tests.conftest import gateway_settings
from tests.e2e.test_scenarios import POPULATION

MEMBER = next(m for m in POPULATION.members if m.regime == "cnam" and "open" in m.scenarios)


class RecordingSigner:
    """Signs nothing; keeps every request it is handed."""

    def __init__(self) -> None:
        self.seen: list[WireRequest] = []

    def sign(self, request: WireRequest) -> WireRequest:
        self.seen.append(request)
        return request


async def test_the_signer_sees_every_call_and_every_health_probe(
    sandbox: RunningServer, tmp_path: Path
) -> None:
    signer = RecordingSigner()
    gateway = build_gateway(gateway_settings(sandbox.url, tmp_path), signer=signer)
    try:
        query = build_query(
            MEMBER.nir,
            date_of_care=MEMBER.date_of_care,
            catalogue=gateway.catalogue,
            requester=Requester(finess="750712184"),
            birth_date=MEMBER.birth_date,
            rang=MEMBER.rang,
        )
        asked = [regime.code for regime in gateway.lookup.regimes_for(query)]
        report = await gateway.lookup.lookup(query)
        health = await asyncio.gather(
            *(gateway.registry.get(r.code).health(r) for r in gateway.catalogue)
        )
    finally:
        await gateway.aclose()
    assert all(health)
    assert len(asked) > 1 and len(report.results) == len(asked)
    probes = [r.target for r in signer.seen if r.target.endswith("/health")]
    calls = [r for r in signer.seen if not r.target.endswith("/health")]
    assert sorted(probes) == sorted(f"/regimes/{code}/health" for code in gateway.catalogue.codes)
    assert sorted(r.target.split("/")[2] for r in calls) == sorted(asked)
    assert all(r.headers["X-CDR-Requester-Finess"] == "750712184" for r in calls)
