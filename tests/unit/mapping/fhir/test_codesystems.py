"""Our published conformance resources: valid R4, and complete for what the mapping emits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mapping.fhir.codesystems import all_conformance_resources, code_systems
from mapping.fhir.common import CANONICAL, EXT_LUNAR_BIRTH_DATE
from mapping.fhir.structuredefinitions import structure_definitions
from mapping.fhir.terms import PROFILE_COVERAGE
from rights.result import InForceReason, RegimeStatus
from tests.unit.mapping.fhir_invariants import assert_invariants
from tests.unit.mapping.fhir_schema import assert_valid, schema_errors
from tests.unit.mapping.rights_reports import (
    TODAY,
    answer_for,
    failed,
    member,
    population,
    report_for,
    resources_of,
)

_RESOURCES = all_conformance_resources()


@pytest.mark.parametrize("resource", _RESOURCES, ids=[r["id"] for r in _RESOURCES])
def test_every_conformance_resource_is_valid_r4(resource: dict[str, Any]) -> None:
    assert_valid(resource)
    assert_invariants(resource)
    assert resource["url"] == f"{CANONICAL}/{resource['resourceType']}/{resource['id']}"
    assert resource["status"] == "active"


def test_ids_and_urls_are_unique_and_each_call_builds_fresh_dicts() -> None:
    assert len({r["url"] for r in _RESOURCES}) == len(_RESOURCES)
    # Ids are unique per type: cdr-nature-pj is both a CodeSystem and an extension.
    assert len({(r["resourceType"], r["id"]) for r in _RESOURCES}) == len(_RESOURCES)
    first = all_conformance_resources()
    first[0]["concept"].clear()
    assert all_conformance_resources() == _RESOURCES


@pytest.mark.parametrize("system", code_systems(), ids=lambda s: s["id"])
def test_code_systems_count_their_unique_concepts(system: dict[str, Any]) -> None:
    codes = [c["code"] for c in system["concept"]]
    assert len(codes) == len(set(codes)) == system["count"] > 0
    assert all(c["display"] for c in system["concept"])
    assert system["content"] in ("complete", "fragment")


def test_the_coverage_profile_constrains_coverage() -> None:
    (profile,) = [s for s in structure_definitions() if s["url"] == PROFILE_COVERAGE]
    assert profile["kind"] == "resource"
    assert profile["derivation"] == "constraint"
    assert profile["type"] == "Coverage"
    assert profile["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/Coverage"
    paths = [e["path"] for e in profile["differential"]["element"]]
    assert paths[0] == "Coverage"
    assert all(p.startswith("Coverage") for p in paths)
    assert {"Coverage.subscriberId", "Coverage.payor", "Coverage.class"} <= set(paths)
    slices = {
        e["type"][0]["profile"][0] for e in profile["differential"]["element"] if e.get("sliceName")
    }
    extensions = {s["url"] for s in structure_definitions() if s["type"] == "Extension"}
    assert slices <= extensions


def test_extensions_are_complex_types_on_our_three_resources() -> None:
    contexts = set()
    for sd in structure_definitions():
        if sd["type"] != "Extension":
            continue
        assert sd["kind"] == "complex-type"
        assert sd["derivation"] == "constraint"
        assert sd["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/Extension"
        (context,) = sd["context"]
        assert context["type"] == "element"
        contexts.add(context["expression"].split(".")[0])
        (url,) = [e for e in sd["differential"]["element"] if e["id"] == "Extension.url"]
        assert url["fixedUri"] == sd["url"]
    assert contexts == {"Coverage", "Patient", "CoverageEligibilityResponse"}


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object inside ``value`` with its path."""
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def _emitted() -> Iterator[dict[str, Any]]:
    """Everything the mapping emits for the population, plus the error and lunar cases."""
    for who in population().members:
        yield from resources_of(answer_for(report_for(who), purposes=("validation", "benefits")))
    known, unknown = member("Lefèvre", "Jean-Baptiste"), member("Valéry", "Noé")
    for status, detail, refusal in (
        ("unavailable", "cnam: down", None),
        ("timeout", "cnam: no answer", None),
        ("rejected", "cnam: HTTP 400", InForceReason.REQUEST_REJECTED),
        ("rejected", "cnam: request refused, HTTP 403", InForceReason.REQUESTER_REFUSED),
    ):
        extra = (failed("msa", RegimeStatus(status), TODAY, detail, refusal),)
        yield from resources_of(answer_for(report_for(known, extra=extra)))
    yield from resources_of(answer_for(report_for(unknown)))


def test_every_code_of_ours_the_mapping_emits_is_in_its_code_system() -> None:
    published = {s["url"]: {c["code"] for c in s["concept"]} for s in code_systems()}
    definitions = {s["url"] for s in structure_definitions()}
    used: dict[str, set[str]] = {}
    extensions: set[str] = set()
    for resource in _emitted():
        for path, obj in _walk(resource):
            system = obj.get("system")
            if isinstance(system, str) and system.startswith(f"{CANONICAL}/CodeSystem/"):
                assert system in published, f"{path}: {system} is not published"
                assert obj["code"] in published[system], f"{path}: {obj['code']} not in {system}"
                used.setdefault(system, set()).add(obj["code"])
            url = obj.get("url")
            in_extension = path.endswith("]") and ".extension[" in path
            if in_extension and isinstance(url, str) and url.startswith(CANONICAL):
                assert url in definitions, f"{path}: extension {url} has no definition"
                extensions.add(url)
        for profile in resource.get("meta", {}).get("profile", []):
            assert profile in definitions
    # The walk saw the error codes, qualités, class types and ETM codes, not just one system.
    assert len(used) >= 8, sorted(used)
    assert {"requester-refused", "regime-timeout"} <= used[
        f"{CANONICAL}/CodeSystem/cdr-eligibility-error"
    ]
    assert EXT_LUNAR_BIRTH_DATE in definitions
    assert len(extensions) >= 9, sorted(extensions)


def test_the_schema_check_lets_r4_be_4_0_1_and_nothing_else() -> None:
    # The official schema's FHIRVersion enum lacks 4.0.1; our helper adds exactly that value,
    # at the top level and inside a Bundle alike.
    sd = dict(structure_definitions()[0])
    assert schema_errors({**sd, "fhirVersion": "4.0.1"}) == []
    assert schema_errors({**sd, "fhirVersion": "4.0.2"}) != []
    assert schema_errors({**sd, "status": "4.0.1"}) != []
    ig = {"resourceType": "ImplementationGuide", "fhirVersion": ["4.0.1"]}
    assert schema_errors(ig) == []
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {**sd, "fhirVersion": "4.0.1"}}],
    }
    assert schema_errors(bundle) == []
    bundle["entry"] = [{"resource": {**sd, "fhirVersion": "4.0.2"}}]
    assert schema_errors(bundle) != []
