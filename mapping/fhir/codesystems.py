"""Our CodeSystem resources, and every conformance resource the server publishes under /fhir.

The concepts come from the same tables the mapping reads (``mapping.fhir.terms``), so a code the
mapping emits always exists here. Each call builds fresh dicts: callers may change them.
"""

from __future__ import annotations

from collections.abc import Mapping

from mapping.fhir.common import CS_CDR_ERROR, CS_CLASS_TYPE, CS_QUALITE
from mapping.fhir.structuredefinitions import PUBLISHER, structure_definitions
from mapping.fhir.terms import (
    CLASS_TYPES,
    COVERAGE_TYPES,
    CS_COVERAGE_TYPE,
    CS_ETM,
    CS_MTM,
    CS_NATURE_PJ,
    CS_SNCF_CONTRACT,
    ERRORS,
    ETM_CODES,
    MTM_CODES,
    NATURE_PJ_CODES,
    QUALITE_CODES,
    SNCF_CONTRACT_CODES,
)
from mapping.fhir.values import Json

__all__ = ["all_conformance_resources", "code_systems"]

# (url, title, description, table, complete?) — "fragment" where a regime may send codes that
# the public documents do not list; those pass through the mapping as received.
_SYSTEMS: tuple[tuple[str, str, str, Mapping[str, str], bool], ...] = (
    (
        CS_CDR_ERROR,
        "CDR eligibility errors",
        "Why a regime gave no rights in a CoverageEligibilityResponse.error: the regime could "
        "not answer (unavailable, timeout, rejected), refused the requesting structure, or no "
        "regime knows the person.",
        ERRORS,
        True,
    ),
    (
        CS_CLASS_TYPE,
        "CDR coverage class types",
        "Coverage.class types carrying the managing organisation (grand régime, caisse, centre, "
        "code gestion, CDR regime) and the C2S/AME situation and complementary organism.",
        CLASS_TYPES,
        True,
    ),
    (
        CS_QUALITE,
        "Qualité du bénéficiaire",
        "Qualité of the beneficiary relative to the ouvrant droit (Vitale group 104, CDRi 03.01).",
        QUALITE_CODES,
        True,
    ),
    (
        CS_COVERAGE_TYPE,
        "CDR coverage types",
        "Kinds of French cover a Coverage stands for: base AMO rights, C2S, AME, AT/MP. The only "
        "type coding of C2S and AME Coverages; a second coding beside v3-ActCode otherwise.",
        COVERAGE_TYPES,
        True,
    ),
    (
        CS_ETM,
        "Exonération du ticket modérateur (code ETM)",
        "CDRi 03.05 exoneration codes as published (FIDES RG_BS684).",
        ETM_CODES,
        False,
    ),
    (
        CS_MTM,
        "Modulation du ticket modérateur (code MTM)",
        "CDRi 03.07 modulation codes.",
        MTM_CODES,
        False,
    ),
    (
        CS_NATURE_PJ,
        "Nature de la pièce justificative AMO",
        "What supports the AMO rights (FIDES RG_BS622); rights read from CDR carry 2.",
        NATURE_PJ_CODES,
        False,
    ),
    (
        CS_SNCF_CONTRACT,
        "CPRP SNCF contrat particulier",
        "One of 18-21 plus any of 22-25.",
        SNCF_CONTRACT_CODES,
        True,
    ),
)


def code_systems() -> tuple[Json, ...]:
    return tuple(_code_system(*entry) for entry in _SYSTEMS)


def all_conformance_resources() -> tuple[Json, ...]:
    """Every CodeSystem and StructureDefinition (profile and extensions) we publish."""
    return code_systems() + structure_definitions()


def _code_system(
    url: str, title: str, description: str, table: Mapping[str, str], complete: bool
) -> Json:
    slug = url.rsplit("/", 1)[-1]
    return {
        "resourceType": "CodeSystem",
        "id": slug,
        "url": url,
        "name": "".join(part.capitalize() for part in slug.split("-")),
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": PUBLISHER,
        "description": description,
        "caseSensitive": True,
        "content": "complete" if complete else "fragment",
        "count": len(table),
        "concept": [{"code": code, "display": display} for code, display in table.items()],
    }
