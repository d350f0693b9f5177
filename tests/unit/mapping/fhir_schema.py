"""Checks that a resource both validates against the official FHIR R4 JSON schema
(``conformance.fhir_schema``, the kit's own check, shipped with the schema in the package) and
parses with the ``fhir.resources`` R4B models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from conformance.fhir_schema import schema_errors

__all__ = ["assert_valid", "schema_errors"]


def assert_valid(resource: Mapping[str, Any]) -> None:
    """The resource validates against the R4 schema and parses with the R4B models."""
    errors = schema_errors(resource)
    assert not errors, f"{resource['resourceType']}/{resource.get('id')}: " + "; ".join(errors)
    model = get_fhir_model_class(str(resource["resourceType"]))
    model.model_validate(dict(resource))
