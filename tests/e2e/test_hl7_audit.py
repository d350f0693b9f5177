"""The HL7 side's audit trail over real sockets: each admission's lookup and each RQI is an
AuditEvent naming the sender (MSH-3^MSH-4); a peer the allow-list refuses is one too."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from cdr.bootstrap import build_gateway
from cdr.hl7_runtime import Hl7Runtime
from cdr.storage.audit import SqlAuditTrail
from fhir_server.search import parse_search
from tests.conftest import gateway_settings
from tests.e2e.hl7_peers import exchange
from tests.e2e.test_hl7_flow import Hl7System
from tests.e2e.test_hl7_flow import hl7 as hl7
from tests.hl7_fixtures import fixture_bytes


def _events(trail: SqlAuditTrail, query: str) -> list[dict]:
    params = [tuple(p.split("=", 1)) for p in query.split("&")]
    criteria, count, offset = parse_search("AuditEvent", params)
    return [s.resource for s in trail.search(criteria, count=count, offset=offset).resources]


async def _eventually(trail: SqlAuditTrail, query: str, n: int) -> list[dict]:
    for _ in range(200):
        found = await asyncio.to_thread(_events, trail, query)
        if len(found) >= n:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{query}: {n} events expected, {len(found)} found")


async def test_an_admission_and_a_query_are_audited_with_their_sender(hl7: Hl7System):
    engine = sa.create_engine(hl7.database_url)
    trail = SqlAuditTrail(engine)
    await exchange(hl7.port, [fixture_bytes("good/adt-a01-in1-cnam-c2s.hl7")])
    [admission] = await _eventually(trail, "subtype=hl7-admission", 1)
    client = admission["agent"][0]["who"]
    assert client["identifier"]["value"] == "PASTEL^APHP"  # MSH-3^MSH-4 of the fixture
    assert admission["entity"][0]["what"]["identifier"]["value"] == "298025935030102"
    await exchange(hl7.port, [fixture_bytes("good/rqi-i01-query-utf8.hl7")])
    [query] = await _eventually(trail, "subtype=hl7-rqi", 1)
    assert query["agent"][0]["who"]["identifier"]["value"] == "DPI-EASILY^HCL"
    assert trail.verify() == (2, None)
    engine.dispose()


async def test_a_refused_peer_is_audited(sandbox, tmp_path):
    settings = gateway_settings(
        sandbox.url, tmp_path, mllp_port=0, mllp_allowed_peers=["192.0.2.0/24"]
    )
    gateway = build_gateway(settings)
    runtime = Hl7Runtime(gateway)
    await runtime.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", runtime.port)
        assert await reader.read() == b""  # closed at once
        writer.close()
        trail = SqlAuditTrail(gateway.database.engine)
        [event] = await _eventually(trail, "type=110113", 1)
        assert event["subtype"][0]["code"] == "110126"
        assert event["agent"][0]["network"]["address"] == "127.0.0.1"
        assert "not an allowed peer" in event["outcomeDesc"]
    finally:
        await runtime.stop()
        await gateway.aclose()
