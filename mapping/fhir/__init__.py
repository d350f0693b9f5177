"""FHIR R4 mapping (pure): CoverageEligibilityRequest to a rights query; rights to
CoverageEligibilityResponse, Coverage, Patient and OperationOutcome; our terminology, profiles.
The names below are the entry points."""

from mapping.fhir.cer_to_query import EligibilityAsk, submit_body_to_ask
from mapping.fhir.codesystems import all_conformance_resources
from mapping.fhir.rights_to_bundle import rights_to_transaction
from mapping.fhir.rights_to_fhir import EligibilityAnswer, report_to_fhir

__all__ = [
    "EligibilityAnswer",
    "EligibilityAsk",
    "all_conformance_resources",
    "report_to_fhir",
    "rights_to_transaction",
    "submit_body_to_ask",
]
