"""FHIR R4 mapping (pure): CoverageEligibilityRequest to a rights query; rights to
CoverageEligibilityResponse, Coverage, Patient and OperationOutcome; our terminology, profiles."""
