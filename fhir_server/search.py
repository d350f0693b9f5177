"""Turning search query parameters into store criteria, and results into a searchset Bundle."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fhir_server.errors import FhirRequestError
from fhir_server.paging import PAGE_PARAM, encode_position
from fhir_server.search_params import SEARCH_PARAMS, normalise_instant
from fhir_server.store import Criterion, SearchPage

__all__ = ["DEFAULT_COUNT", "MAX_COUNT", "parse_search", "searchset"]

DEFAULT_COUNT = 20
MAX_COUNT = 100
# What _count and _offset may be written as: far inside the 64-bit integers of SQLite and
# PostgreSQL (an _offset past paging._LARGEST is then refused as too costly).
_LARGEST = 1_000_000_000
_WHOLE = re.compile(r"[0-9]{1,12}")
# No identifier, reference, code or date holds one; PostgreSQL refuses NUL in any text.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL = {"_count", "_offset", "_format", "_total", PAGE_PARAM}
_DATE = re.compile(r"(eq|ge|gt|le|lt)?(\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)")


def _bad(message: str, location: str) -> FhirRequestError:
    return FhirRequestError(400, "invalid", message, location=location)


def _int(params: Sequence[tuple[str, str]], name: str, default: int, most: int) -> int:
    """The last value of ``name``; digits only (``int`` would also take ``+1``, ``1_0`` or
    ``٣``), at most ``most``."""
    values = [v for k, v in params if k == name]
    if not values:
        return default
    if _WHOLE.fullmatch(values[-1]) is None:
        raise _bad(f"{name} must be a whole number 0-{most}, got {values[-1][:40]!r}", name)
    number = int(values[-1])
    if number > most:
        raise _bad(f"{name} must be at most {most}, got {number}", name)
    return number


def parse_search(
    resource_type: str, params: Sequence[tuple[str, str]]
) -> tuple[list[Criterion], int, int]:
    """Criteria, count and offset for a search; 400 naming any parameter we do not support."""
    supported = SEARCH_PARAMS[resource_type]
    criteria: list[Criterion] = []
    for name, raw in params:
        if name in _CONTROL:
            continue
        param = supported.get(name)
        if param is None:
            raise _bad(
                f"search parameter {name!r} is not supported on {resource_type}; supported: "
                f"{', '.join(supported)}, _count",
                name,
            )
        values = [v for v in raw.split(",") if v]
        if not values:
            raise _bad(f"search parameter {name!r} has no value", name)
        if _CONTROL_CHARACTERS.search(raw) is not None:
            raise _bad(f"search parameter {name!r} holds a control character", name)
        criteria += _criteria(resource_type, param.name, param.kind, values)
    count = min(_int(params, "_count", DEFAULT_COUNT, _LARGEST), MAX_COUNT)
    return criteria, count, _int(params, "_offset", 0, _LARGEST)


def _criteria(resource_type: str, name: str, kind: str, values: list[str]) -> list[Criterion]:
    if kind == "reference":
        target = {"request": "CoverageEligibilityRequest", "payor": "Organization"}.get(
            name, "Patient"
        )
        refs = tuple(v if "/" in v else f"{target}/{v}" for v in values)
        return [Criterion(name, "reference", refs)]
    if kind == "date":
        out = []
        for value in values:
            match = _DATE.fullmatch(value)
            try:
                if match is None:
                    raise ValueError(value)
                instant = normalise_instant(match.group(2))
            except ValueError:  # the pattern lets through times such as T25:00 or T::
                raise _bad(
                    f"{name}: {value!r} is not a FHIR date with an optional prefix", name
                ) from None
            out.append(Criterion(name, "date", (instant,), prefix=match.group(1) or "eq"))
        return out
    by_system: dict[str | None, list[str]] = {}
    for value in values:
        if "|" in value:
            system, _, code = value.partition("|")
            by_system.setdefault(system, []).append(code)
        else:
            by_system.setdefault(None, []).append(value)
    return [
        Criterion(name, "token", tuple(codes), system=system) for system, codes in by_system.items()
    ]


def searchset(
    resource_type: str,
    base_url: str,
    params: Sequence[tuple[str, str]],
    page: SearchPage,
    count: int,
    offset: int,
) -> dict[str, Any]:
    kept = [(k, v) for k, v in params if k not in ("_count", "_offset", PAGE_PARAM)]
    position = [(k, v) for k, v in params if k == PAGE_PARAM][-1:]

    def link(relation: str, at: list[tuple[str, str]]) -> dict[str, str]:
        query = urlencode([*kept, ("_count", str(count)), *at])
        return {"relation": relation, "url": f"{base_url}/{resource_type}?{query}"}

    links = [link("self", [*position, ("_offset", str(offset))])]
    if page.next is not None:  # never for _count=0: an empty page has no position to follow
        links.append(link("next", [(PAGE_PARAM, encode_position(page.next))]))
    if offset > 0:
        links.append(link("previous", [*position, ("_offset", str(max(offset - count, 0)))]))
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = links
    entries = [
        {
            "fullUrl": f"{base_url}/{resource_type}/{s.resource['id']}",
            "resource": s.resource,
            "search": {"mode": "match"},
        }
        for s in page.resources
    ]
    if page.more_than is not None:
        entries.append(_more_than(page.more_than))
    bundle["entry"] = entries
    return bundle


def _more_than(bound: int) -> dict[str, Any]:
    """Why the Bundle has no total: counting stopped (FHIR R4 http.html#total, estimate)."""
    return {
        "resource": {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "information",
                    "code": "informational",
                    "diagnostics": (
                        f"more than {bound} matches: counting stopped there; "
                        "_total=accurate counts them all"
                    ),
                }
            ],
        },
        "search": {"mode": "outcome"},
    }
