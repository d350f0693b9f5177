"""`cdr conformance validate`: a file judged by the gateway's own rules, with the gateway's own
words; every case's input gives the answer its case expects."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cdr.cli import main
from conformance.cases import Case, FhirExpectation, Hl7Expectation, load_cases
from conformance.validate import validate_file
from rights.catalogue import default_catalogue
from rights.model import Requester

CASES = load_cases()
FIXTURES = Path(__file__).resolve().parents[3] / "conformance" / "fixtures"
HL7_GOOD = str(FIXTURES / "hl7" / "good" / "adt-a01-ins-nir-latin1.hl7")
HL7_BAD = str(FIXTURES / "hl7" / "bad" / "ae-103-nir-wrong-key-pid3-rep2.hl7")
CER_GOOD = str(FIXTURES / "fhir" / "requests" / "cer-52345-validation.json")
CER_BAD = str(FIXTURES / "fhir" / "bad" / "collects-all.json")


def verdict(path: str):
    return validate_file(
        path,
        catalogue=default_catalogue(),
        requester=Requester("750100018", label="CDR Gateway"),
        today=date(2026, 12, 7),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_case_input_is_judged_as_the_case_expects(case: Case):
    result = verdict(str(FIXTURES / case.input))
    if isinstance(case.expect, Hl7Expectation):
        assert result.kind == "hl7"
        e = case.expect
        want = [] if e.err_3 is None else [(f"{e.msa_1} {e.err_3}", e.err_2)]
        assert [(f.code, f.location) for f in result.findings] == want
    else:
        assert isinstance(case.expect, FhirExpectation)
        assert result.kind == "fhir"
        want_at = [i.expression or "" for i in case.expect.issues]
        assert [f.location for f in result.findings] == want_at


def test_a_good_adt_is_valid(capsys):
    assert main(["conformance", "validate", HL7_GOOD]) == 0
    assert capsys.readouterr().out == f"{HL7_GOOD}: valid\n"


def test_a_bad_adt_names_the_field_and_the_table_0357_code_in_the_acks_words(capsys):
    assert main(["conformance", "validate", HL7_GOOD, HL7_BAD]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{HL7_GOOD}: valid"
    assert out[1] == (
        f"{HL7_BAD}: AE 103 at PID-3(2).1: PID-3(2).1: NIR key check failed: key 14 is wrong, "
        "expected key 41"
    )


def test_a_good_cer_is_valid(capsys):
    assert main(["conformance", "validate", CER_GOOD]) == 0
    assert capsys.readouterr().out == f"{CER_GOOD}: valid\n"


def test_a_bad_cer_lists_every_fault_at_its_fhirpath(capsys):
    assert main(["conformance", "validate", CER_BAD]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "Bundle.entry[0].resource.servicedDate",
        "Bundle.entry[1].resource.identifier[0].value",
        "Bundle.entry[1].resource.extension[0].valuePositiveInt",
        "Bundle.entry[2].resource.class[0].value",
    ]
    assert lines[1].endswith("NIR key 42 is wrong: expected 41 [key]")


def test_an_unreadable_file_is_one_line_naming_it_and_exit_2(capsys, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello", encoding="utf-8")
    missing = tmp_path / "missing.hl7"
    assert main(["conformance", "validate", HL7_GOOD, str(other), str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"{HL7_GOOD}: valid\n"
    assert captured.err.splitlines() == [
        f"{other}: cannot be read: neither an HL7 v2 message (MSH|…) nor a FHIR JSON resource",
        f"{missing}: cannot be read: No such file or directory",
    ]


def test_json_that_is_not_a_resource_is_invalid_in_the_edges_words(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": ', encoding="utf-8")
    assert main(["conformance", "validate", str(broken)]) == 1
    assert "body is not valid JSON" in capsys.readouterr().out
