"""The HL7 side end to end over real sockets: an engine sends the committed fixtures to the
MLLP listener, gets the ACK each rule asks for, and the rights come back to a receiving engine."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cdr.bootstrap import build_gateway
from cdr.hl7_runtime import Hl7Runtime
from hl7_listener.ports import OutboxStatus
from mapping.hl7v2.er7 import Message
from sandbox.server import RunningServer, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.hl7_peers import (
    FIXTURES,
    MANIFEST,
    Receiver,
    exchange,
    fixture_bytes,
    parse_reply,
)
from tests.hl7_fixtures import assert_err_matches
from tests.unit.mapping.fhir_schema import assert_valid

LOOKUPS = [e for e in MANIFEST if e["lookup"] and (e["message_type"] or "").startswith("ADT")]


@dataclass
class Hl7System:
    runtime: Hl7Runtime
    receiver: Receiver
    database_url: str

    @property
    def port(self) -> int:
        return self.runtime.port


async def _system(sandbox: RunningServer, tmp_path: Path, **overrides: object):
    receiver = await Receiver().start()
    settings = gateway_settings(
        sandbox.url,
        tmp_path,
        mllp_port=0,
        hl7_destinations=[f"127.0.0.1:{receiver.port}"],
        hl7_outbound_backoff_s=0.05,
        **overrides,
    )
    gateway = build_gateway(settings)
    runtime = Hl7Runtime(gateway)
    await runtime.start()
    return gateway, Hl7System(runtime, receiver, settings.effective_database_url)


@pytest.fixture
async def hl7(sandbox: RunningServer, tmp_path: Path) -> AsyncIterator[Hl7System]:
    gateway, system = await _system(sandbox, tmp_path)
    yield system
    await system.runtime.stop()
    await system.receiver.stop()
    await gateway.aclose()


def _codec(entry: dict) -> str:
    return entry["charset"] or "latin-1"


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
async def test_every_fixture_gets_the_acknowledgement_its_rule_asks_for(hl7, entry):
    [reply] = await exchange(hl7.port, [fixture_bytes(entry["file"])])
    ack = parse_reply(reply, _codec(entry))
    msa = ack.first("MSA")
    assert msa is not None
    if (entry["message_type"] or "").startswith("RQI"):
        assert ack.message_code == "RPI" and ack.trigger == "I01"
    else:
        assert ack.message_code == "ACK"
    assert msa.value(1) == entry["ack"]
    # IHE ITI TF-2 C.2.3: MSA-2 echoes the incoming MSH-10 (empty when there is none to echo).
    assert msa.value(2) == (entry["control_id"] or "")
    assert_err_matches(ack, entry)


async def test_the_ack_is_written_in_the_senders_charset(hl7):
    entry = next(e for e in MANIFEST if e["file"] == "good/adt-a01-ins-nir-latin1.hl7")
    payload = fixture_bytes(entry["file"]).replace(b"|CPAGE|", b"|\xc9METTEUR|", 1)
    payload = payload.replace(entry["control_id"].encode(), b"CTRL-CHARSET-1", 1)
    [reply] = await exchange(hl7.port, [payload])
    ack = Message.parse(reply.decode("latin-1"))
    assert ack.first("MSA").value(1) == "AA"
    # The sending application (MSH-3) comes back in MSH-5, encoded in Latin-1.
    assert ack.msh.value(5) == "ÉMETTEUR"
    with pytest.raises(UnicodeDecodeError):
        reply.decode("utf-8")


async def test_every_accepted_admission_sends_its_rights_back_once(hl7):
    payloads = [fixture_bytes(e["file"]) for e in LOOKUPS]
    replies = await exchange(hl7.port, payloads)
    assert [parse_reply(r).first("MSA").value(1) for r in replies] == ["AA"] * len(LOOKUPS)
    await hl7.receiver.wait_for(len(LOOKUPS))
    await asyncio.sleep(0.2)  # a second copy would arrive right behind the first
    results = hl7.receiver.messages
    assert len(results) == len(LOOKUPS)
    assert len({m.control_id for m in results}) == len(LOOKUPS)
    for result in results:
        # PAM FR 2.11.2 §5: a Z99 updates the admission's movement; a message without one
        # (no ZBE: A28, A31, a non-PAM A04) is answered A31, no movement made up.
        zbe = result.first("ZBE")
        if result.trigger == "Z99":
            assert zbe is not None and zbe.value(4) == "UPDATE" and zbe.value(9) == "C"
        else:
            assert (result.message_code, result.trigger, zbe) == ("ADT", "A31", None)
        assert result.msh.field(21) == "2.11^IHE_FRANCE-2.11-PAM"
        assert result.first("ZRD") is not None
    assert {r.trigger for r in results} == {"Z99", "A31"}
    by_name = {m.first("PID").value(5, 1).upper(): m for m in results}
    # The unknown person and the lunar birth date (the sandbox has a civil date) find no rights.
    found = [e for e in LOOKUPS if "unknown" not in e["file"] and "lunar" not in e["file"]]
    for entry in found:
        result = by_name[entry["family_name"].upper()]
        assert result.all("IN1"), f"{entry['file']}: rights found, IN1 groups expected"
        in1 = result.first("IN1")
        assert in1.value(2) in ("AMO", "CMUC", "AME")
        assert len(in1.value(3)) == 9


async def test_a_duplicate_gets_the_stored_ack_and_triggers_nothing(hl7):
    payload = fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")
    first, second = await exchange(hl7.port, [payload, payload])
    assert first == second
    await hl7.receiver.wait_for(1)
    await asyncio.sleep(0.3)
    assert len(hl7.receiver.messages) == 1
    engine = sa.create_engine(hl7.database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM hl7_inbox").scalar() == 1
    engine.dispose()


async def test_an_ae_message_is_not_remembered_so_the_corrected_one_is_accepted(hl7):
    bad = fixture_bytes("bad/ae-102-pid7-iso-date.hl7")
    entry = next(e for e in MANIFEST if e["file"] == "bad/ae-102-pid7-iso-date.hl7")
    corrected = bad.replace(b"|1962-04-17|", b"|19620417|")
    assert corrected != bad, "the fixture's bad birth date is 1962-04-17"
    first, second = await exchange(hl7.port, [bad, corrected])
    assert parse_reply(first).first("MSA").value(1) == "AE"
    assert parse_reply(second).first("MSA").value(1) == "AA"
    assert parse_reply(second).first("MSA").value(2) == entry["control_id"]


async def test_rqi_gets_rpi_with_the_rights(hl7):
    [reply] = await exchange(hl7.port, [fixture_bytes("good/rqi-i01-query-utf8.hl7")])
    rpi = Message.parse(reply.decode("utf-8"))
    assert (rpi.message_code, rpi.trigger) == ("RPI", "I01")
    assert rpi.first("MSA").value(1) == "AA"
    assert rpi.all("IN1")
    assert hl7.receiver.messages == []  # a query is answered, not forwarded


async def test_results_are_retried_until_the_receiver_accepts_them(sandbox, tmp_path):
    answers = iter(["AE", "AR"])
    gateway, system = await _system(sandbox, tmp_path)
    system.receiver.answer = lambda _m: next(answers, "AA")
    try:
        await exchange(system.port, [fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")])
        await system.receiver.wait_for(1)
        outbox = system.runtime.outbox
        await system.receiver.wait_until(lambda: bool(outbox.items(status=OutboxStatus.DELIVERED)))
        [item] = outbox.items()
        assert item.status is OutboxStatus.DELIVERED
        assert item.attempts == 3  # AE, AR, then AA
    finally:
        await system.runtime.stop()
        await system.receiver.stop()
        await gateway.aclose()


async def test_results_are_dead_lettered_then_requeued(sandbox, tmp_path):
    gateway, system = await _system(sandbox, tmp_path, hl7_outbound_max_attempts=2)
    system.receiver.answer = lambda _m: "AR"
    try:
        await exchange(system.port, [fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")])
        outbox = system.runtime.outbox
        for _ in range(200):
            if outbox.items(status=OutboxStatus.DEAD):
                break
            await asyncio.sleep(0.05)
        [dead] = outbox.items(status=OutboxStatus.DEAD)
        assert "AR" in dead.last_error
        system.receiver.answer = lambda _m: "AA"
        assert outbox.requeue(None, now=gateway.clock.now()) == 1
        system.runtime.sender.wake()
        await system.receiver.wait_for(1)
        assert system.receiver.messages[0].control_id == dead.control_id
    finally:
        await system.runtime.stop()
        await system.receiver.stop()
        await gateway.aclose()


async def test_python_hl7_mllp_send_gets_valid_acks(hl7):
    """An independent client: python-hl7's own `mllp_send` command sends the good fixtures."""
    mllp_send = str(Path(sys.executable).parent / "mllp_send")
    good = sorted((FIXTURES / "good").glob("*.hl7"))
    for path in good:
        entry = next(e for e in MANIFEST if e["file"] == f"good/{path.name}")
        process = await asyncio.to_thread(
            subprocess.run,
            [mllp_send, "--loose", "-f", str(path), "-p", str(hl7.port), "127.0.0.1"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert process.returncode == 0, process.stderr
        assert f"MSA|{entry['ack']}|{entry['control_id']}".encode() in process.stdout, path.name


async def test_results_also_go_to_a_fhir_endpoint_as_a_valid_transaction(sandbox, tmp_path):
    """A FHIR destination gets a transaction Bundle; a 503 is retried; the Bundle is valid R4."""
    bundles: list[dict] = []
    statuses = iter([503])

    async def receive(request: Request) -> Response:
        status = next(statuses, 200)
        if status == 200:
            bundles.append(json.loads(await request.body()))
        return Response(status_code=status)

    fhir = start_in_thread(Starlette(routes=[Route("/fhir", receive, methods=["POST"])]))
    try:
        receiver = await Receiver().start()
        settings = gateway_settings(
            sandbox.url,
            tmp_path,
            mllp_port=0,
            hl7_destinations=[f"127.0.0.1:{receiver.port}", f"{fhir.url}/fhir"],
            hl7_outbound_backoff_s=0.05,
        )
        gateway = build_gateway(settings)
        runtime = Hl7Runtime(gateway)
        await runtime.start()
        try:
            await exchange(runtime.port, [fixture_bytes("good/adt-a01-in1-cnam-c2s.hl7")])
            await receiver.wait_for(1)
            await receiver.wait_until(lambda: bool(bundles))
        finally:
            await runtime.stop()
            await receiver.stop()
            await gateway.aclose()
    finally:
        fhir.stop()
    [bundle] = bundles
    assert bundle["type"] == "transaction"
    assert_valid(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert {"Patient", "Coverage", "CoverageEligibilityRequest"} <= set(kinds)
    assert kinds[-1] == "CoverageEligibilityResponse"
    for entry in bundle["entry"]:
        assert_valid(entry["resource"])
        resource = entry["resource"]
        assert entry["request"] == {
            "method": "PUT",
            "url": f"{resource['resourceType']}/{resource['id']}",
        }


async def test_a_message_waits_for_a_write_lock_held_elsewhere_then_gets_its_aa(hl7, tmp_path):
    """Another process holding SQLite's write lock: the intake does not fail (nor block its
    event loop); the message is committed once the lock is free, then acknowledged."""
    holder = sqlite3.connect(tmp_path / "cdr.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        reply = asyncio.create_task(
            exchange(hl7.port, [fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")])
        )
        await asyncio.sleep(0.3)
        assert not reply.done(), "acknowledged while the message could not be committed"
        # The event loop is free meanwhile: another connection is answered at once.
        [other] = await exchange(hl7.port, [fixture_bytes("bad/ae-102-pid7-iso-date.hl7")])
        assert parse_reply(other).first("MSA").value(1) == "AE"
    finally:
        holder.execute("COMMIT")
        holder.close()
    [ack] = await asyncio.wait_for(reply, 30)
    assert parse_reply(ack).first("MSA").value(1) == "AA"


async def test_acks_and_results_carry_the_establishments_offset(sandbox, tmp_path):
    """MSH-7 is the establishment's wall time with its offset (CDR_TIMEZONE), not UTC."""
    gateway, system = await _system(sandbox, tmp_path, timezone="Pacific/Kiritimati")
    try:
        [reply] = await exchange(system.port, [fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")])
        ack = parse_reply(reply)
        assert ack.first("MSA").value(1) == "AA"
        assert ack.msh.value(7).endswith("+1400")
        await system.receiver.wait_for(1)
        assert system.receiver.messages[0].msh.value(7).endswith("+1400")
    finally:
        await system.runtime.stop()
        await system.receiver.stop()
        await gateway.aclose()
