"""The judges say, in one sentence per difference, how an answer differs from a case's
expectations; a right answer has none."""

from __future__ import annotations

import json

from conformance.cases import FhirExpectation, Hl7Expectation, IssueExpectation
from conformance.fhir_judge import judge_fhir_answer
from conformance.hl7_judge import judge_hl7_reply

AE_PID7 = Hl7Expectation("ACK", "AE", "MSG-1", "102", "PID-7")


def ack(msa: str, err: str = "") -> bytes:
    text = f"MSH|^~\\&|CDR|X|A|B|20261207||ACK^A01^ACK|C1|P|2.5\r{msa}\r" + (err and err + "\r")
    return text.encode("ascii")


def test_the_expected_ae_has_no_difference():
    reply = ack("MSA|AE|MSG-1", "ERR||PID^1^7|102^Data type error^HL70357|E||||bad date")
    assert judge_hl7_reply(reply, AE_PID7) == []


def test_an_aa_for_a_bad_message_says_what_was_expected():
    assert judge_hl7_reply(ack("MSA|AA|MSG-1"), AE_PID7) == [
        "MSA-1: expected AE, got AA",
        "ERR: expected ERR-3 102 at PID-7, got no ERR segment",
    ]


def test_a_wrong_code_and_location_are_both_named():
    reply = ack("MSA|AE|MSG-1", "ERR||PID^1^3|101^Required field missing^HL70357|E")
    assert judge_hl7_reply(reply, AE_PID7) == [
        "ERR-3: expected 102, got 101",
        "ERR-2: expected PID^1^7 (PID-7), got PID^1^3",
    ]


def test_an_ack_answering_a_query_is_the_wrong_message():
    query = Hl7Expectation("RPI^I01", "AA", "MSG-1", None, None)
    assert judge_hl7_reply(ack("MSA|AA|MSG-1"), query) == [
        "MSH-9: expected RPI^I01, got ACK^A01^ACK"
    ]


def test_garbage_is_not_an_hl7_message():
    [diff] = judge_hl7_reply(b"HTTP/1.1 400 Bad Request\r\n", AE_PID7)
    assert diff.startswith("the reply is not an HL7 message")


REFUSAL = FhirExpectation(
    400,
    "OperationOutcome",
    issues=(IssueExpectation("required", "CoverageEligibilityRequest.status"),),
)
ANSWER = FhirExpectation(200, "CoverageEligibilityResponse", outcome="complete", inforce=True)


def test_200_with_an_empty_object_fails_every_way_it_can():
    assert judge_fhir_answer(200, b"{}", REFUSAL) == [
        "HTTP status: expected 400, got 200",
        "the answer is not a FHIR resource: '{}'",
    ]


def test_an_outcome_without_the_expected_issue_lists_what_it_has():
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "value", "expression": ["X.y"]}],
    }
    assert judge_fhir_answer(400, json.dumps(outcome).encode(), REFUSAL) == [
        "no issue required at CoverageEligibilityRequest.status (the answer has: value at X.y)"
    ]


def test_a_response_missing_its_essentials_and_not_in_force():
    body = {"resourceType": "CoverageEligibilityResponse", "outcome": "complete",
            "insurance": [{"inforce": False}]}  # fmt: skip
    diffs = judge_fhir_answer(200, json.dumps(body).encode(), ANSWER)
    assert "CoverageEligibilityResponse.status: required, absent" in diffs
    assert diffs[-1] == (
        "CoverageEligibilityResponse.insurance.inforce: expected some insurance with inforce "
        "true, got [false]"
    )


def test_non_json_is_said_so():
    assert judge_fhir_answer(200, b"<html>", ANSWER) == ["the answer is not JSON: '<html>'"]


def test_an_answer_that_breaks_the_r4_schema_or_an_invariant_fails_with_where():
    body = {
        "resourceType": "CoverageEligibilityResponse", "status": "active",
        "purpose": ["validation"], "patient": {"reference": "Patient/p"},
        "created": "2026-12-07", "request": {"reference": "CoverageEligibilityRequest/r"},
        "outcome": "complete", "insurer": {"display": "CDR"},
        "insurance": [{"coverage": {"display": "AMO"}, "inforce": "yes"}],
    }  # fmt: skip
    diffs = judge_fhir_answer(200, json.dumps(body).encode(), ANSWER)
    assert any(d.startswith("R4 schema: insurance/0/inforce:") for d in diffs), diffs
    body["insurance"] = [{"coverage": {"display": "AMO"}, "inforce": True}]
    body["contained"] = [{"resourceType": "Patient", "id": "p", "text": {"status": "generated"}}]
    diffs = judge_fhir_answer(200, json.dumps(body).encode(), ANSWER)
    assert any(d.startswith("R4 schema: contained/0: ") for d in diffs), diffs  # no div
    body["contained"] = [{"resourceType": "Patient", "id": "p", "meta": {"versionId": "1"}}]
    diffs = judge_fhir_answer(200, json.dumps(body).encode(), ANSWER)
    assert any("dom-4" in d for d in diffs), diffs  # contained resources carry no meta.versionId
