"""Which stored FHIR resources the purge deletes, and what a kept answer still needs.

The answers of `$submit` are of two kinds. A CoverageEligibilityResponse and its
CoverageEligibilityRequest belong to one request: they go once older than the period. The
Patient and its Coverages belong to a person and are shared by every answer about that person
(their ids come from the person: ``mapping.fhir.ids``); a lookup that finds them unchanged does
not write them again, so their ``last_updated`` can be far older than the last answer naming
them. They go only once no answer kept (one written since ``before``) names the person as its
patient, so that no kept answer is left pointing at nothing.

Kept whatever their age: the resources the gateway publishes itself (CodeSystem,
StructureDefinition: ``cdr.bootstrap.publish_conformance``) and any type not listed in
``PURGED_TYPES``. Organizations (the caisses, the asking structure, the gateway) describe no
patient, are named by every answer (``insurer``, ``payor``, ``requestor``) and number a few
hundred; Practitioners (médecins traitants) are named by Patients through no search index.
Both stay: deleting one would leave kept answers pointing at nothing.

With a resource go its search index rows (``ix_fhir_search_resource``) and the versions its
changes replaced (``fhir_resource_history``, by its primary key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal, or_

from cdr.storage.index_types import index_type
from cdr.storage.tables import fhir_resources, fhir_search_index

__all__ = ["PURGED_TYPES", "still_needed", "unindexed"]

_ANSWER_TYPES = ("CoverageEligibilityResponse", "CoverageEligibilityRequest")
# In this order: the answers, then what they point to.
PURGED_TYPES = (*_ANSWER_TYPES, "Coverage", "Patient")

_resource = fhir_resources.c


def unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``column`` as an expression no index answers, for a condition that only checks rows
    found by their key: given the column itself, SQLite reads the time index's whole range
    instead of the few keys asked for (``fhir_search.page_statement`` does the same)."""
    return func.coalesce(column, column)


def _named_by_kept_answer(patient_reference: ColumnElement[str], before: datetime) -> Any:
    """Whether an answer written since ``before`` has ``patient_reference`` as its patient:
    one probe of ``ix_fhir_search`` per answer type, then each answer found by its primary key
    (never the other way round: the kept answers are most of them)."""
    probes = []
    for answer_type in _ANSWER_TYPES:
        index = fhir_search_index.alias(f"named_by_{index_type(answer_type)}")
        answer = fhir_resources.alias(f"kept_{index_type(answer_type)}")
        probes.append(
            exists().where(
                index.c.resource_type == index_type(answer_type),
                index.c.param == "patient",
                index.c.value == patient_reference,
                answer.c.resource_type == answer_type,
                answer.c.id == index.c.resource_id,
                unindexed(answer.c.last_updated) >= before,
            )
        )
    return or_(*probes)


def still_needed(resource_type: str, before: datetime) -> Any:
    """Whether a kept answer still needs a resource of ``resource_type`` (the row of
    ``fhir_resources`` the statement looks at); None for a type only its own age decides."""
    if resource_type == "Patient":
        return _named_by_kept_answer(literal("Patient/") + _resource.id, before)
    if resource_type == "Coverage":
        # Its beneficiary, from its own index rows (ix_fhir_search_resource).
        beneficiary = fhir_search_index.alias("beneficiary")
        return exists().where(
            beneficiary.c.resource_type == index_type("Coverage"),
            beneficiary.c.resource_id == _resource.id,
            beneficiary.c.param == "beneficiary",
            _named_by_kept_answer(beneficiary.c.value, before),
        )
    return None
