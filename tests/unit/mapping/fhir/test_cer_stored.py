"""The request as stored: its references all resolve, what it sent beside it is contained,
and nothing contained is left unreferenced (dom-3)."""

from __future__ import annotations

from mapping.fhir.cer_stored import reference_texts, request_to_store

CONTAINED_PATIENT = {
    "resourceType": "CoverageEligibilityRequest",
    "id": "theirs",
    "meta": {"versionId": "7"},
    "contained": [
        {"resourceType": "Patient", "id": "p"},
        {"resourceType": "Location", "id": "site"},
        {"resourceType": "Coverage", "id": "c", "beneficiary": {"reference": "#p"}},
    ],
    "patient": {"reference": "#p"},
    "facility": {"reference": "#site"},
    "insurance": [{"coverage": {"reference": "#c"}}],
}


def test_the_contained_patient_goes_and_who_pointed_at_it_points_at_ours() -> None:
    stored = request_to_store(
        CONTAINED_PATIENT, request_id="r1", patient_reference="Patient/ours", referenced={}
    )
    assert stored["id"] == "r1" and "meta" not in stored
    assert [c["id"] for c in stored["contained"]] == ["site", "c"]
    assert stored["contained"][1]["beneficiary"] == {"reference": "Patient/ours"}
    assert stored["patient"] == {"reference": "Patient/ours"}
    # The received request is not changed.
    assert CONTAINED_PATIENT["contained"][2]["beneficiary"] == {"reference": "#p"}
    assert CONTAINED_PATIENT["id"] == "theirs"


def test_resources_sent_beside_are_contained_once_under_local_ids() -> None:
    org = {"resourceType": "Organization", "id": "their-org", "name": "CHU"}
    coverage = {
        "resourceType": "Coverage",
        "id": "cov",
        "beneficiary": {"reference": "urn:uuid:pat"},
        "payor": [{"reference": "urn:uuid:org"}],
    }
    cer = {
        "resourceType": "CoverageEligibilityRequest",
        "patient": {"reference": "urn:uuid:pat"},
        "provider": {"reference": "urn:uuid:org"},
        "insurer": {"reference": "Organization/cdr-gateway"},
        "insurance": [{"coverage": {"reference": "urn:uuid:cov"}}],
    }
    referenced = {
        "urn:uuid:pat": {"resourceType": "Patient", "id": "x"},
        "urn:uuid:org": org,
        "Organization/their-org": org,
        "urn:uuid:cov": coverage,
    }
    stored = request_to_store(
        cer, request_id="r2", patient_reference="Patient/ours", referenced=referenced
    )
    ids = [c["id"] for c in stored["contained"]]
    assert ids == ["organization-1", "coverage-1"]  # the Patient is ours, the org once
    assert stored["provider"] == {"reference": "#organization-1"}
    assert stored["insurance"][0]["coverage"] == {"reference": "#coverage-1"}
    assert stored["insurer"] == {"reference": "Organization/cdr-gateway"}
    assert stored["contained"][1]["payor"] == [{"reference": "#organization-1"}]
    assert stored["contained"][1]["beneficiary"] == {"reference": "Patient/ours"}
    assert not [t for t in reference_texts(stored) if t.startswith("urn:")]
    assert list(stored)[:3] == ["resourceType", "id", "contained"]


def test_reference_texts_skip_contained() -> None:
    assert sorted(reference_texts(CONTAINED_PATIENT)) == ["#c", "#p", "#site"]
