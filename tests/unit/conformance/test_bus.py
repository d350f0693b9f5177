"""The kit's bus (conformance.bus): results as the gateway writes them are valid for every
scenario; each way a sender can break one (the type, a group's IN1-3, the order, the status, ZRD)
is found with its location; over a real socket the bus acknowledges AA or AE with the fault."""

from __future__ import annotations

import pytest

from conformance.bus import BusSimulator, result_findings
from conformance.mllp import mllp_exchange
from mapping.hl7v2.er7 import Message
from tests.unit.mapping.hl7v2.test_rights_to_in1 import _MEMBERS, _update
from tests.unit.mapping.rights_reports import report_for


def _result(scenario: str, kind: str = "Z99") -> str:
    who = next(m for m in _MEMBERS if scenario in m.scenarios)
    return _update(report_for(who), who, kind=kind)


def _bytes(text: str) -> bytes:
    return text.encode("iso8859-15")


def _without_field(text: str, segment: str, number: int) -> str:
    lines = text.split("\r")
    for i, line in enumerate(lines):
        if line.startswith(segment + "|"):
            fields = line.split("|")
            fields[number] = ""
            lines[i] = "|".join(fields)
            break
    return "\r".join(lines)


@pytest.mark.parametrize("scenario", ["open", "closed", "c2s", "ame", "unknown", "etm"])
@pytest.mark.parametrize("kind", ["Z99", "A31"])
def test_the_gateway_s_results_are_valid(scenario: str, kind: str) -> None:
    assert result_findings(_bytes(_result(scenario, kind))) == []


def test_each_broken_result_is_found_where_it_breaks() -> None:
    good = _result("c2s")
    dropped_in1_3 = _without_field(good, "IN1", 3)
    assert any("IN1-3" in f.message for f in result_findings(_bytes(dropped_in1_3)))
    ack = good.replace("ADT^Z99^ADT_A01", "ACK^A01^ACK", 1)
    [wrong] = result_findings(_bytes(ack))
    assert (wrong.location, wrong.code) == ("MSH-9", "AR 200")
    lines = good.split("\r")
    zrd = next(line for line in lines if line.startswith("ZRD|"))
    moved = "\r".join([lines[0], zrd, *[x for x in lines[1:] if x != zrd]])
    assert any(f.code == "AE 100" for f in result_findings(_bytes(moved)))
    no_zrd = "\r".join(line for line in lines if not line.startswith("ZRD|"))
    assert [f.location for f in result_findings(_bytes(no_zrd))] == ["ZRD"]
    assert result_findings(_bytes(no_zrd), zrd=False) == []  # a receiver told "zrd": false
    no_status = _without_field(good, "ZRD", 8)
    assert [f.location for f in result_findings(_bytes(no_status))] == ["ZRD-8"]


async def test_over_mllp_the_bus_acknowledges_and_records() -> None:
    seen = []
    bus = BusSimulator(on_message=seen.append)
    port = await bus.start("127.0.0.1", 0)
    try:
        good = _bytes(_result("open"))
        ack = Message.parse((await mllp_exchange("127.0.0.1", port, good, timeout=5)).decode())
        assert ack.first("MSA").value(1) == "AA"  # type: ignore[union-attr]
        assert ack.first("MSA").value(2) == "OUT-1"  # type: ignore[union-attr]
        broken = _bytes(_without_field(_result("open"), "IN1", 3))
        nak = Message.parse((await mllp_exchange("127.0.0.1", port, broken, timeout=5)).decode())
        assert nak.first("MSA").value(1) == "AE"  # type: ignore[union-attr]
        assert nak.first("ERR") is not None
    finally:
        await bus.stop()
    assert [r.valid for r in seen] == [True, False]
    assert seen[0].line().startswith("VALID   ADT^Z99 OUT-1 from CDR|GW: answers MSG-1")
    assert "IN1-3" in seen[1].line()
