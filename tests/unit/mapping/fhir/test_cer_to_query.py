"""CER ($submit body) → checked eligibility ask: fixture files first, then the rules one by one."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mapping.fhir.cer_to_query import EligibilityAsk, submit_body_to_ask
from mapping.fhir.common import (
    CLASS_CDR_REGIME,
    CLASS_CENTRE,
    CLASS_REGIME,
    CS_CLASS_TYPE,
    EXT_LUNAR_BIRTH_DATE,
    SYSTEM_NIA,
    SYSTEM_NIR,
    SYSTEM_NIR_DEMO,
    SYSTEM_NIR_TEST,
    SYSTEM_ORGANISATION_NUMBER,
)
from rights.catalogue import default_catalogue
from rights.errors import Fault, ResourceError
from rights.model import Requester
from rights.queries import build_query
from tests.unit.mapping.fhir_schema import assert_valid

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "fhir"
REQUESTS = sorted(p for p in (FIXTURES / "requests").glob("*.json") if p.name != "expected.json")
BAD = sorted(p for p in (FIXTURES / "bad").glob("*.json") if p.name != "expected.json")
CATALOGUE = default_catalogue()
TODAY = date(2026, 11, 24)
DEFAULT = Requester("750712184", label="Gateway default structure")
CER = "CoverageEligibilityRequest"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def ask(body: Any) -> EligibilityAsk:
    return submit_body_to_ask(body, catalogue=CATALOGUE, today=TODAY, default_requester=DEFAULT)


def faults_of(body: Any) -> tuple[Fault, ...]:
    with pytest.raises(ResourceError) as err:
        ask(body)
    return err.value.faults


def fixture(name: str) -> dict[str, Any]:
    return copy.deepcopy(load(FIXTURES / "requests" / name))


def summary(result: EligibilityAsk) -> dict[str, Any]:
    q = result.query
    return {
        "nir": q.nir.value,
        "is_nia": q.nir.is_nia,
        "is_test": q.nir.is_test,
        "birth_date": q.birth_date,
        "rang": q.rang,
        "regime": q.regime,
        "date_of_care": q.date_of_care.isoformat(),
        "requester": {
            "finess": q.requester.finess,
            "rpps": q.requester.rpps,
            "label": q.requester.label,
        },
        "family_name": q.family_name,
        "given_name": q.given_name,
        "purposes": list(result.purposes),
        "is_bundle": result.is_bundle,
        "nir_expression": result.nir_expression,
        "patient_id": result.patient["id"] if result.patient else None,
        "coverage_id": result.coverage["id"] if result.coverage else None,
        "organization_ids": [o["id"] for o in result.organizations],
    }


# --- fixture files ----------------------------------------------------------------------------


def test_every_fixture_has_its_expectations():
    assert sorted(load(FIXTURES / "requests" / "expected.json")) == [p.name for p in REQUESTS]
    assert sorted(load(FIXTURES / "bad" / "expected.json")) == [p.name for p in BAD]


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name)
def test_request_gives_the_expected_query(path):
    expected = load(FIXTURES / "requests" / "expected.json")[path.name]
    assert summary(ask(load(path))) == expected


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name)
def test_request_fixture_is_valid_r4(path):
    assert_valid(load(path))


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_request_gives_exactly_the_expected_faults(path):
    expected = load(FIXTURES / "bad" / "expected.json")[path.name]
    faults = faults_of(load(path))
    assert [(f.expression, f.check) for f in faults] == [
        (e["expression"], e["check"]) for e in expected
    ]
    for fault, wanted in zip(faults, expected, strict=True):
        assert wanted.get("message_contains", "") in fault.message


# --- what the ask carries ---------------------------------------------------------------------


def test_the_query_is_what_build_query_makes_of_the_same_fields():
    result = ask(fixture("cer-52345-validation.json"))
    direct = build_query(
        "258094700104529",
        date_of_care=TODAY,
        catalogue=CATALOGUE,
        requester=Requester("330781196", label="CHU de Bordeaux"),
        birth_date="1958-09-03",
        regime="msa",
        nir_oid="1.2.250.1.213.1.4.8",
    )
    assert result.query.nir == direct.nir
    assert (result.query.family_name, result.query.given_name) == ("Bérenger", "Marie-Claire")
    assert result.query.requester == direct.requester
    assert (result.query.regime, result.query.birth_date) == (direct.regime, direct.birth_date)


def test_the_resources_are_returned_as_received():
    body = fixture("cer-52345-validation.json")
    result = ask(body)
    assert result.cer is body
    assert result.cer["contained"]  # contained kept
    assert result.patient is body["contained"][0]
    assert result.coverage is body["contained"][1]


def test_a_bundle_entry_patient_is_the_entry_resource():
    body = fixture("fais-bundle-collection.json")
    result = ask(body)
    assert result.cer is body["entry"][0]["resource"]
    assert result.patient is body["entry"][1]["resource"]
    assert result.is_bundle


# --- identity ---------------------------------------------------------------------------------


def _identifier(system: str, value: str, *, use: str | None = None, nh: bool = False):
    out: dict[str, Any] = {"system": system, "value": value}
    if use:
        out["use"] = use
    if nh:
        out["type"] = {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "NH"}]
        }
    return out


NIR_A = "162047511412341"
NIR_B = "258094700104529"


@pytest.mark.parametrize(
    ("identifiers", "chosen"),
    [
        # INS-NIR official before the NSS slice, wherever it stands.
        (
            [
                _identifier(SYSTEM_NIR, NIR_B, nh=True),
                _identifier(SYSTEM_NIR, NIR_A, use="official"),
            ],
            1,
        ),
        ([_identifier(SYSTEM_NIA, NIR_B), _identifier(SYSTEM_NIR, NIR_A, nh=True)], 1),
        ([_identifier(SYSTEM_NIR_TEST, NIR_B), _identifier(SYSTEM_NIA, NIR_A)], 1),
        ([_identifier(SYSTEM_NIR_DEMO, NIR_B), _identifier(SYSTEM_NIR_TEST, NIR_A)], 1),
        ([_identifier(SYSTEM_NIR, NIR_B, use="old"), _identifier(SYSTEM_NIR_DEMO, NIR_A)], 1),
        ([_identifier(SYSTEM_NIR, NIR_A), _identifier(SYSTEM_NIR, NIR_B)], 0),  # first of equals
    ],
    ids=["ins-over-nss", "nss-over-nia", "nia-over-test", "test-over-demo", "old-last", "tie"],
)
def test_identifier_preference(identifiers, chosen):
    body = fixture("discovery-no-insurance.json")
    body["contained"][0]["identifier"] = identifiers
    result = ask(body)
    assert result.query.nir.value == identifiers[chosen]["value"]
    assert result.nir_expression == f"{CER}.contained[0].identifier[{chosen}]"


def test_an_invalid_nir_is_reported_even_when_a_lesser_identifier_is_valid():
    body = fixture("discovery-no-insurance.json")
    body["contained"][0]["identifier"] = [
        _identifier(SYSTEM_NIA, NIR_A),
        _identifier(SYSTEM_NIR, NIR_A[:-2] + "00", nh=True),
    ]
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (f"{CER}.contained[0].identifier[1].value", "key")
    assert "expected 41" in fault.message


def test_a_logical_patient_reference_need_not_resolve():
    body = fixture("test-oid-logical-patient.json")
    body["patient"]["reference"] = "Patient/held-elsewhere"
    assert ask(body).query.nir.value == "169013155538850"


def test_the_patient_must_reference_a_patient():
    body = fixture("cer-52345-validation.json")
    body["patient"] = {"reference": "#chu"}
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (f"{CER}.patient.reference", "value")


def test_a_malformed_element_is_reported_once():
    body = fixture("cer-52345-validation.json")
    body["patient"] = "Patient/pat1"
    assert [(f.expression, f.check) for f in faults_of(body)] == [(f"{CER}.patient", "value")]


def test_lunar_birth_date_on_the_birth_date_element():
    body = fixture("lunar-birth-date.json")
    patient = body["contained"][0]
    del patient["extension"]
    patient["_birthDate"] = {
        "extension": [{"url": EXT_LUNAR_BIRTH_DATE, "valueString": "1971-00-15"}]
    }
    assert ask(body).query.birth_date == "1971-00-15"


@pytest.mark.parametrize(
    ("birth_date", "words"),
    [("2099-01-01", "future"), ("2026-11-25", "future"), ("1962-02-30", "calendar")],
)
def test_a_future_or_impossible_birth_date_is_a_fault(birth_date, words):
    body = fixture("cer-52345-validation.json")
    body["contained"][0]["birthDate"] = birth_date
    (fault,) = faults_of(body)
    assert fault.expression == f"{CER}.contained[0].birthDate"
    assert words in fault.message


def test_a_lunar_birth_date_in_the_extension_is_kept_unless_in_the_future():
    body = fixture("lunar-birth-date.json")
    patient = body["contained"][0]
    del patient["extension"]
    patient["_birthDate"] = {
        "extension": [{"url": EXT_LUNAR_BIRTH_DATE, "valueString": "1962-02-30"}]
    }
    assert ask(body).query.birth_date == "1962-02-30"
    patient["_birthDate"]["extension"][0]["valueString"] = "2099-00-00"
    (fault,) = faults_of(body)
    assert "future" in fault.message


def test_a_partial_birth_date_is_not_sent_to_the_regimes():
    body = fixture("lunar-birth-date.json")
    del body["contained"][0]["extension"]
    result = ask(body)
    assert result.query.birth_date is None
    assert result.query.nir.value == "171209935202721"


# --- date of care -----------------------------------------------------------------------------


def test_serviced_period_without_start_means_today():
    body = fixture("fais-bundle-collection.json")
    body["entry"][0]["resource"]["servicedPeriod"] = {"end": "2026-12-01"}
    assert ask(body).query.date_of_care == TODAY


@pytest.mark.parametrize("day", ["0001-01-01", "1900-01-01"])
def test_a_date_of_care_before_any_right_is_a_fault(day):
    body = fixture("cer-52345-validation.json")
    body.pop("servicedPeriod", None)
    body["servicedDate"] = day
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (f"{CER}.servicedDate", "value")
    assert "before 1945-01-01" in fault.message


def test_a_date_of_care_in_the_future_is_not_refused_here():
    body = fixture("cer-52345-validation.json")
    body.pop("servicedPeriod", None)
    body["servicedDate"] = "2099-01-01"
    assert ask(body).query.date_of_care == date(2099, 1, 1)


@pytest.mark.parametrize(
    "created", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30"]
)
def test_a_created_with_no_instant_in_utc_is_a_fault(created):
    body = fixture("cer-52345-validation.json")
    body["created"] = created
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (f"{CER}.created", "value")


def test_a_bad_serviced_period_start_is_a_format_fault():
    body = fixture("fais-bundle-collection.json")
    body["entry"][0]["resource"]["servicedPeriod"] = {"start": "2026-11-24 09:00"}
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (
        "Bundle.entry[0].resource.servicedPeriod.start",
        "format",
    )


# --- regime -----------------------------------------------------------------------------------


def _class(code: str, value: str) -> dict[str, Any]:
    return {"type": {"coding": [{"system": CS_CLASS_TYPE, "code": code}]}, "value": value}


def _with_classes(*classes: dict[str, Any], purpose: str = "validation") -> dict[str, Any]:
    body = fixture("lunar-birth-date.json")
    body["purpose"] = [purpose]
    body["contained"][1]["class"] = list(classes)
    return body


def test_a_shared_regime_code_is_routed_by_its_centre():
    assert ask(
        _with_classes(_class(CLASS_REGIME, "99"), _class(CLASS_CENTRE, "0603"))
    ).query.regime == ("camieg")


def test_a_shared_regime_code_without_centre_becomes_discovery():
    assert ask(_with_classes(_class(CLASS_REGIME, "99"))).query.regime is None


def test_discovery_asks_every_regime_whatever_the_coverage_says():
    body = _with_classes(_class(CLASS_CDR_REGIME, "not-a-regime"), purpose="discovery")
    result = ask(body)
    assert result.query.regime is None
    assert result.coverage is body["contained"][1]


def test_a_class_of_another_system_is_not_ours():
    other = {
        "type": {"coding": [{"system": "urn:example", "code": CLASS_CDR_REGIME}]},
        "value": "msa",
    }
    assert ask(_with_classes(other)).query.regime is None


def test_payor_organisation_number_names_the_regime():
    body = _with_classes()
    body["contained"].append(
        {
            "resourceType": "Organization",
            "id": "caisse",
            "identifier": [{"system": SYSTEM_ORGANISATION_NUMBER, "value": "02 471 0000"}],
        }
    )
    body["contained"][1]["payor"] = [{"reference": "#caisse"}]
    result = ask(body)
    assert result.query.regime == "msa"
    assert [o["id"] for o in result.organizations] == ["caisse"]


def test_a_malformed_organisation_number_is_a_fault():
    body = _with_classes()
    body["contained"][1]["payor"] = [
        {"identifier": {"system": SYSTEM_ORGANISATION_NUMBER, "value": "0247"}}
    ]
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (
        f"{CER}.contained[1].payor[0].identifier.value",
        "value",
    )


def test_the_focal_insurance_wins_over_the_first():
    body = fixture("lunar-birth-date.json")
    other = copy.deepcopy(body["contained"][1])
    other["id"] = "c2"
    other["class"] = [_class(CLASS_CDR_REGIME, "msa")]
    body["contained"].append(other)
    body["insurance"] = [
        {"coverage": {"reference": "#c"}},
        {"focal": True, "coverage": {"reference": "#c2"}},
    ]
    assert ask(body).query.regime == "msa"


# --- bodies and references --------------------------------------------------------------------


def test_a_batch_bundle_resolves_relative_references_by_type_and_id():
    body = fixture("twins-rang-2.json")
    body["type"] = "batch"
    for entry in body["entry"]:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    body["entry"][0]["resource"]["patient"] = {"reference": "Patient/twin-pat"}
    result = ask(body)
    assert result.query.rang == 2
    assert result.patient is body["entry"][1]["resource"]


def test_parameters_with_two_resources_is_a_fault():
    body = fixture("parameters-cer.json")
    body["parameter"].append(copy.deepcopy(body["parameter"][0]))
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == ("Parameters.parameter[1]", "value")


def test_parameters_must_wrap_a_request_or_a_bundle():
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": {"resourceType": "Patient"}}],
    }
    (fault,) = faults_of(body)
    assert fault.expression == "Parameters.parameter[0].resource.resourceType"


# --- requester --------------------------------------------------------------------------------


def test_an_invalid_rpps_is_a_fault():
    body = fixture("parameters-cer.json")
    body["parameter"][0]["resource"]["contained"][2]["identifier"][0]["value"] = "8123"
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (
        "Parameters.parameter[0].resource.contained[2].identifier[0].value",
        "length",
    )


ID_NAT_ST = "urn:oid:1.2.250.1.71.4.2.2"


def test_a_structure_named_by_its_siret_only_is_refused_not_replaced_by_the_default():
    body = fixture("cer-52345-validation.json")
    # idNatSt prefix 3 is a SIRET, not a FINESS: the gateway cannot ask in that structure's name.
    body["contained"][3]["identifier"][0]["value"] = "312345678900012"
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (f"{CER}.contained[3].identifier[0]", "requester")
    assert "FINESS" in fault.message


def test_an_id_nat_st_value_without_its_kind_prefix_is_refused():
    body = fixture("cer-52345-validation.json")
    body["contained"][3]["identifier"][0]["value"] = "999999999"
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (f"{CER}.contained[3].identifier[0].value", "format")
    assert "1 FINESS" in fault.message and "'999999999'" in fault.message


@pytest.mark.parametrize("element", ["provider", "facility"])
@pytest.mark.parametrize(
    ("system", "value", "check"),
    [
        (ID_NAT_ST, "999999999", "format"),
        (ID_NAT_ST, "1750712185", "key"),
        ("https://finess.esante.gouv.fr", "999999999", "key"),
        ("https://finess.esante.gouv.fr", "7507121", "length"),
        ("https://hopital.example.org/structures", "UF-42", "requester"),
    ],
)
def test_an_unreadable_requester_identifier_is_a_fault_under_any_system(
    element: str, system: str, value: str, check: str
):
    body = fixture("cer-52345-validation.json")
    del body["provider"]
    kind = "Organization" if element == "provider" else "Location"
    body[element] = {"type": kind, "identifier": {"system": system, "value": value}}
    (fault,) = faults_of(body)
    assert fault.expression.startswith(f"{CER}.{element}.identifier")
    assert fault.check == check


def test_an_organization_named_without_any_identifier_is_refused():
    body = fixture("cer-52345-validation.json")
    del body["contained"][3]["identifier"]
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (f"{CER}.contained[3]", "requester")


def test_an_enterer_names_the_professional():
    body = fixture("cer-52345-validation.json")
    body["enterer"] = {
        "identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810001234567"}
    }
    assert ask(body).query.requester.rpps == "10001234567"
    body["enterer"]["identifier"]["value"] = "10001234567"  # no idNatPs kind prefix
    (fault,) = faults_of(body)
    assert (fault.expression, fault.check) == (f"{CER}.enterer.identifier.value", "format")


def test_a_request_naming_no_requester_asks_as_the_default_structure():
    body = fixture("cer-52345-validation.json")
    del body["provider"]
    assert ask(body).query.requester == DEFAULT


def test_an_official_ins_nir_without_its_key_is_refused_an_nss_without_it_is_accepted():
    # issue 18.17, the rule shared with the HL7 path (rights.identifiers.parse_nir require_key)
    body = fixture("discovery-no-insurance.json")
    body["contained"][0]["identifier"] = [_identifier(SYSTEM_NIR, NIR_A[:13], use="official")]
    (fault,) = faults_of(body)
    assert fault.check == "length" and "15 characters" in fault.message
    body["contained"][0]["identifier"] = [_identifier(SYSTEM_NIR, NIR_A[:13], nh=True)]
    assert ask(body).query.nir.value == NIR_A  # the key computed


def test_a_nir_with_spaces_is_read_without_them():
    body = fixture("discovery-no-insurance.json")
    spaced = "1 62 04 75 114 123 41"
    body["contained"][0]["identifier"] = [_identifier(SYSTEM_NIR, spaced, use="official")]
    assert ask(body).query.nir.value == NIR_A
