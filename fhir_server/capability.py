"""The CapabilityStatement: exactly what this server supports, built from the same tables the
routes use, so that it cannot drift from the behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fhir_server.paging import MAX_OFFSET
from fhir_server.search_params import SEARCH_PARAMS
from fhir_server.search_system import SYSTEM_PARAMS
from fhir_server.store import COUNT_BOUND
from mapping.fhir.common import CANONICAL, FHIR_VERSION
from mapping.fhir.terms import PROFILE_COVERAGE

__all__ = ["SEARCH_PARAM_DEFINITIONS", "capability_statement"]

_SUBMIT = "http://hl7.org/fhir/OperationDefinition/CoverageEligibilityRequest-submit"
_CORE = "http://hl7.org/fhir/SearchParameter/"
# searchParam.definition "SHALL be populated" for a core parameter (R4 CapabilityStatement): the
# canonical URL of the R4 SearchParameter each one implements. Several resources share one
# definition (Resource-id, individual-birthdate, conformance-url).
SEARCH_PARAM_DEFINITIONS: dict[tuple[str, str], str] = {
    (resource_type, name): _CORE + slug
    for resource_type, name, slug in (
        ("CoverageEligibilityResponse", "request", "CoverageEligibilityResponse-request"),
        ("CoverageEligibilityResponse", "requestor", "CoverageEligibilityResponse-requestor"),
        ("CoverageEligibilityResponse", "patient", "CoverageEligibilityResponse-patient"),
        ("CoverageEligibilityResponse", "created", "CoverageEligibilityResponse-created"),
        ("CoverageEligibilityResponse", "outcome", "CoverageEligibilityResponse-outcome"),
        ("CoverageEligibilityResponse", "status", "CoverageEligibilityResponse-status"),
        ("CoverageEligibilityRequest", "patient", "CoverageEligibilityRequest-patient"),
        ("CoverageEligibilityRequest", "created", "CoverageEligibilityRequest-created"),
        ("CoverageEligibilityRequest", "status", "CoverageEligibilityRequest-status"),
        ("Coverage", "beneficiary", "Coverage-beneficiary"),
        ("Coverage", "patient", "Coverage-patient"),
        ("Coverage", "payor", "Coverage-payor"),
        ("Coverage", "status", "Coverage-status"),
        ("Coverage", "identifier", "Coverage-identifier"),
        ("Patient", "identifier", "Patient-identifier"),
        ("Patient", "birthdate", "individual-birthdate"),
        ("Organization", "identifier", "Organization-identifier"),
        ("Practitioner", "identifier", "Practitioner-identifier"),
        ("AuditEvent", "date", "AuditEvent-date"),
        ("AuditEvent", "agent", "AuditEvent-agent"),
        ("AuditEvent", "patient", "AuditEvent-patient"),
        ("AuditEvent", "outcome", "AuditEvent-outcome"),
        ("AuditEvent", "type", "AuditEvent-type"),
        ("AuditEvent", "subtype", "AuditEvent-subtype"),
        ("CodeSystem", "url", "conformance-url"),
        ("StructureDefinition", "url", "conformance-url"),
    )
}
# Our profiles, per resource type they constrain (docs/fhir-profile.md).
_SUPPORTED_PROFILES = {"Coverage": [PROFILE_COVERAGE]}


def _definition(resource_type: str, name: str) -> str:
    if name == "_id":
        return _CORE + "Resource-id"
    if name == "_lastUpdated":
        return _CORE + "Resource-lastUpdated"
    return SEARCH_PARAM_DEFINITIONS[(resource_type, name)]


def capability_statement(
    *, base_url: str, version: str, date: datetime, security: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``security``: ``rest[0].security`` when the API needs a token (SMART v2 §2.2)."""
    resources = []
    for resource_type, params in SEARCH_PARAMS.items():
        entry: dict[str, Any] = {
            "type": resource_type,
            "interaction": [
                {"code": "read"},
                {"code": "vread"},
                {"code": "history-instance"},
                {"code": "search-type"},
            ],
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": False,
            "searchParam": [
                {
                    "name": p.name,
                    "definition": _definition(resource_type, p.name),
                    "type": p.kind,
                    "documentation": p.documentation,
                }
                for p in params.values()
            ],
        }
        if resource_type in _SUPPORTED_PROFILES:
            entry["supportedProfile"] = _SUPPORTED_PROFILES[resource_type]
        if resource_type == "CoverageEligibilityRequest":
            # A type-level operation: POST [base]/CoverageEligibilityRequest/$submit (ITI-124).
            entry["operation"] = [{"name": "submit", "definition": _SUBMIT}]
        resources.append(entry)
    rest: dict[str, Any] = {
        "mode": "server",
        # GET [base]?_type=… (fhir_server.search_system): every type but AuditEvent.
        "interaction": [{"code": "search-system"}],
        "searchParam": [
            {
                "name": name,
                "definition": _definition("", name),
                "type": "token" if name == "_id" else "date",
                "documentation": "whole-system search, with _type (AuditEvent: its own search)",
            }
            for name in SYSTEM_PARAMS
        ],
    }
    if security is not None:
        rest["security"] = dict(security)
    return {
        "resourceType": "CapabilityStatement",
        "id": "cdr-gateway",
        "url": f"{CANONICAL}/CapabilityStatement/cdr-gateway",
        "name": "CdrGateway",
        "title": "CDR Gateway FHIR API",
        "status": "active",
        "date": date.isoformat(),
        "publisher": "CDR Gateway",
        "kind": "instance",
        "software": {"name": "CDR Gateway", "version": version},
        "implementation": {
            "description": "AMO rights lookups for French health establishments",
            "url": base_url,
        },
        "fhirVersion": FHIR_VERSION,
        "format": [
            "application/fhir+json",
            "json",
            "application/json",
            "application/fhir+xml",
            "xml",
            "application/xml",
        ],
        "rest": [
            {
                **rest,
                "documentation": (
                    "Searches accept _count (default 20, max 100; 0 for the count only) and "
                    "answer searchset Bundles, most recently updated first, then by id. Paging: "
                    "the next link carries an opaque position (_page); following next links "
                    "walks the whole result once, in order, each page as cheap as the first, "
                    "and a resource stored meanwhile repeats none already seen. _offset is "
                    f"accepted up to {MAX_OFFSET}. _total: none, estimate (the default: counted "
                    f"up to {COUNT_BOUND}, beyond that no total and an outcome entry), "
                    "accurate. Every search has a time budget (CDR_SEARCH_TIMEOUT_S, 5 s by "
                    "default): over it, 400 too-costly naming its parameters. Unknown search "
                    "parameters, and values that are no date of the calendar or hold control "
                    "characters, are refused with 400."
                ),
                "resource": resources,
            }
        ],
    }
