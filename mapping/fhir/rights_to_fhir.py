"""A lookup's report as FHIR R4: the CoverageEligibilityResponse and every resource it points to.

Pure: values in, JSON objects (``dict``) out, ready for the wire. Ids are deterministic
(``mapping.fhir.ids``), so repeating a lookup upserts the same Patient, Coverages,
Organizations and Practitioners. The profile, extensions and code systems used here are
published by ``mapping.fhir.codesystems`` and described in ``docs/fhir-profile.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mapping.fhir.common import (
    GATEWAY_ORGANIZATION_ID,
    SYSTEM_NIR,
)
from mapping.fhir.coverage import CoverageEntry, rights_to_coverages
from mapping.fhir.ids import CoverageKind, coverage_id, patient_id
from mapping.fhir.organization import gateway_organization, structure_organization
from mapping.fhir.outcome import errors, status_extensions, warning_extensions
from mapping.fhir.patient import patient_to_fhir
from mapping.fhir.values import Json, period_json, reference
from mapping.shared import disposition
from rights.catalogue import RegimeCatalogue
from rights.result import LookupReport, RightsResult

__all__ = [
    "PURPOSES",
    "CoverageKind",
    "EligibilityAnswer",
    "coverage_id",
    "gateway_organization",
    "patient_id",
    "pending_response",
    "report_to_fhir",
]

# R4 eligibilityrequest-purpose (CoverageEligibilityResponse.purpose, 1..*).
PURPOSES = frozenset({"auth-requirements", "benefits", "discovery", "validation"})


@dataclass(frozen=True, slots=True)
class EligibilityAnswer:
    response: dict[str, Any]  # the CoverageEligibilityResponse
    patient: dict[str, Any]  # Patient (the beneficiary)
    coverages: tuple[dict[str, Any], ...]  # every Coverage the response's insurance[] points to
    organizations: tuple[dict[str, Any], ...]  # payor caisses + the gateway insurer Organization
    practitioners: tuple[dict[str, Any], ...]  # médecin traitant(s), from generalPractitioner


def report_to_fhir(
    report: LookupReport,
    *,
    catalogue: RegimeCatalogue,
    response_id: str,
    request_reference: str,
    created: datetime,
    purposes: tuple[str, ...],
    submitted_patient: Mapping[str, Any] | None = None,
) -> EligibilityAnswer:
    """The CoverageEligibilityResponse for ``report`` and the resources it references.

    ``purposes`` are the request's; when empty, ``discovery`` or ``validation`` according to
    the query. ``submitted_patient`` (the client's Patient) gives the names and birth date
    when no regime knows the person. Raises ``ValueError`` for a naive ``created`` or a purpose
    outside R4's list: both are the caller's bug, not the client's.
    """
    if created.tzinfo is None or created.utcoffset() is None:
        raise ValueError("created must be timezone-aware (FHIR dateTime with a time has a zone)")
    query = report.query
    chosen = purposes or (("discovery",) if query.is_discovery else ("validation",))
    unknown = sorted(set(chosen) - PURPOSES)
    if unknown:
        raise ValueError(f"not CoverageEligibilityResponse purposes: {', '.join(unknown)}")

    found = _most_relevant_first(report.found)
    rights = [r.rights for r in found if r.rights is not None]
    patient, practitioners = patient_to_fhir(query, rights, submitted_patient)
    pid = patient["id"]
    # The ouvrant droit's NIR is in the test (or demo) system when the number asked for is.
    od_system = patient["identifier"][0]["system"] if query.nir.is_test else SYSTEM_NIR

    entries: list[CoverageEntry] = []
    organizations: dict[str, Json] = {}
    for result in found:
        if result.rights is None:
            continue
        part = rights_to_coverages(
            result.regime, result.rights, patient=pid, nir_system=od_system, catalogue=catalogue
        )
        entries += part.entries
        for org in part.organizations:
            organizations.setdefault(org["id"], org)
    gateway = gateway_organization()
    organizations[gateway["id"]] = gateway
    requester = query.requester
    structure = (
        structure_organization(requester.finess, requester.label) if requester.finess else None
    )
    if structure is not None:
        organizations.setdefault(structure["id"], structure)

    with_items = "benefits" in chosen
    response: Json = {"resourceType": "CoverageEligibilityResponse", "id": response_id}
    warnings = warning_extensions(report, validation_asked="validation" in chosen)
    extensions = status_extensions(report) + warnings
    if extensions:
        response["extension"] = extensions
    response.update(
        {
            "status": "active",
            "purpose": list(chosen),
            "patient": reference("Patient", pid),
            "servicedDate": query.date_of_care.isoformat(),
            "created": created.isoformat(),
            "request": {"reference": request_reference},
            **(
                {"requestor": reference("Organization", structure["id"], structure.get("name"))}
                if structure is not None
                else {}
            ),
            "outcome": report.outcome,
            "disposition": disposition(report, catalogue),
            "insurer": reference("Organization", GATEWAY_ORGANIZATION_ID, gateway["name"]),
        }
    )
    insurance = [_insurance(e, report, with_items=with_items) for e in entries]
    if insurance:
        response["insurance"] = insurance
    error = errors(report, catalogue)
    if error:
        response["error"] = error
    return EligibilityAnswer(
        response=response,
        patient=patient,
        coverages=tuple(e.resource for e in entries),
        organizations=tuple(organizations.values()),
        practitioners=practitioners,
    )


def _most_relevant_first(found: tuple[RightsResult, ...]) -> list[RightsResult]:
    """Regimes with rights in force first (catalogue order otherwise): the Patient's identity
    comes from the first, and insurance[] reads in that order."""
    return sorted(found, key=lambda r: not r.evaluation.in_force)


def _insurance(entry: CoverageEntry, report: LookupReport, *, with_items: bool) -> Json:
    out: Json = {
        "coverage": reference("Coverage", entry.resource["id"]),
        "inforce": entry.period.covers(report.query.date_of_care),
        "benefitPeriod": period_json(entry.period),
    }
    if with_items and entry.benefits:
        out["item"] = list(entry.benefits)
    return out


def pending_response(
    *,
    response_id: str,
    request_reference: str,
    patient_reference: str,
    created: datetime,
    purposes: tuple[str, ...],
    outcome: str = "queued",
    disposition_text: str = "Lookup queued: poll this CoverageEligibilityResponse.",
) -> dict[str, Any]:
    """The response of an asynchronous `$submit` before its lookup is done (IHE ITI-124:
    outcome ``queued``), or after the lookup itself failed (outcome ``error``)."""
    if created.tzinfo is None:
        raise ValueError("created must be timezone-aware")
    return {
        "resourceType": "CoverageEligibilityResponse",
        "id": response_id,
        "status": "active",
        "purpose": list(purposes),
        "patient": {"reference": patient_reference},
        "created": created.isoformat(),
        "request": {"reference": request_reference},
        "outcome": outcome,
        "disposition": disposition_text,
        "insurer": reference("Organization", GATEWAY_ORGANIZATION_ID),
    }
