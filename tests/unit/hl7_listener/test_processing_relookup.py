"""What the processing of an admission decides about finality and re-lookups (issue 18 item 5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hl7_listener.ports import PendingMessage
from hl7_listener.processing import AdmissionProcessor
from hl7_listener.relookup_policy import RelookupPolicy
from mapping.fhir.rights_to_bundle import PRELIMINARY
from mapping.hl7v2.er7 import Message
from rights.caller import Caller
from rights.model import Requester, RightsQuery
from rights.result import LookupReport, RegimeStatus
from tests.hl7_fixtures import FIXTURES
from tests.unit.mapping.rights_reports import TODAY, catalogue, failed, member, report_for

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RAW = (FIXTURES / "good/adt-a01-ins-nir-latin1.hl7").read_bytes()
WHO = member("Lefèvre", "Jean-Baptiste")
DOWN = report_for(WHO, extra=(failed("msa", RegimeStatus.UNAVAILABLE, TODAY, "msa: down"),))
REFUSED = report_for(WHO, extra=(failed("msa", RegimeStatus.REJECTED, TODAY, "msa: refused"),))
POLICY = RelookupPolicy(window_s=600, backoff_s=10, backoff_max_s=60)
PENDING = PendingMessage(1, WHO.nir, "ADT^A01", "latin-1", RAW, NOW - timedelta(hours=2))


def _processor(
    report: LookupReport,
    *,
    policy: RelookupPolicy | None = POLICY,
    destinations: tuple[str, ...] = ("127.0.0.1:6661", "http://ehr.example/fhir"),
    asked: list[RightsQuery] | None = None,
) -> AdmissionProcessor:
    async def run_lookup(query: RightsQuery, caller: Caller) -> tuple[str, LookupReport]:
        if asked is not None:
            asked.append(query)
        return "L1", report

    return AdmissionProcessor(
        catalogue=catalogue(),
        requester=Requester(finess="750712184"),
        run_lookup=run_lookup,
        destinations=destinations,
        kind="Z99",
        application="CDR",
        facility="GW",
        now=lambda: NOW,
        new_control_id=lambda: "OUT-1",
        relookup=policy,
    )


def _zrd_8(payload: bytes) -> str:
    zrd = Message.parse(payload.decode("latin-1")).first("ZRD")
    assert zrd is not None
    return zrd.field(8)


def _disposition(payload: bytes) -> str:
    bundle = json.loads(payload)
    (response,) = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "CoverageEligibilityResponse"
    ]
    return str(response["disposition"])


async def test_a_regime_not_asked_makes_the_first_results_preliminary_and_asks_again() -> None:
    processed = await _processor(DOWN)(PENDING)
    z99, fhir = processed.outbound
    assert _zrd_8(z99.payload) == "P"
    assert _disposition(fhir.payload).endswith(PRELIMINARY)
    assert not processed.final and processed.relookup is not None
    assert processed.relookup.waiting_for == ("msa",)
    assert processed.relookup.next_attempt_at == NOW + timedelta(seconds=10)
    assert processed.relookup.deadline_at == NOW + timedelta(seconds=600)


async def test_a_refusal_is_an_answer_so_the_result_is_final() -> None:
    processed = await _processor(REFUSED)(PENDING)
    assert processed.final and processed.relookup is None
    assert _zrd_8(processed.outbound[0].payload) == "F"
    assert PRELIMINARY not in _disposition(processed.outbound[1].payload)


async def test_with_re_lookups_off_or_nowhere_to_send_the_first_result_is_final() -> None:
    off = await _processor(DOWN, policy=None)(PENDING)
    assert off.final and off.relookup is None and _zrd_8(off.outbound[0].payload) == "F"
    nowhere = await _processor(DOWN, destinations=())(PENDING)
    assert nowhere.final and nowhere.relookup is None


async def test_a_re_lookup_asks_for_the_first_date_of_care_and_sends_only_when_final() -> None:
    # Without dates in the message, the date of care is the day it arrived, not today.
    undated = RAW.replace(b"|20261124083000|", b"||").replace(b"|20261124083012|", b"||")
    arrived = PendingMessage(1, WHO.nir, "ADT^A01", "latin-1", undated, NOW - timedelta(days=3))
    asked: list[RightsQuery] = []
    processor = _processor(DOWN, asked=asked)
    await processor(arrived)
    still_down = await processor.again(arrived, last=False)
    assert not still_down.final and still_down.outbound == ()
    assert still_down.not_asked == ("msa",)
    assert [q.date_of_care for q in asked] == [arrived.received_at.date()] * 2
    last = await _processor(DOWN).again(PENDING, last=True)
    assert last.final and _zrd_8(last.outbound[0].payload) == "F"
    answered = await _processor(report_for(WHO)).again(PENDING, last=False)
    assert answered.final and len(answered.outbound) == 2 and answered.not_asked == ()
