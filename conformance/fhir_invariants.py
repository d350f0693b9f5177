"""The FHIR R4 invariants (``conformance/fixtures/fhir-r4/invariants.json``) evaluated with
fhirpathpy on a resource, its contained resources and a Bundle's entries: what the kit checks
of every FHIR answer, and the test suite of every resource the gateway returns.

Each constraint is evaluated where the specification puts it: on the resource for a
resource-level one, on every node at its element path otherwise, and on every node of its data
type (found through fhirpathpy's R4 model) for a data type's one. ele-1 ("all FHIR elements
must have a @value or children") is checked in Python on the JSON: an empty object, list or
string anywhere.

fhirpathpy 2.2 needs a few expressions restated, each without changing what it tests:
- ``as(T)`` on a collection is an error in FHIRPath 2.0 (the R4 expressions of dom-3 use it as
  a filter, as the reference validator does): written ``ofType(T)``;
- ``hasValue()`` is not implemented: for a JSON primitive, present means it has a value, so
  ``exists()``;
- ``trace()`` only prints: dropped;
- ``htmlChecks()`` (txt-1, txt-2 on Narrative.div) is not implemented: those two are left out,
  and no resource we return carries a narrative.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

__all__ = ["invariant_violations"]

_MODEL = models["r4"]
_UNSUPPORTED = ("htmlChecks()",)
_NOT_DOMAIN = {"Bundle", "Binary", "Parameters"}  # resources that are not DomainResources


def _restated(expression: str) -> str:
    text = re.sub(r"\.trace\('[^']*'(, *[^)]*)?\)", "", expression)
    text = text.replace(".as(", ".ofType(").replace("(as(", "(ofType(")
    text = re.sub(r"\bwhere\(as\(", "where(ofType(", text)
    return text.replace("hasValue()", "exists()")


@functools.cache
def _compiled(expression: str) -> Callable[..., list[Any]]:
    return fhirpathpy.compile(_restated(expression), _MODEL)


@functools.cache
def _invariants() -> dict[str, Any]:
    path = resources.files("conformance").joinpath("fixtures", "fhir-r4", "invariants.json")
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return loaded


def _applicable(rows: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    return (r for r in rows if not any(f in r["expression"] for f in _UNSUPPORTED))


def _failing(expression: str, where: str, node: dict[str, Any], root: dict[str, Any]) -> int:
    """How many nodes at ``where`` (FHIRPath from ``node``; empty: ``node`` itself) break
    ``expression``. Evaluated from ``node`` so that fhirpathpy knows each node's type (a
    choice element such as Extension's ``value[x]`` needs it)."""
    context = {"resource": root, "rootResource": root}
    if not where:
        return 0 if _compiled(expression)(node, context) == [True] else 1
    return len(_compiled(f"{where}.where(({expression}).not())")(node, context))


def _resources(
    resource: dict[str, Any], root: dict[str, Any] | None = None
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(each resource, its ``%rootResource``): ``resource``, then its contained resources (whose
    root is the resource containing them) and a Bundle's entries (each its own root)."""
    root = resource if root is None else root
    yield resource, root
    for contained in resource.get("contained", []):
        yield from _resources(contained, root)
    for entry in resource.get("entry", []) if resource.get("resourceType") == "Bundle" else []:
        if isinstance(entry.get("resource"), dict):
            yield from _resources(entry["resource"])


def _empty_elements(value: Any, path: str) -> Iterator[str]:
    if value in ({}, [], "", None):
        yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _empty_elements(child, f"{path}.{key}")
    elif isinstance(value, list):
        for n, child in enumerate(value):
            yield from _empty_elements(child, f"{path}[{n}]")


def _own_elements(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` without the resources inside it (checked on their own, each its own
    ``%rootResource``)."""
    own = {k: v for k, v in resource.items() if k != "contained"}
    if resource.get("resourceType") == "Bundle":
        own["entry"] = [
            {k: v for k, v in e.items() if k != "resource"} for e in own.get("entry", [])
        ]
    return own


def invariant_violations(resource: dict[str, Any]) -> list[str]:
    """Every R4 invariant of severity error that ``resource`` (or a resource inside it) breaks,
    as ``Type/id key: human text``; empty when all hold."""
    # Remembered by content: the end-to-end tests read the same resources many times, and
    # fhirpathpy takes milliseconds per resource.
    return list(_violations_of(json.dumps(resource, sort_keys=True)))


@functools.lru_cache(maxsize=4096)
def _violations_of(text: str) -> tuple[str, ...]:
    resource: dict[str, Any] = json.loads(text)
    table = _invariants()
    found: list[str] = []
    for current, root in _resources(resource):
        kind = current.get("resourceType", "?")
        label = f"{kind}/{current.get('id', '-')}"
        found += [f"{label} ele-1: {p} is empty" for p in _empty_elements(current, kind)]
        rows = list(_applicable(table["resources"].get(kind, [])))
        if kind not in _NOT_DOMAIN:
            rows += list(_applicable(table["resources"]["DomainResource"]))
        for row in rows:
            where = row["path"].partition(".")[2]
            if _failing(row["expression"], where, current, current):
                found.append(f"{label} {row['key']}: {row['human']}")
        own = _own_elements(current)
        for datatype, type_rows in table["datatypes"].items():
            for row in _applicable(type_rows):
                inner = row["path"].partition(".")[2]
                where = f"descendants().ofType({datatype})" + (f".{inner}" if inner else "")
                if _failing(row["expression"], where, own, root):
                    found.append(f"{label} {row['key']}: {row['human']} ({datatype})")
    return tuple(sorted(set(found)))
