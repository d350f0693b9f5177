"""A regime's refusal is a refusal at every edge (issue 18.3): its reason reaches the FHIR
``error`` code, the disposition, and ZRD-4 of the HL7 result; it is never "unavailable"."""

from __future__ import annotations

import dataclasses

from mapping.fhir.common import CS_CDR_ERROR
from mapping.fhir.terms import EXT_REGIME_STATUS
from mapping.hl7v2.er7 import Delimiters
from mapping.hl7v2.rights_segments import zrd_segment
from rights.result import InForceReason, LookupReport, RegimeStatus
from tests.unit.mapping.rights_reports import (
    TODAY,
    answer_for,
    catalogue,
    failed,
    member,
    report_for,
)

_REFUSED = "msa: request refused, HTTP 403: structure 130100050 is of category 500"


def _refused_everywhere() -> LookupReport:
    report = report_for(member("Lefèvre", "Jean-Baptiste"))
    refusal = failed(
        "cnam", RegimeStatus.REJECTED, TODAY, _REFUSED, InForceReason.REQUESTER_REFUSED
    )
    return dataclasses.replace(report, results=(refusal,))


def test_a_refused_requester_is_the_fhir_error_code_and_the_disposition() -> None:
    response = answer_for(_refused_everywhere()).response
    assert response["outcome"] == "error"
    (error,) = response["error"]
    assert [c["code"] for c in error["code"]["coding"] if c["system"] == CS_CDR_ERROR] == [
        "requester-refused"
    ]
    assert response["disposition"].startswith("Every regime asked refused the lookup. ")
    assert "CNAM refused the requesting structure (requester-refused)" in response["disposition"]
    assert "could not answer" not in response["disposition"]
    (status,) = [e for e in response["extension"] if e["url"] == EXT_REGIME_STATUS]
    reasons = [p["valueCode"] for p in status["extension"] if p["url"] == "reason"]
    assert reasons == ["requester-refused"]


def test_a_refusal_carries_its_reason_in_zrd_4() -> None:
    zrd = zrd_segment(_refused_everywhere(), Delimiters(), catalogue=catalogue())
    fields = zrd.split("|")
    # Refused: the rights are unknown (U), not "not in force" (N): nobody looked.
    assert fields[1:5] == ["error", "U", "20261124", "cnam^rejected^requester-refused"]
    assert "refused the requesting structure" in fields[5]


def test_a_regime_down_keeps_its_two_component_zrd_4() -> None:
    report = report_for(member("Lefèvre", "Jean-Baptiste"))
    down = failed("msa", RegimeStatus.UNAVAILABLE, TODAY, "msa: cannot reach the regime service")
    report = dataclasses.replace(report, results=(*report.results, down))
    assert zrd_segment(report, Delimiters()).split("|")[4] == "cnam^found~msa^unavailable"
