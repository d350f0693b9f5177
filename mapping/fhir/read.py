"""Reading submitted FHIR JSON while keeping the FHIRPath of every element, so that each fault
names exactly where it lies (``Bundle.entry[1].resource.identifier[0].value``).

Pure. A submitted resource is untrusted input: the reader never raises on a bad shape, it records a
``Fault`` in the shared ``Faults`` log and carries on, so one reply can list every fault found.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rights.errors import Fault, ResourceError

__all__ = [
    "FHIR_DATE",
    "FHIR_DATE_TIME",
    "Faults",
    "Node",
    "as_dict",
    "codes_of",
]

# FHIR R4 datatypes (http://hl7.org/fhir/R4/datatypes.html): date and dateTime, partial dates
# allowed. The patterns are those of the specification.
FHIR_DATE = re.compile(
    r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
    r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
)
FHIR_DATE_TIME = re.compile(
    FHIR_DATE.pattern
    + r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
    + r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?"
)


@dataclass(slots=True)
class Faults:
    """Every fault found in one submission, in the order found."""

    items: list[Fault] = field(default_factory=list)

    def add(
        self, expression: str, message: str, check: str = "value", *, rule: bool = False
    ) -> None:
        # An element read twice (by two readers) must not report its fault twice.
        fault = Fault(expression=expression, message=message, check=check, rule=rule)
        if fault not in self.items:
            self.items.append(fault)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ResourceError(self.items)


class Node:
    """One JSON value of the submission and its FHIRPath; shape faults go to ``faults``.

    A plain class, not a frozen dataclass, and ``dict`` tested before ``Mapping``: a `$submit`
    makes dozens of nodes, and the frozen ``__init__`` and the ABC checks were a measurable
    share of its CPU. Nothing changes a node after it is made."""

    __slots__ = ("faults", "path", "value")

    def __init__(self, value: Any, path: str, faults: Faults) -> None:
        self.value = value
        self.path = path
        self.faults = faults

    @property
    def resource_type(self) -> str | None:
        kind = self.value.get("resourceType") if _is_object(self.value) else None
        return kind if isinstance(kind, str) else None

    def has(self, name: str) -> bool:
        return _is_object(self.value) and self.value.get(name) is not None

    def obj(self, name: str, *, required: bool = False) -> Node | None:
        """The JSON object under ``name``, or None (a fault if required or not an object)."""
        raw = self._raw(name, required)
        if raw is None:
            return None
        path = f"{self.path}.{name}"
        if not _is_object(raw):
            self.faults.add(path, f"{name} must be a JSON object")
            return None
        return Node(raw, path, self.faults)

    def items(self, name: str, *, required: bool = False) -> tuple[Node, ...]:
        """The elements of the JSON array under ``name`` (FHIR JSON repeats are always arrays)."""
        raw = self._raw(name, required)
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.faults.add(f"{self.path}.{name}", f"{name} must be a JSON array")
            return ()
        if required and not raw:
            self.faults.add(f"{self.path}.{name}", f"{name} must not be empty", "required")
        return tuple(Node(v, f"{self.path}.{name}[{i}]", self.faults) for i, v in enumerate(raw))

    def objects(self, name: str, *, required: bool = False) -> Iterator[Node]:
        """The object elements of the array under ``name``; other elements are faults."""
        for item in self.items(name, required=required):
            if _is_object(item.value):
                yield item
            else:
                self.faults.add(item.path, f"{name} elements must be JSON objects")

    def text(self, name: str, *, required: bool = False) -> str | None:
        """The string under ``name``; FHIR forbids empty strings, so "" is a fault too."""
        raw = self._raw(name, required)
        if raw is None:
            return None
        path = f"{self.path}.{name}"
        if not isinstance(raw, str) or not raw.strip():
            self.faults.add(path, f"{name} must be a non-empty string")
            return None
        return raw.strip()

    def child_path(self, name: str) -> str:
        return f"{self.path}.{name}"

    def _raw(self, name: str, required: bool) -> Any:
        raw = self.value.get(name) if _is_object(self.value) else None
        if raw is None and required:
            self.faults.add(f"{self.path}.{name}", f"{name} is required", "required")
        return raw


def _is_object(value: Any) -> bool:
    # JSON objects arrive as dicts: the C check first, the ABC only for other mappings.
    return isinstance(value, (dict, Mapping))


def codes_of(concept: Node | None, system: str) -> tuple[str, ...]:
    """The codes a CodeableConcept carries in ``system``, silently skipping malformed codings
    (a coding we do not read is no fault of the sender)."""
    if concept is None or not _is_object(concept.value):
        return ()
    codings = concept.value.get("coding")
    if not isinstance(codings, list):
        return ()
    return tuple(
        c["code"]
        for c in codings
        if _is_object(c) and c.get("system") == system and isinstance(c.get("code"), str)
    )


def as_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object itself when it is a dict (callers keep what was received), else a copy."""
    return value if isinstance(value, dict) else dict(value)
