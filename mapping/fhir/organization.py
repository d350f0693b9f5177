"""Organizations: the caisses that pay (Coverage.payor), the gateway itself (insurer) and the
structure that asked (CoverageEligibilityResponse.requestor)."""

from __future__ import annotations

from mapping.fhir.common import GATEWAY_ORGANIZATION_ID, SYSTEM_FINESS, SYSTEM_ORGANISATION_NUMBER
from mapping.fhir.ids import organization_id, structure_id
from mapping.fhir.terms import CS_ORGANIZATION_TYPE
from mapping.fhir.values import Json, coding
from mapping.shared import organisation_name
from rights.catalogue import RegimeCatalogue

__all__ = [
    "gateway_organization",
    "organisation_to_fhir",
    "structure_organization",
]


def gateway_organization() -> Json:
    """The Organization standing for this gateway as CoverageEligibilityResponse.insurer: the CER
    must name one insurer (FHIR R4: insurer 1..1) while the answer gathers every regime's."""
    return {
        "resourceType": "Organization",
        "id": GATEWAY_ORGANIZATION_ID,
        "active": True,
        "name": "CDR Gateway",
        "alias": ["Consultation des droits (CDR), 17 AMO regimes"],
    }


def structure_organization(finess: str, label: str = "") -> Json:
    """The health establishment a lookup was made for (its FINESS: the structure CDR checks
    the eligibility of), as CoverageEligibilityResponse.requestor names it."""
    organization: Json = {
        "resourceType": "Organization",
        "id": structure_id(finess),
        "identifier": [{"system": SYSTEM_FINESS, "value": finess}],
        "active": True,
    }
    if label:
        organization["name"] = label
    return organization


def organisation_to_fhir(
    number: str, catalogue: RegimeCatalogue, cdr_regime: str | None = None
) -> Json:
    """The caisse named by a 9-digit organisation number (régime 2 + caisse 3 + centre 4).

    ``cdr_regime`` is the catalogue regime when the answer says so; otherwise the number is
    routed, as for an AT/MP organisation.
    """
    value = "".join(number.split())
    return {
        "resourceType": "Organization",
        "id": organization_id(value),
        "identifier": [{"system": SYSTEM_ORGANISATION_NUMBER, "value": value}],
        "active": True,
        "type": [{"coding": [coding(CS_ORGANIZATION_TYPE, "pay", "Payer")]}],
        "name": organisation_name(value, catalogue, cdr_regime),
    }
