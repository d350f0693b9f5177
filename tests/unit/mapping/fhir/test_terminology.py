"""Every code we emit is one its code system has, with the display it publishes, and every Patient
identifier sits in the FR Core slice its system belongs to (issue 21.6). Walked over the answer
of every scenario member of the sandbox population, so a new scenario is checked too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mapping.fhir.codesystems import code_systems
from rights.identifiers import NIA_OID
from tests.unit.mapping.rights_reports import answer_for, population, report_for, resources_of

# The displays the code systems publish (terminology.hl7.org for the HL7 ones; FR Core's
# FRCoreCodeSystemv2-0203), for the codes we use.
_PUBLISHED: dict[str, dict[str, str]] = {
    "http://terminology.hl7.org/CodeSystem/v2-0203": {"NH": "National Health Plan Identifier"},
    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203": {
        "INS-NIA": "NIR temporaire",
        "INS-NIR-TEST": "NIR TEST",
        "INS-NIR-DEMO": "NIR DEMO",
    },
    "http://terminology.hl7.org/CodeSystem/v3-ActCode": {
        "PUBLICPOL": "public healthcare",
        "WCBPOL": "worker's compensation",
    },
    "http://terminology.hl7.org/CodeSystem/v3-RoleCode": {
        "PRN": "parent",
        "SPS": "spouse",
        "DOMPART": "domestic partner",
    },
    "http://terminology.hl7.org/CodeSystem/subscriber-relationship": {
        "child": "Child",
        "parent": "Parent",
        "spouse": "Spouse",
        "common": "Common Law Spouse",
        "other": "Other",
        "self": "Self",
        "injured": "Injured Party",
    },
    "http://terminology.hl7.org/CodeSystem/organization-type": {"pay": "Payer"},
    "http://terminology.hl7.org/CodeSystem/ex-benefitcategory": {
        "30": "Health Benefit Plan Coverage"
    },
}
_NSS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _ours() -> dict[str, dict[str, str]]:
    return {cs["url"]: {c["code"]: c["display"] for c in cs["concept"]} for cs in code_systems()}


def _codings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            yield node
        for value in node.values():
            yield from _codings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _codings(item)


def _answers() -> Iterator[Any]:
    for who in population().members:
        if who.note.startswith("Random ") or who.rights is None:
            continue
        oid = NIA_OID if "nia" in who.scenarios else None
        yield who, answer_for(report_for(who, oid=oid))


def test_every_coding_is_a_code_of_its_system_with_the_published_display() -> None:
    known = {**_PUBLISHED, **_ours()}
    seen: set[tuple[str, str]] = set()
    for who, answer in _answers():
        for resource in resources_of(answer):
            for coding in _codings(resource):
                system, code = coding["system"], coding["code"]
                assert system in known, f"{who.family_name}: a code system we do not know {system}"
                assert code in known[system], f"{who.family_name}: {system}#{code} is no code"
                assert coding.get("display") == known[system][code], (
                    f"{who.family_name}: {system}#{code} display {coding.get('display')!r}"
                )
                seen.add((system, code))
    # The walk reached the codes this issue is about (it would pass vacuously otherwise).
    assert (_V2_0203, "NH") in seen
    assert ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "WCBPOL") in seen
    assert ("https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "INS-NIA") in seen


def test_a_patient_identifier_is_in_the_nss_slice_only_with_the_nss_system() -> None:
    # FR Core Patient slices identifier on type and use; NSS fixes the system to …4.8.
    for who, answer in _answers():
        for identifier in answer.patient["identifier"]:
            codes = {(c["system"], c["code"]) for c in identifier["type"]["coding"]}
            in_nss = identifier.get("use") == "official" and (_V2_0203, "NH") in codes
            assert in_nss == (identifier["system"] == _NSS_SYSTEM), (
                f"{who.family_name} {who.given_name}: {identifier}"
            )
