"""`cdr conformance fixtures export DIR`: the manifest and every input as shipped, and each FHIR
case as an R4 TestScript whose assertions hold on an answer that meets the case, and fail on one
that does not."""

from __future__ import annotations

import json

import fhirpathpy
import pytest

from cdr.cli import main
from conformance.cases import FhirExpectation, load_cases, manifest_text
from conformance.export import export_fixtures, script_for
from tests.unit.mapping.fhir_schema import assert_valid

CASES = load_cases()
FHIR_CASES = [c for c in CASES if c.kind == "fhir"]


def test_the_manifest_every_input_and_a_test_script_per_fhir_case_are_written(tmp_path):
    written = export_fixtures(tmp_path / "kit", CASES)
    kit = tmp_path / "kit"
    assert (kit / "cases.json").read_text(encoding="utf-8") == manifest_text()
    assert written.inputs == len(CASES)
    for case in CASES:
        assert (kit / case.input).read_bytes() == case.payload(), case.id
    scripts = sorted((kit / "testscript").glob("*.json"))
    assert written.test_scripts == len(scripts) == len(FHIR_CASES) > 0
    for path in scripts:
        script = json.loads(path.read_text(encoding="utf-8"))
        assert_valid(script)
        assert script["name"][0].isupper() and script["name"].replace("_", "").isalnum()
        reference = script["fixture"][0]["resource"]["reference"]
        assert (path.parent / reference).is_file(), reference  # relative to the script


def _asserts(case) -> list[dict]:
    return [a["assert"] for a in script_for(case)["test"][0]["action"] if "assert" in a]


def _holds(check: dict, answer: dict) -> bool:
    got = fhirpathpy.evaluate(answer, check["expression"])
    return [str(v).lower() for v in got] == [check["value"]]


def _meeting(expect: FhirExpectation) -> dict:
    """An answer that meets ``expect``."""
    if expect.resource_type == "OperationOutcome":
        return {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": i.code, "expression": [i.expression or "x"]}
                for i in expect.issues
            ],
        }
    answer: dict = {"resourceType": "CoverageEligibilityResponse", "outcome": expect.outcome}
    if expect.inforce is not None:
        answer["insurance"] = [{"inforce": expect.inforce}]
    if expect.resource_type == "Bundle":  # a Bundle request's answer: a collection
        return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": answer}]}
    return answer


@pytest.mark.parametrize("case", FHIR_CASES, ids=lambda c: c.id)
def test_each_assertion_holds_on_a_meeting_answer_and_fails_on_another(case):
    expect = case.expect
    assert isinstance(expect, FhirExpectation)
    checks = _asserts(case)
    assert checks[0]["responseCode"] == str(expect.status)
    assert checks[1]["resource"] == expect.resource_type
    expressions = [c for c in checks if "expression" in c]
    good = _meeting(expect)
    for check in expressions:
        assert _holds(check, good), (check, good)
    bad = {"resourceType": expect.resource_type, "outcome": "error", "issue": [], "insurance": []}
    if expressions:
        assert not all(_holds(check, bad) for check in expressions)


def test_the_command_writes_and_refuses_a_directory_in_use(tmp_path, capsys):
    assert main(["conformance", "fixtures", "export", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert f"{len(CASES)} input files" in out and f"{len(FHIR_CASES)} TestScripts" in out
    assert main(["conformance", "fixtures", "export", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "is not an empty directory" in err and "Traceback" not in err
