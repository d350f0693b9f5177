"""The invariant checker of the tests finds what R4 forbids, and lets the rest through: a
check that cannot fail would prove nothing about the resources it passes."""

from __future__ import annotations

from typing import Any

from tests.unit.mapping.fhir_invariants import invariant_violations


def _coverage(**changes: Any) -> dict[str, Any]:
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": "c1",
        "status": "active",
        "period": {"start": "2026-01-01", "end": "2026-12-31"},
        "beneficiary": {"reference": "Patient/p1"},
        "payor": [{"reference": "#o1"}],
        "contained": [{"resourceType": "Organization", "id": "o1", "name": "CPAM"}],
        "extension": [{"url": "https://example.org/x", "valueString": "y"}],
    }
    coverage.update(changes)
    return coverage


def test_a_resource_within_the_rules_has_no_violation() -> None:
    assert invariant_violations(_coverage()) == []


def test_each_broken_rule_is_named_by_its_key() -> None:
    broken = _coverage(
        period={"start": "2026-12-31", "end": "2026-01-01"},  # per-1
        payor=[{"reference": "#nowhere"}],  # ref-1, and o1 is no longer referenced: dom-3
        extension=[{"url": "https://example.org/x"}],  # ext-1
        subscriberId="",  # ele-1
    )
    keys = {v.split()[1].rstrip(":") for v in invariant_violations(broken)}
    assert keys == {"per-1", "ref-1", "dom-3", "ext-1", "ele-1"}


def test_contained_resources_and_bundle_entries_are_checked_too() -> None:
    nested = _coverage()
    nested["contained"][0]["contained"] = [{"resourceType": "Organization", "id": "x"}]
    # the Coverage's dom-2; the Organization it contains breaks dom-3 (x is referenced by
    # nothing) and x itself org-1 (neither identifier nor name)
    assert sorted(v.split()[:2] for v in invariant_violations(nested)) == [
        ["Coverage/c1", "dom-2:"],
        ["Organization/o1", "dom-3:"],
        ["Organization/x", "org-1:"],
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "total": 1,  # bdl-1: only a searchset or a history has a total
        "entry": [{"fullUrl": "urn:uuid:1", "resource": _coverage(period={"start": "2027"})}],
    }
    keys = {v.split()[1].rstrip(":") for v in invariant_violations(bundle)}
    assert keys == {"bdl-1"}
    organization = {
        "resourceType": "Organization",
        "id": "o",
        "name": "CPAM",
        "telecom": [{"value": "0102030405"}],  # cpt-2: a value needs its system
    }
    assert {v.split()[1].rstrip(":") for v in invariant_violations(organization)} == {"cpt-2"}
