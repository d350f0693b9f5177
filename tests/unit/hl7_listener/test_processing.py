"""The lookup made for a stored admission: its default date of care is the establishment's
calendar day when the message arrived (issue 18, item 13)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hl7_listener.ports import PendingMessage
from hl7_listener.processing import AdmissionProcessor
from rights.caller import Caller, Entry
from rights.catalogue import default_catalogue
from rights.evaluation import query_warnings
from rights.model import Requester, RightsQuery
from rights.result import LookupReport
from tests.hl7_fixtures import FIXTURES
from tests.unit.mapping.rights_reports import CREATED

PARIS = ZoneInfo("Europe/Paris")
# 23:30 UTC on 14 January is 00:30 on the 15th in Paris.
RECEIVED = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)


async def test_the_default_date_of_care_is_the_day_in_the_establishments_zone():
    queries: list[RightsQuery] = []
    callers: list[Caller] = []

    async def run_lookup(query: RightsQuery, caller: Caller) -> tuple[str, LookupReport]:
        queries.append(query)
        callers.append(caller)
        return "lookup-1", LookupReport(query, (), CREATED, 1.0, query_warnings(query))

    local_now = datetime(2026, 1, 15, 0, 31, tzinfo=PARIS)
    process = AdmissionProcessor(
        catalogue=default_catalogue(),
        requester=Requester("750712184"),
        run_lookup=run_lookup,
        destinations=["127.0.0.1:6661"],
        kind="Z99",
        application="CDR-GATEWAY",
        facility="CDR",
        now=lambda: local_now,
        new_control_id=lambda: "OUT-1",
        zone=PARIS,
    )
    # No PV1-44, ZBE-2, EVN-2 or MSH-7: nothing in the message says the date of care.
    raw = (FIXTURES / "good/adt-a28-ins-nia-utf8.hl7").read_bytes()
    raw = raw.replace(b"|20261123141022|", b"||").replace(b"EVN||20261123141000", b"EVN||")
    processed = await process(PendingMessage(1, "k", "ADT^A28", "utf-8", raw, RECEIVED))
    [query] = queries
    assert query.date_of_care == date(2026, 1, 15)
    # Who asked, for the audit trail: the sender, MSH-3 and MSH-4.
    assert callers == [Caller(Entry.HL7, "PASTEL^APHP")]
    [result] = processed.outbound
    msh_7 = result.payload.split(b"|")[6]
    assert msh_7 == b"20260115003100+0100"
