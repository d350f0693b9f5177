"""Per-destination result options (``CDR_HL7_DESTINATION_OPTIONS``): the charset a result is
written in, with MSH-18 saying it (PAM FR 2.11.2 §6.1), and whether ZRD goes with it."""

from __future__ import annotations

from datetime import UTC, datetime

from hl7_listener.ports import PendingMessage
from hl7_listener.processing import AdmissionProcessor, ResultOptions
from mapping.hl7v2.er7 import Message
from rights.caller import Caller
from rights.evaluation import query_warnings
from rights.model import Requester, RightsQuery
from rights.result import LookupReport
from tests.hl7_fixtures import fixture_bytes
from tests.unit.mapping.rights_reports import CREATED, catalogue, found, population

NOW = datetime(2026, 11, 24, 9, 31, tzinfo=UTC)
ASCII_SENDER = "good/adt-a01-in1-msa-ascii.hl7"


async def _lookup(query: RightsQuery, caller: Caller) -> tuple[str, LookupReport]:
    [who] = [m for m in population().members if m.nir == query.nir.value]
    results = (found(who.regime, who.rights, query.date_of_care),)
    return "L-1", LookupReport(query, results, CREATED, 1.0, query_warnings(query))


async def test_each_destination_gets_its_charset_and_zrd_choice() -> None:
    processor = AdmissionProcessor(
        catalogue=catalogue(),
        requester=Requester("750712184"),
        run_lookup=_lookup,
        destinations=["default:1", "strict:2", "utf8:3"],
        kind="Z99",
        application="CDR-GATEWAY",
        facility="CDR",
        now=lambda: NOW,
        new_control_id=lambda: "OUT-1",
        options={
            "strict:2": ResultOptions(charset="ASCII", zrd=False),
            "utf8:3": ResultOptions(charset="UNICODE UTF-8"),
        },
    )
    pending = PendingMessage(1, "k", "ADT^A01", "ascii", fixture_bytes(ASCII_SENDER), NOW)
    processed = await processor(pending)
    by_destination = {o.destination: o.payload for o in processed.outbound}
    default = by_destination["default:1"]
    # An ASCII sender's result is still written in 8859/15 and says so (no "B?zier").
    assert "Bézier".encode("iso8859_15") in default
    assert Message.parse(default.decode("iso8859_15")).msh.field(18) == "8859/15"
    assert b"\rZRD|" in default
    strict = by_destination["strict:2"]
    assert b"B\\XC3A9\\zier" in strict and b"?" not in strict
    assert Message.parse(strict.decode("ascii")).msh.field(18) == "ASCII"
    assert b"\rZRD|" not in strict and b"\rOBX|" in strict
    utf8 = Message.parse(by_destination["utf8:3"].decode("utf-8"))
    assert utf8.msh.field(18) == "UNICODE UTF-8"
