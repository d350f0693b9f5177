"""The FHIR R4 invariants on a resource the gateway returns: ``conformance.fhir_invariants``
(the kit checks every answer with the same code), as a test assertion."""

from __future__ import annotations

from typing import Any

from conformance.fhir_invariants import invariant_violations

__all__ = ["assert_invariants", "invariant_violations"]


def assert_invariants(resource: dict[str, Any]) -> None:
    violations = invariant_violations(resource)
    assert not violations, "\n".join(violations)
