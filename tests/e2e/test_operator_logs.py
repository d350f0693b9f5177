"""What an operator reads while the gateway serves (issue 18.8): a line per lookup and per error
answer carrying the request's correlation id, `X-Request-ID` on every answer, a line per MLLP
connection opened and closed with the peer's address."""

from __future__ import annotations

import json
import time

import httpx

from tests.e2e.hl7_peers import exchange, fixture_bytes
from tests.e2e.test_fhir_api import cer_for, fhir, first, post  # noqa: F401  (fhir: a fixture)
from tests.e2e.test_hl7_flow import _system
from tests.unit.cdr.test_lookup_events import lines  # noqa: F401  (a fixture)


def test_a_lookup_over_fhir_is_one_line_with_the_request_id(fhir, lines):  # noqa: F811
    member = first("open")
    response = post(fhir, cer_for(member), **{"X-Request-ID": "ops-7"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "ops-7"
    [lookup] = [x for x in lines.events("lookup") if x.get("correlation_id") == "ops-7"]
    assert lookup["entry"] == "fhir"
    assert f"{member.regime}:found" in str(lookup["regimes"])
    assert member.nir not in json.dumps(lines.lines)
    assert lines.events("http_error") == []  # a successful request has no line of its own


def test_an_error_answer_is_one_line_and_every_answer_has_a_request_id(fhir, lines):  # noqa: F811
    ok = httpx.get(f"{fhir}/metadata")
    assert ok.status_code == 200 and ok.headers["X-Request-ID"]
    missing = httpx.get(f"{fhir}/Patient/no-such-patient")
    assert missing.status_code == 404
    request_id = missing.headers["X-Request-ID"]
    # The edge writes its line once the answer is sent: the client may read the answer first.
    deadline = time.monotonic() + 10
    while not lines.events("http_error") and time.monotonic() < deadline:
        time.sleep(0.01)
    [line] = lines.events("http_error")
    assert line["correlation_id"] == request_id
    assert (line["status"], line["method"], line["level"]) == (404, "GET", "info")


async def test_mllp_connections_opened_and_closed_name_the_peer(sandbox, tmp_path, lines):  # noqa: F811
    gateway, system = await _system(sandbox, tmp_path)
    try:
        await exchange(system.port, [fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")])
        await system.receiver.wait_for(1)
        [lookup] = lines.events("lookup")
        assert lookup["entry"] == "hl7"
        # The lookup's lines carry the message's MSH-10, as the sender's engine shows it.
        assert lookup["correlation_id"] == "CPAGE-000184213"
    finally:
        await system.runtime.stop()
        await system.receiver.stop()
        await gateway.aclose()
    [opened] = lines.events("mllp_open")
    [closed] = lines.events("mllp_close")
    assert str(opened["peer"]).startswith("127.0.0.1:")
    assert closed["peer"] == opened["peer"]
