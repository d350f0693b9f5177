"""The kit's manifest: it loads, every input ships in the package, and its expectations are the
ones the project's own fixture manifests state (so the kit and the test suite cannot drift)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cases import Case, FhirExpectation, Hl7Expectation, load_cases, select
from rights.errors import InputError
from tests.hl7_fixtures import MANIFEST as HL7_MANIFEST

CASES = load_cases()
ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "conformance" / "fixtures"
FHIR_BAD = json.loads((FIXTURES / "fhir" / "bad" / "expected.json").read_text("utf-8"))
FHIR_REQUESTS = json.loads((FIXTURES / "fhir" / "requests" / "expected.json").read_text("utf-8"))


def by_input(path: str) -> Case:
    return next(c for c in CASES if c.input == path)


def test_ids_are_unique_and_every_case_names_its_clause():
    assert len({c.id for c in CASES}) == len(CASES)
    for case in CASES:
        assert case.title and case.clause and case.kind in case.tags


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_input_ships_in_the_package(case: Case):
    assert case.payload()  # read through importlib.resources, as an installed kit reads it


def test_the_test_suite_reads_the_same_files_through_its_links():
    tests = ROOT / "tests" / "fixtures"
    assert (tests / "hl7").resolve() == (FIXTURES / "hl7").resolve()
    assert (tests / "fhir" / "requests").resolve() == (FIXTURES / "fhir" / "requests").resolve()
    assert (tests / "fhir" / "bad").resolve() == (FIXTURES / "fhir" / "bad").resolve()


@pytest.mark.parametrize("entry", HL7_MANIFEST, ids=[e["file"] for e in HL7_MANIFEST])
def test_each_hl7_fixture_is_one_case_expecting_what_its_manifest_says(entry):
    case = by_input(f"hl7/{entry['file']}")
    assert case.kind == "hl7"
    err_3 = None if entry["err_code"] is None else str(entry["err_code"])
    reply = "RPI^I01" if (entry["message_type"] or "").startswith("RQI") else "ACK"
    assert case.expect == Hl7Expectation(
        reply, entry["ack"], entry["control_id"] or "", err_3, entry["err_location"]
    )


@pytest.mark.parametrize("name", sorted(FHIR_BAD))
def test_each_bad_fhir_fixture_is_one_case_expecting_its_faults(name):
    case = by_input(f"fhir/bad/{name}")
    assert isinstance(case.expect, FhirExpectation)
    assert case.expect.status in (400, 422)
    expressions = [i.expression for i in case.expect.issues]
    if name == "not-an-object.json":  # refused by the HTTP edge before any FHIRPath exists
        assert expressions == [None]
    else:
        assert expressions == [f["expression"] for f in FHIR_BAD[name]]


@pytest.mark.parametrize("name", sorted(FHIR_REQUESTS))
def test_each_request_fixture_is_one_case_expecting_a_complete_answer(name):
    case = by_input(f"fhir/requests/{name}")
    assert isinstance(case.expect, FhirExpectation)
    assert case.expect.status == 200 and case.expect.outcome == "complete"
    bundle = FHIR_REQUESTS[name]["is_bundle"]
    assert case.expect.resource_type == ("Bundle" if bundle else "CoverageEligibilityResponse")


def test_select_by_tag_or_id_and_refuses_what_matches_nothing():
    assert {c.kind for c in select(CASES, ["hl7"])} == {"hl7"}
    assert [c.id for c in select(CASES, ["fhir-bad-nir-key"])] == ["fhir-bad-nir-key"]
    assert select(CASES, []) == CASES
    with pytest.raises(InputError) as err:
        select(CASES, ["no-such-tag"])
    assert err.value.location == "--only"
