"""The official FHIR R4 JSON schema (``conformance/fixtures/fhir-r4/fhir.schema.json``, as HL7
publishes it), loaded once: what the kit checks of every FHIR answer, and the test suite of
every resource the gateway returns.

One resource is validated against its own definition (the top-level ``oneOf`` over 146 types is
slow). The published file's ``fhirVersion`` enum stops at 4.0.0, although R4's technical
correction is 4.0.1: that one value is let through, nothing else.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

from mapping.fhir.common import FHIR_VERSION

__all__ = ["schema_errors"]


@functools.cache
def _registry() -> tuple[str, Registry[Any]]:
    path = resources.files("conformance").joinpath("fixtures", "fhir-r4", "fhir.schema.json")
    schema = _with_erratum(json.loads(path.read_text(encoding="utf-8")))
    uri = str(schema.get("id") or "urn:fhir-r4-schema")
    resource = Resource.from_contents(schema, default_specification=DRAFT6)
    return uri, Registry().with_resource(uri, resource)


@functools.cache
def _validator(resource_type: str) -> jsonschema.Draft6Validator:
    uri, registry = _registry()
    return jsonschema.Draft6Validator(
        {"$ref": f"{uri}#/definitions/{resource_type}"}, registry=registry
    )


def _with_erratum(schema: dict[str, Any]) -> dict[str, Any]:
    for definition in schema.get("definitions", {}).values():
        element = definition.get("properties", {}).get("fhirVersion")
        if isinstance(element, dict) and element.get("type") == "array":
            element = element.get("items")  # ImplementationGuide lists its versions
        if isinstance(element, dict) and FHIR_VERSION not in element.get("enum", [FHIR_VERSION]):
            element["enum"] = [*element["enum"], FHIR_VERSION]
    return schema


def schema_errors(resource: Mapping[str, Any]) -> list[str]:
    """Every schema violation in ``resource``, as ``path: message``; an unknown resource type
    is one violation."""
    kind = str(resource.get("resourceType", ""))
    uri, registry = _registry()
    definitions = registry.contents(uri).get("definitions", {})
    if kind not in definitions or "resourceType" not in definitions[kind].get("properties", {}):
        return [f"resourceType: {kind!r} is not an R4 resource type"]
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in _validator(kind).iter_errors(resource)
    ]
