"""Small FHIR JSON building blocks shared by the RightsResult → FHIR modules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from mapping.fhir.terms import BENEFIT_CATEGORY_HEALTH, CS_BENEFIT_CATEGORY
from rights.model import Period

__all__ = [
    "Json",
    "benefit_item",
    "calendar_date",
    "codeable",
    "coding",
    "extension",
    "in_order",
    "period_json",
    "period_text",
    "reference",
]

Json = dict[str, Any]

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def coding(system: str, code: str, display: str | None = None) -> Json:
    out: Json = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def codeable(system: str, code: str, table: Mapping[str, str]) -> Json:
    """A CodeableConcept with one coding of ours; the display comes from the code's table."""
    return {"coding": [coding(system, code, table.get(code))]}


def period_json(period: Period) -> Json:
    out: Json = {"start": period.start.isoformat()}
    if period.end is not None:
        out["end"] = period.end.isoformat()
    return out


def reference(resource_type: str, resource_id: str, display: str | None = None) -> Json:
    out: Json = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        out["display"] = display
    return out


def extension(url: str, **value: Any) -> Json:
    """``extension(URL, valueCode="x")`` → ``{"url": URL, "valueCode": "x"}``."""
    return {"url": url, **value}


def calendar_date(text: str | None) -> date | None:
    """The date ``text`` names, or None when it is absent or lunar (1950-00-00, 1961-02-30)."""
    if not text or _ISO_DAY.fullmatch(text) is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def period_text(period: Period) -> str:
    """A period for a sentence: "from 2024-11-24 to 2025-11-23" or "from 2024-11-24 (open)"."""
    if period.end is None:
        return f"from {period.start.isoformat()} (open-ended)"
    return f"from {period.start.isoformat()} to {period.end.isoformat()}"


def benefit_item(name: str, description: str) -> Json:
    """A CoverageEligibilityResponse.insurance.item describing a cover; ces-1 wants a category
    or a productOrService, never both: X12 category 30, "Health Benefit Plan Coverage"."""
    category = {"coding": [coding(CS_BENEFIT_CATEGORY, *BENEFIT_CATEGORY_HEALTH)]}
    return {"category": category, "name": name, "description": description}


def in_order(resource: Json, elements: tuple[str, ...]) -> Json:
    """``resource`` with its keys in the specification's element order (unlisted ones last), as
    FHIR JSON is usually read: resourceType, id, meta, contained, extension, then elements."""
    rank = _ranks(elements)
    try:  # every key known (the resources we build): the rank is read in C, no lambda per key
        keys = sorted(resource, key=rank.__getitem__)
    except KeyError:
        keys = sorted(resource, key=lambda key: rank.get(key, len(rank)))
    return {key: resource[key] for key in keys}


@lru_cache(maxsize=32)
def _ranks(elements: tuple[str, ...]) -> dict[str, int]:
    head = ("resourceType", "id", "meta", "contained", "extension")
    return {key: i for i, key in enumerate(head + elements)}
