"""The official FHIR R4 JSON schema, loaded once, and checks that a resource both validates
against it and parses with the ``fhir.resources`` R4B models.

A copy of the schema is committed (``tests/fixtures/fhir-r4/``); ``CDR_FHIR_SCHEMA`` points
elsewhere, and the shared folder beside the clone is a last resort. Without any the tests fail:
a schema check that silently skips proves nothing.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fhir.resources.R4B import get_fhir_model_class
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

from mapping.fhir.common import FHIR_VERSION

__all__ = ["assert_valid", "schema_errors"]

_ROOT = Path(__file__).resolve().parents[3]
_COMMITTED = _ROOT / "tests" / "fixtures" / "fhir-r4" / "fhir.schema.json"
_BESIDE_CLONE = _ROOT.parent / "shared" / "fhir-r4" / "fhir.schema.json"


def _schema_path() -> Path:
    override = os.environ.get("CDR_FHIR_SCHEMA")
    candidates = [Path(override)] if override else []
    candidates += [_COMMITTED, _BESIDE_CLONE]
    for path in candidates:
        if path.is_file():
            return path
    pytest.fail(
        "the official FHIR R4 JSON schema is missing: expected "
        + " or ".join(str(p) for p in candidates)
        + " (set CDR_FHIR_SCHEMA to fhir.schema.json)",
        pytrace=False,
    )


@functools.cache
def _registry() -> tuple[str, Registry[Any]]:
    schema = _with_erratum(json.loads(_schema_path().read_text(encoding="utf-8")))
    uri = str(schema.get("id") or "urn:fhir-r4-schema")
    resource = Resource.from_contents(schema, default_specification=DRAFT6)
    return uri, Registry().with_resource(uri, resource)


@functools.cache
def _validator(resource_type: str) -> jsonschema.Draft6Validator:
    # One resource against its own definition: the top-level oneOf over 146 types is slow.
    uri, registry = _registry()
    return jsonschema.Draft6Validator(
        {"$ref": f"{uri}#/definitions/{resource_type}"}, registry=registry
    )


def _with_erratum(schema: dict[str, Any]) -> dict[str, Any]:
    # The published R4 schema's FHIRVersion enum stops at 4.0.0: it refuses "4.0.1", the very
    # version R4 is. The enum of every fhirVersion element gains that one value, so a
    # StructureDefinition is accepted alone and inside a Bundle's entries alike.
    for definition in schema.get("definitions", {}).values():
        element = definition.get("properties", {}).get("fhirVersion")
        if isinstance(element, dict) and element.get("type") == "array":
            element = element.get("items")  # ImplementationGuide lists its versions
        if isinstance(element, dict) and FHIR_VERSION not in element.get("enum", [FHIR_VERSION]):
            element["enum"] = [*element["enum"], FHIR_VERSION]
    return schema


def schema_errors(resource: Mapping[str, Any]) -> list[str]:
    """Every schema violation in ``resource``, as ``path: message``."""
    validator = _validator(str(resource["resourceType"]))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(resource)
    ]


def assert_valid(resource: Mapping[str, Any]) -> None:
    """The resource validates against the R4 schema and parses with the R4B models."""
    errors = schema_errors(resource)
    assert not errors, f"{resource['resourceType']}/{resource.get('id')}: " + "; ".join(errors)
    model = get_fhir_model_class(str(resource["resourceType"]))
    model.model_validate(dict(resource))
