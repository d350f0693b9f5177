"""How the search index names a resource type.

The type is in every index row three times (the table, ``ix_fhir_search``,
``ix_fhir_search_resource``), and ``CoverageEligibilityResponse`` is 27 characters: measured
(BENCHMARKS.md "Footprint"), the type names were about a third of the index a lookup adds. The
types the gateway stores get a code of two letters instead (migration 0007 recoded the rows
stored before); any other type keeps its name. A code is lower case and a FHIR type name starts
with a capital letter, so the two never meet. The codes are stored data: never change one.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["INDEX_TYPE_CODES", "index_type"]

INDEX_TYPE_CODES: Mapping[str, str] = {
    "CoverageEligibilityResponse": "er",
    "CoverageEligibilityRequest": "eq",
    "Coverage": "co",
    "Patient": "pa",
    "Organization": "or",
    "Practitioner": "pr",
    "CodeSystem": "cs",
    "StructureDefinition": "sd",
}


def index_type(resource_type: str) -> str:
    """``resource_type`` as the index rows hold it."""
    return INDEX_TYPE_CODES.get(resource_type, resource_type)
