"""Organizations: the caisses that pay (Coverage.payor) and the gateway itself (insurer)."""

from __future__ import annotations

from mapping.fhir_common import GATEWAY_ORGANIZATION_ID, SYSTEM_ORGANISATION_NUMBER
from mapping.fhir_ids import organization_id
from mapping.fhir_terms import CS_ORGANIZATION_TYPE
from mapping.fhir_values import Json, coding
from rights.catalogue import Regime, RegimeCatalogue
from rights.errors import UnknownRegimeError

__all__ = [
    "gateway_organization",
    "organisation_name",
    "organisation_to_fhir",
    "regime_label",
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


def organisation_name(number: str, catalogue: RegimeCatalogue, cdr_regime: str | None) -> str:
    """How admission staff name a caisse: "CPAM 751", "CGSS 971", "MSA 471", "CNMSS 756"."""
    regime = _regime(number, catalogue, cdr_regime)
    if regime is None or len(number) != 9:
        return f"Organisme {number}"
    caisse = number[2:5]
    if regime.code == "cnam" and number[:2] == "01":
        # Régime général: a CPAM per department, a CGSS in each overseas department.
        return f"{'CGSS' if caisse.startswith('97') else 'CPAM'} {caisse}"
    return f"{regime.label} {caisse}"


def _regime(number: str, catalogue: RegimeCatalogue, cdr_regime: str | None) -> Regime | None:
    if cdr_regime:
        try:
            return catalogue.get(cdr_regime)
        except UnknownRegimeError:
            pass
    return catalogue.route_organisation(number)


def regime_label(code: str, catalogue: RegimeCatalogue) -> str:
    """The catalogue label of a regime ("CNAM"), or its code when the catalogue lacks it."""
    try:
        return catalogue.get(code).label
    except UnknownRegimeError:
        return code.upper()
