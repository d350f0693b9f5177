"""RightsResult → FHIR: every sandbox member maps to valid R4 resources, and each scenario shows
in the right element."""

from __future__ import annotations

import copy
import dataclasses
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from mapping.fhir.common import (
    CLASS_CDR_REGIME,
    CS_CDR_ERROR,
    CS_CLASS_TYPE,
    CS_QUALITE,
    EXT_LUNAR_BIRTH_DATE,
    EXT_RANG,
    GATEWAY_ORGANIZATION_ID,
    SYSTEM_AM_NUMBER,
    SYSTEM_AT_NUMBER,
    SYSTEM_NIA,
    SYSTEM_NIR,
    SYSTEM_NIR_DEMO,
    SYSTEM_NIR_TEST,
    SYSTEM_ORGANISATION_NUMBER,
)
from mapping.fhir.ids import CoverageKind
from mapping.fhir.rights_to_fhir import (
    coverage_id,
    gateway_organization,
    patient_id,
    report_to_fhir,
)
from mapping.fhir.terms import (
    CLASS_COMPLEMENTARY,
    CLASS_SITUATION,
    CS_COVERAGE_TYPE,
    CS_ETM,
    CS_MTM,
    CS_SUBSCRIBER_RELATIONSHIP,
    CS_V3_ACT_CODE,
    EXT_DEFAULT_AT_ORGANISATION,
    EXT_ERROR_REGIME,
    EXT_EXONERATION,
    EXT_MODULATION,
    EXT_REGIME_STATUS,
    EXT_SNCF_CONTRACT,
    EXT_WARNING,
    PROFILE_COVERAGE,
)
from rights.identifiers import NIR_DEMO_OID, NIR_TEST_OID
from rights.model import Qualite
from rights.result import InForceReason, LookupReport, RegimeStatus
from sandbox.members import Member
from tests.unit.mapping.fhir_schema import assert_valid
from tests.unit.mapping.rights_reports import (
    CREATED,
    TODAY,
    answer_for,
    catalogue,
    failed,
    found,
    member,
    population,
    report_for,
    resources_of,
    rights_of,
)

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_MEMBERS = population().members


def _ext(element: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in element.get("extension", []) if e["url"] == url]


def _parts(ext: dict[str, Any], name: str) -> list[Any]:
    """Values of the sub-extensions ``name`` of a complex extension."""
    out = []
    for part in ext["extension"]:
        if part["url"] == name:
            out += [v for k, v in part.items() if k.startswith("value")]
    return out


def _class(coverage: dict[str, Any], code: str) -> list[str]:
    return [c["value"] for c in coverage["class"] if _codes(c["type"], CS_CLASS_TYPE) == [code]]


def _codes(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept["coding"] if c["system"] == system]


def _of_type(answer: Any, code: str) -> list[dict[str, Any]]:
    return [c for c in answer.coverages if code in _codes(c["type"], CS_COVERAGE_TYPE)]


def _insurance(answer: Any, coverage: dict[str, Any]) -> dict[str, Any]:
    ref = f"Coverage/{coverage['id']}"
    (entry,) = [i for i in answer.response["insurance"] if i["coverage"]["reference"] == ref]
    return dict(entry)


def _member_id(who: Member) -> str:
    tags = "+".join(t for t in who.scenarios if t != "open") or "plain"
    return f"{who.regime}-{who.family_name}-{who.rang}-{tags}"


@pytest.mark.parametrize("who", _MEMBERS, ids=[_member_id(m) for m in _MEMBERS])
def test_every_member_maps_to_resources_the_r4_schema_and_models_accept(who: Member) -> None:
    report = report_for(who)
    answer = answer_for(report, purposes=("validation", "benefits"))
    resources = list(resources_of(answer))
    for resource in resources:
        assert_valid(resource)
        assert _FHIR_ID.fullmatch(resource["id"])
    # The Patient is the person as the regime knows them (ouvrant droit, birth date, rang), or
    # as asked when no regime does.
    query = report.query
    expected = patient_id(query.nir.value, query.birth_date, query.rang)
    if who.rights is not None:
        person = who.rights
        od, bd, rang = (
            person.ouvrant_droit.nir,
            person.beneficiary.birth_date,
            person.beneficiary.rang,
        )
        expected = patient_id(od, bd, rang)
    assert answer.patient["id"] == expected
    patient_ref = f"Patient/{answer.patient['id']}"
    assert answer.response["patient"]["reference"] == patient_ref
    ids = {f"{r['resourceType']}/{r['id']}" for r in resources}
    assert len(ids) == len(resources), "every resource is emitted once"
    assert f"Organization/{GATEWAY_ORGANIZATION_ID}" in ids
    for coverage in answer.coverages:
        assert coverage["meta"]["profile"] == [PROFILE_COVERAGE]
        assert coverage["beneficiary"]["reference"] == patient_ref
        assert {p["reference"] for p in coverage["payor"]} <= ids
    insured = [i["coverage"]["reference"] for i in answer.response.get("insurance", [])]
    assert sorted(insured) == sorted(f"Coverage/{c['id']}" for c in answer.coverages)
    for link in answer.patient.get("generalPractitioner", []):
        assert link["reference"] in ids
    if who.rights is None:
        assert answer.coverages == ()
    else:
        amo = _of_type(answer, "amo")
        assert len(amo) == len(rights_of(who).amo)
        assert answer.response["outcome"] == "complete"


def test_c2s_managed_by_a_complementary_body_points_at_88888888() -> None:
    answer = answer_for(report_for(member("Perrin", "Océane")))
    (c2s,) = _of_type(answer, "c2s")
    assert _class(c2s, CLASS_SITUATION) == ["3"]
    assert _class(c2s, CLASS_COMPLEMENTARY) == ["88888888"]
    assert c2s["order"] == 2
    assert _codes(c2s["type"], CS_V3_ACT_CODE) == []
    assert _insurance(answer, c2s)["inforce"] is True


@pytest.mark.parametrize(("family", "given"), [("Martin", "Manon"), ("Girard", "Théo")])
def test_c2s_managed_by_the_caisse_points_at_99999997(family: str, given: str) -> None:
    answer = answer_for(report_for(member(family, given)))
    (c2s,) = _of_type(answer, "c2s")
    assert _class(c2s, CLASS_COMPLEMENTARY) == ["99999997"]
    (amo,) = _of_type(answer, "amo")
    assert c2s["payor"] == amo["payor"]
    assert amo["order"] == 1


def test_ame_has_its_own_coverage_with_75500017() -> None:
    who = member("N'Diaye", "Fatoumata")
    answer = answer_for(report_for(who), purposes=("validation", "benefits"))
    (ame,) = _of_type(answer, "ame")
    assert ame["id"] not in {c["id"] for c in _of_type(answer, "amo")}
    assert _class(ame, CLASS_SITUATION) == ["10"]
    assert _class(ame, CLASS_COMPLEMENTARY) == ["75500017"]
    assert ame["order"] == 2
    assert ame["period"]["start"] == rights_of(who).situations[0].period.start.isoformat()
    (item,) = _insurance(answer, ame)["item"]
    assert item["category"]["coding"][0]["code"] == "30"
    assert "75500017" in item["description"]
    assert "productOrService" not in item


def test_etm_and_mtm_are_extensions_with_code_and_period() -> None:
    ald = member("Thomas", "Monique")
    (amo,) = _of_type(answer_for(report_for(ald)), "amo")
    (etm,) = _ext(amo, EXT_EXONERATION)
    assert _parts(etm, "code") == [
        {"system": CS_ETM, "code": "8", "display": "affection de longue durée (ALD), code 8"}
    ]
    start = rights_of(ald).exonerations[0].period.start.isoformat()
    assert _parts(etm, "period") == [{"start": start}]

    mother = member("Leroy", "Élodie")
    (amo,) = _of_type(answer_for(report_for(mother)), "amo")
    (etm,) = _ext(amo, EXT_EXONERATION)
    assert [c["code"] for c in _parts(etm, "code")] == ["6"]
    assert _parts(etm, "period") == [
        {
            "start": (TODAY - timedelta(days=60)).isoformat(),
            "end": (TODAY + timedelta(days=200)).isoformat(),
        }
    ]

    (amo,) = _of_type(answer_for(report_for(member("Muller", "Marcel"))), "amo")
    (mtm,) = _ext(amo, EXT_MODULATION)
    assert _parts(mtm, "code")[0]["system"] == CS_MTM
    assert _parts(mtm, "code")[0]["code"] == "9"
    assert _ext(amo, EXT_EXONERATION) == []


def test_benefit_items_describe_etm_only_when_benefits_are_asked_for() -> None:
    report = report_for(member("Legrand", "Sébastien"))
    (amo,) = _of_type(answer_for(report), "amo")
    plain = answer_for(report)
    assert all("item" not in i for i in plain.response["insurance"])
    detailed = answer_for(report, purposes=("validation", "benefits"))
    (item,) = _insurance(detailed, amo)["item"]
    assert item["name"] == "Exonération du ticket modérateur (ETM 1)"
    assert "pension militaire" in item["description"]


@pytest.mark.parametrize(("family", "given"), [("Fournier", "Philippe"), ("Bonnet", "Josiane")])
def test_each_declared_accident_is_a_coverage_named_by_its_at_number(
    family: str, given: str
) -> None:
    who = member(family, given)
    answer = answer_for(report_for(who))
    atmp = _of_type(answer, "atmp")
    numbers = [a.number for a in rights_of(who).accidents]
    assert [c["identifier"] for c in atmp] == [
        [{"system": SYSTEM_AT_NUMBER, "value": n}] for n in numbers
    ]
    assert len({c["id"] for c in atmp}) == 2
    for coverage, accident in zip(atmp, rights_of(who).accidents, strict=True):
        assert _codes(coverage["type"], CS_V3_ACT_CODE) == ["WCBPOL"]
        assert coverage["period"]["start"] == accident.period.start.isoformat()
        payor_id = coverage["payor"][0]["reference"].removeprefix("Organization/")
        (org,) = [o for o in answer.organizations if o["id"] == payor_id]
        assert org["identifier"] == [
            {"system": SYSTEM_ORGANISATION_NUMBER, "value": accident.organisation}
        ]
    closed, current = (_insurance(answer, c)["inforce"] for c in atmp)
    assert (closed, current) == (False, True)
    (amo,) = _of_type(answer, "amo")
    (default,) = _ext(amo, EXT_DEFAULT_AT_ORGANISATION)
    assert default["valueIdentifier"]["value"] == rights_of(who).default_at_organisation


def test_a_child_has_the_ouvrant_droit_as_contained_related_person() -> None:
    child = member("Rivière", "Hugo")
    mother = rights_of(child).ouvrant_droit
    (amo,) = _of_type(answer_for(report_for(child)), "amo")
    (related,) = amo["contained"]
    assert related["resourceType"] == "RelatedPerson"
    assert amo["subscriber"]["reference"] == f"#{related['id']}"
    assert related["identifier"][0] == {
        "use": "official",
        "system": SYSTEM_NIR,
        "value": mother.nir,
    }
    assert related["name"] == [{"family": "Rivière", "given": ["Agnès"]}]
    assert amo["subscriberId"] == mother.nir == child.nir
    assert _codes(amo["relationship"], CS_SUBSCRIBER_RELATIONSHIP) == ["child"]
    assert _codes(amo["relationship"], CS_QUALITE) == ["06"]


def test_the_insured_is_her_own_subscriber() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    answer = answer_for(report_for(who))
    (amo,) = _of_type(answer, "amo")
    assert amo["subscriber"] == {"reference": f"Patient/{answer.patient['id']}"}
    assert "contained" not in amo
    assert _codes(amo["relationship"], CS_SUBSCRIBER_RELATIONSHIP) == ["self"]
    assert _codes(amo["relationship"], CS_QUALITE) == ["00"]
    assert _class(amo, CLASS_CDR_REGIME) == ["cnam"]
    assert _class(amo, "regime") + _class(amo, "caisse") + _class(amo, "centre") == [
        "01", "751", "0000",
    ]  # fmt: skip
    (payor,) = [o for o in answer.organizations if o["name"] == "CPAM 751"]
    assert amo["payor"] == [{"reference": f"Organization/{payor['id']}", "display": "CPAM 751"}]


def test_the_spouse_of_an_sncf_agent_carries_the_contract_and_relationship_spouse() -> None:
    who = member("Garcia", "Sylvie")
    answer = answer_for(report_for(who))
    (amo,) = _of_type(answer, "amo")
    assert _codes(amo["relationship"], CS_SUBSCRIBER_RELATIONSHIP) == ["spouse"]
    assert _codes(amo["relationship"], CS_QUALITE) == ["02"]
    (contract,) = _ext(amo, EXT_SNCF_CONTRACT)
    assert [c["code"] for c in _parts(contract, "code")] == ["18", "23"]
    assert answer.patient["name"][1] == {"use": "usual", "family": "Moreau"}


def test_twins_are_two_patients_with_one_ouvrant_droit() -> None:
    leo, zoe = member("Lambert", "Léo"), member("Lambert", "Zoé")
    assert leo.nir == zoe.nir and leo.birth_date == zoe.birth_date
    first, second = answer_for(report_for(leo)), answer_for(report_for(zoe))
    assert first.patient["id"] != second.patient["id"]
    assert _ext(first.patient, EXT_RANG) == [{"url": EXT_RANG, "valuePositiveInt": 1}]
    assert _ext(second.patient, EXT_RANG) == [{"url": EXT_RANG, "valuePositiveInt": 2}]
    assert first.coverages[0]["id"] != second.coverages[0]["id"]
    assert first.coverages[0]["subscriberId"] == second.coverages[0]["subscriberId"]


def test_deferred_billing_is_in_force_on_the_date_of_care_not_today() -> None:
    who = member("Clément", "Thérèse")
    assert who.date_of_care < TODAY
    then = answer_for(report_for(who))
    now = answer_for(report_for(who, day=TODAY))
    assert [i["inforce"] for i in then.response["insurance"]] == [True]
    assert [i["inforce"] for i in now.response["insurance"]] == [False]
    assert then.response["servicedDate"] == who.date_of_care.isoformat()
    assert then.coverages == now.coverages, "same rights, same Coverage"
    assert "expired" in now.response["disposition"]
    warnings = [_parts(w, "code")[0] for w in _ext(now.response, EXT_WARNING)]
    assert "outside-periods" in warnings


def test_an_unknown_person_is_a_complete_answer_with_a_warning_and_no_error() -> None:
    # R4 RemittanceOutcome complete = "completed without errors": not being known is an answer.
    who = member("Valéry", "Noé")
    submitted = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": "Valéry", "given": ["Noé"], "bogus": 1}, "x"],
        "birthDate": who.birth_date,
        "gender": "male",
    }
    answer = answer_for(report_for(who), submitted=submitted)
    response = answer.response
    assert response["outcome"] == "complete"
    assert "insurance" not in response
    assert "error" not in response
    warnings = [_parts(w, "code")[0] for w in _ext(response, EXT_WARNING)]
    assert warnings == ["unknown-person"]
    assert response["disposition"] == "No regime knows this person."
    patient = answer.patient
    assert patient["name"] == [{"use": "official", "family": "Valéry", "given": ["Noé"]}]
    assert patient["birthDate"] == who.birth_date
    assert patient["identifier"][0]["value"] == who.nir
    assert answer.coverages == () and answer.practitioners == ()
    assert answer.organizations == (gateway_organization(),)


def test_one_regime_down_makes_a_partial_answer_with_regime_unavailable() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    down = failed("msa", RegimeStatus.UNAVAILABLE, TODAY, "msa: cannot reach the regime service")
    unknown = found("cnmss", None, TODAY)
    answer = answer_for(report_for(who, extra=(down, unknown)), purposes=("discovery",))
    response = answer.response
    assert response["outcome"] == "partial"
    (error,) = response["error"]
    assert _codes(error["code"], CS_CDR_ERROR) == ["regime-unavailable"]
    assert _ext(error, EXT_ERROR_REGIME) == [{"url": EXT_ERROR_REGIME, "valueCode": "msa"}]
    assert "MSA could not answer (unavailable)" in response["disposition"]
    assert response["disposition"].startswith("Rights in force with CNAM on 2026-11-24.")
    statuses = [_parts(e, "status")[0] for e in _ext(response, EXT_REGIME_STATUS)]
    assert statuses == ["found", "unavailable", "unknown"]
    for resource in resources_of(answer):
        assert_valid(resource)


@pytest.mark.parametrize(
    ("status", "refusal", "detail", "code"),
    [
        (RegimeStatus.TIMEOUT, None, "msa: no answer within 3 s", "regime-timeout"),
        (
            RegimeStatus.REJECTED,
            InForceReason.REQUEST_REJECTED,
            "msa: request refused, HTTP 400: bad",
            "regime-rejected",
        ),
        (
            RegimeStatus.REJECTED,
            InForceReason.REQUESTER_REFUSED,
            "msa: request refused, HTTP 403: structure 130100050 is of category 500",
            "requester-refused",
        ),
    ],
)
def test_every_failed_regime_is_an_error_with_its_own_code(
    status: RegimeStatus, refusal: InForceReason | None, detail: str, code: str
) -> None:
    who = member("Valéry", "Noé")
    report = report_for(who, extra=(failed("msa", status, TODAY, detail, refusal),))
    response = answer_for(report).response
    assert response["outcome"] == "partial"
    assert [_codes(e["code"], CS_CDR_ERROR) for e in response["error"]] == [[code]]
    assert response["error"][0]["code"]["text"] == f"MSA: {detail.removeprefix('msa: ')}"
    assert "No regime that answered knows this person." in response["disposition"]


def test_every_regime_failing_is_an_error_outcome() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    report = report_for(who)
    down = failed("cnam", RegimeStatus.UNAVAILABLE, TODAY, "cnam: circuit open")
    report = dataclasses.replace(report, results=(down,))
    response = answer_for(report).response
    assert response["outcome"] == "error"
    assert response["disposition"].startswith("No regime could answer.")


def test_a_change_of_regime_lists_the_regime_in_force_first() -> None:
    cnam, msa = member("Mercier", "Yannick", "cnam"), member("Mercier", "Yannick", "msa")
    report = report_for(cnam, extra=(found("msa", msa.rights, cnam.date_of_care),))
    answer = answer_for(report, purposes=("discovery",))
    regimes = [_class(c, CLASS_CDR_REGIME)[0] for c in answer.coverages]
    assert regimes == ["msa", "cnam"]
    assert [i["inforce"] for i in answer.response["insurance"]] == [True, False]
    assert answer.response["disposition"] == (
        "Rights in force with MSA on 2026-11-24. "
        "CNAM knows this person: rights expired, no rights in force on 2026-11-24."
    )
    assert {o["name"] for o in answer.organizations} >= {"CPAM 751", "MSA 471"}


def test_ids_are_stable_across_calls_and_independent_of_the_response() -> None:
    who = member("Fournier", "Philippe")
    first = answer_for(report_for(who), response_id="a")
    again = answer_for(report_for(who), response_id="b")
    assert first.patient == again.patient
    assert first.coverages == again.coverages
    assert first.organizations == again.organizations
    assert first.practitioners == again.practitioners
    rights = rights_of(who)
    amo = rights.amo[0]
    assert first.coverages[0]["id"] == coverage_id(
        "cnam", first.patient["id"], CoverageKind.AMO, amo.period.start
    )
    assert patient_id(who.nir[:13], who.birth_date, 1) == patient_id(who.nir, who.birth_date, 1)


def test_ids_do_not_depend_on_whether_the_client_sent_a_birth_date() -> None:
    who = member("Fournier", "Philippe")
    with_birth = report_for(who)
    without = dataclasses.replace(
        with_birth, query=dataclasses.replace(with_birth.query, birth_date=None)
    )
    one, two = answer_for(with_birth), answer_for(without)
    assert one.patient["id"] == two.patient["id"]
    assert [c["id"] for c in one.coverages] == [c["id"] for c in two.coverages]


def test_a_coverage_is_named_after_its_patient_so_twins_never_share_one() -> None:
    twins = [m for m in _MEMBERS if "twins" in m.scenarios]
    answers = [answer_for(report_for(m)) for m in twins]
    assert len({a.patient["id"] for a in answers}) == len(twins)
    coverage_ids = [c["id"] for a in answers for c in a.coverages]
    assert len(set(coverage_ids)) == len(coverage_ids)


def test_a_lunar_birth_date_goes_in_our_extension_not_in_birth_date() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    lunar = dataclasses.replace(
        rights_of(who),
        beneficiary=dataclasses.replace(rights_of(who).beneficiary, birth_date="1962-00-00"),
    )
    odd = dataclasses.replace(who, rights=lunar, birth_date="1962-00-00")
    report = report_for(odd)
    answer = answer_for(report)
    assert "birthDate" not in answer.patient
    assert _ext(answer.patient, EXT_LUNAR_BIRTH_DATE) == [
        {"url": EXT_LUNAR_BIRTH_DATE, "valueString": "1962-00-00"}
    ]
    warnings = [_parts(w, "code")[0] for w in _ext(answer.response, EXT_WARNING)]
    assert "lunar-birth-date" in warnings
    for resource in resources_of(answer):
        assert_valid(resource)


FR_CORE_V2_0203 = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _typed(identifier: dict[str, Any]) -> tuple[str, str, str, str, str]:
    (kind,) = identifier["type"]["coding"]
    return identifier["system"], identifier["use"], kind["system"], kind["code"], kind["display"]


def test_only_a_real_nir_enters_fr_core_s_nss_slice_the_others_carry_fr_core_types() -> None:
    # FR Core Patient: NSS = use official + v2-0203#NH + system …4.8 (slicing on type and use);
    # FRCorePatientINS types NIA (temp), test and demo numbers (official) with its own codes.
    nia = answer_for(report_for(member("Pérez", "Inès"))).patient["identifier"][0]
    assert _typed(nia) == (SYSTEM_NIA, "temp", FR_CORE_V2_0203, "INS-NIA", "NIR temporaire")
    who = member("Hénault", "Dominique")
    plain = answer_for(report_for(who)).patient["identifier"][0]
    assert _typed(plain) == (
        SYSTEM_NIR,
        "official",
        V2_0203,
        "NH",
        "National Health Plan Identifier",
    )
    test = answer_for(report_for(who, oid=NIR_TEST_OID)).patient["identifier"][0]
    assert _typed(test) == (
        SYSTEM_NIR_TEST,
        "official",
        FR_CORE_V2_0203,
        "INS-NIR-TEST",
        "NIR TEST",
    )
    submitted = {"identifier": [{"system": SYSTEM_NIR_DEMO, "value": who.nir}]}
    demo = answer_for(report_for(who, oid=NIR_DEMO_OID), submitted=submitted)
    assert _typed(demo.patient["identifier"][0]) == (
        SYSTEM_NIR_DEMO,
        "official",
        FR_CORE_V2_0203,
        "INS-NIR-DEMO",
        "NIR DEMO",
    )


def test_the_child_of_a_test_nir_keeps_the_test_system_for_the_ouvrant_droit() -> None:
    answer = answer_for(report_for(member("Rivière", "Hugo"), oid=NIR_TEST_OID))
    (related,) = answer.coverages[0]["contained"]
    assert related["identifier"][0]["system"] == SYSTEM_NIR_TEST


def test_the_medecin_traitant_is_a_practitioner_with_the_am_number() -> None:
    who = member("Thomas", "Monique")
    answer = answer_for(report_for(who))
    (practitioner,) = answer.practitioners
    mt = rights_of(who).medecin_traitant
    assert mt is not None
    assert practitioner["identifier"] == [{"system": SYSTEM_AM_NUMBER, "value": mt.identifier}]
    assert practitioner["name"] == [{"family": mt.family_name, "given": [mt.given_name]}]
    (link,) = answer.patient["generalPractitioner"]
    assert link["reference"] == f"Practitioner/{practitioner['id']}"
    assert link["extension"][0]["valuePeriod"] == {"start": mt.period.start.isoformat()}
    assert answer.patient["gender"] == "female"


def test_several_amo_periods_are_several_coverages_only_the_open_one_in_force() -> None:
    who = member("Blanc", "Aurélien")
    answer = answer_for(report_for(who))
    amo = _of_type(answer, "amo")
    assert len(amo) == 3 and len({c["id"] for c in amo}) == 3
    assert [_insurance(answer, c)["inforce"] for c in amo] == [False, False, True]


def test_purposes_default_from_the_query_and_are_checked() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    assert answer_for(report_for(who), purposes=()).response["purpose"] == ["validation"]
    discovery = report_for(who, discovery=True)
    assert answer_for(discovery, purposes=()).response["purpose"] == ["discovery"]
    with pytest.raises(ValueError, match="purposes: eligibility"):
        answer_for(discovery, purposes=("eligibility",))


def test_created_must_carry_a_time_zone() -> None:
    report: LookupReport = report_for(member("Lefèvre", "Jean-Baptiste"))
    with pytest.raises(ValueError, match="timezone-aware"):
        report_to_fhir(
            report,
            catalogue=catalogue(),
            response_id="r",
            request_reference="CoverageEligibilityRequest/q",
            created=datetime(2026, 11, 24, 9, 30),
            purposes=("validation",),
        )
    answer = answer_for(report)
    assert answer.response["created"] == CREATED.isoformat()


def test_the_mapping_does_not_change_what_it_is_given() -> None:
    submitted = {"name": [{"family": "Valéry", "given": ["Noé"]}], "birthDate": "1990-02-20"}
    kept = copy.deepcopy(submitted)
    answer_for(report_for(member("Valéry", "Noé")), submitted=submitted)
    assert submitted == kept


@pytest.mark.parametrize(
    ("qualite", "code", "display"),
    [
        (Qualite.ASSURE, "self", "Self"),
        (Qualite.CONJOINT, "spouse", "Spouse"),
        (Qualite.CONJOINT_SEPARE, "spouse", "Spouse"),
        (Qualite.CONJOINT_VEUF, "spouse", "Spouse"),
        (Qualite.CONCUBIN, "common", "Common Law Spouse"),
        (Qualite.ENFANT, "child", "Child"),
        (Qualite.CONJOINT_DIVORCE, "other", "Other"),
        (Qualite.ASCENDANT_DESCENDANT_COLLATERAL, "other", "Other"),
        (Qualite.AUTRE_AYANT_DROIT, "other", "Other"),
    ],
)
def test_each_qualite_has_the_subscriber_relationship_code_and_display_of_r4(
    qualite: Qualite, code: str, display: str
) -> None:
    # A concubin is the RelatedPerson's DOMPART: R4's "common" (common-law spouse), not "spouse".
    who = member("Garcia", "Sylvie")
    rights = rights_of(who)
    changed = dataclasses.replace(
        rights, beneficiary=dataclasses.replace(rights.beneficiary, qualite=qualite)
    )
    (amo,) = _of_type(answer_for(report_for(dataclasses.replace(who, rights=changed))), "amo")
    (relationship,) = [
        c for c in amo["relationship"]["coding"] if c["system"] == CS_SUBSCRIBER_RELATIONSHIP
    ]
    assert (relationship["code"], relationship["display"]) == (code, display)
    assert _codes(amo["relationship"], CS_QUALITE) == [qualite.value]


def test_validation_without_a_regime_says_every_regime_was_asked() -> None:
    # The query has no regime (no insurance.coverage named one): the lookup was a discovery.
    who = member("Hénault", "Dominique")
    report = report_for(who, discovery=True)
    asked = answer_for(report, purposes=("validation",)).response
    assert asked["purpose"] == ["validation"]
    warnings = [_parts(w, "code")[0] for w in _ext(asked, EXT_WARNING)]
    assert "validation-without-regime" in warnings
    discovery = answer_for(report, purposes=("discovery",)).response
    assert "validation-without-regime" not in [
        _parts(w, "code")[0] for w in _ext(discovery, EXT_WARNING)
    ]
    named = answer_for(report_for(who), purposes=("validation",)).response
    assert "validation-without-regime" not in [
        _parts(w, "code")[0] for w in _ext(named, EXT_WARNING)
    ]
