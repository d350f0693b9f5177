"""Turning search query parameters into store criteria, and results into a searchset Bundle."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fhir_server.errors import FhirRequestError
from fhir_server.paging import PAGE_PARAM, encode_position
from fhir_server.search_params import SEARCH_PARAMS, normalise_search_instant
from fhir_server.store import Criterion, SearchPage

__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "SearchRequest",
    "parse_search",
    "read_search",
    "searchset",
]

DEFAULT_COUNT = 20
MAX_COUNT = 100
# What _count and _offset may be written as: far inside the 64-bit integers of SQLite and
# PostgreSQL (an _offset past paging._LARGEST is then refused as too costly).
_LARGEST = 1_000_000_000
_WHOLE = re.compile(r"[0-9]{1,12}")
# No identifier, reference, code or date holds one; PostgreSQL refuses NUL in any text.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL = {"_count", "_offset", "_format", "_total", PAGE_PARAM}
# The control parameters the links repeat (_count and the position are written by searchset).
_LINKED_CONTROL = {"_format", "_total", PAGE_PARAM}
# Result parameters whose silent omission would change what the client receives in a way it
# cannot see from the Bundle: refused under lenient handling too.
_ALWAYS_REFUSED = {"_include", "_revinclude", "_contained", "_containedType"}
_DATE = re.compile(
    r"(eq|ne|ge|gt|le|lt|sa|eb|ap)?(\d{4}(-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?)?)"
)
_REFERENCE_TARGETS = {
    "request": "CoverageEligibilityRequest",
    "payor": "Organization",
    "agent": "Device",  # AuditEvent: a bare id names a client
}
# The code systems bound to the code elements searched as tokens (R4 fm-status and
# remittance-outcome value sets): `status=<system>|active` is `status=active`.
_IMPLICIT_SYSTEMS = {
    "status": "http://hl7.org/fhir/fm-status",
    "outcome": "http://hl7.org/fhir/remittance-outcome",
}
_IMPLICIT_SYSTEMS_OF_TYPE = {("AuditEvent", "outcome"): "http://hl7.org/fhir/audit-event-outcome"}


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


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A search as the server understood it: its criteria, page, the parameters it used (the
    ``self`` link repeats those only) and the names it ignored (lenient handling)."""

    criteria: list[Criterion]
    count: int
    offset: int
    used: list[tuple[str, str]]
    ignored: list[str] = field(default_factory=list)


def read_search(
    resource_type: str,
    params: Sequence[tuple[str, str]],
    *,
    strict: bool,
    base_url: str = "",
) -> SearchRequest:
    """A search request read as FHIR R4 §3.1.1 says: a parameter we do not support, or one
    with no value, is ignored (and left out of the ``self`` link) unless the client asked for
    ``Prefer: handling=strict``, which makes it a 400. A modifier we do not support is always
    a 400: ignoring it would widen the result without the client knowing."""
    supported = SEARCH_PARAMS[resource_type]
    criteria: list[Criterion] = []
    used: list[tuple[str, str]] = []
    ignored: list[str] = []
    for name, raw in params:
        if name in _CONTROL:
            if name in _LINKED_CONTROL:
                used.append((name, raw))
            continue
        base, _, modifier = name.partition(":")
        param = supported.get(base)
        if param is None:
            if strict or name in _ALWAYS_REFUSED:
                raise _bad(
                    f"search parameter {name!r} is not supported on {resource_type}; "
                    f"supported: {', '.join(supported)}, _count, _offset, _total",
                    name,
                )
            ignored.append(name)
            continue
        if modifier and not _known_modifier(param.kind, base, modifier):
            raise _bad(f"modifier :{modifier} of {base!r} is not supported", name)
        values = [v for v in raw.split(",") if v]
        if not values:
            if strict:
                raise _bad(f"search parameter {name!r} has no value", name)
            ignored.append(name)
            continue
        if _CONTROL_CHARACTERS.search(raw) is not None:
            raise _bad(f"search parameter {name!r} holds a control character", name)
        criteria += _criteria(resource_type, param.name, param.kind, values, base_url)
        used.append((name, raw))
    count = min(_int(params, "_count", DEFAULT_COUNT, _LARGEST), MAX_COUNT)
    offset = _int(params, "_offset", 0, _LARGEST)
    return SearchRequest(criteria, count, offset, used, ignored)


def parse_search(
    resource_type: str, params: Sequence[tuple[str, str]]
) -> tuple[list[Criterion], int, int]:
    """Criteria, count and offset, read strictly: 400 naming any parameter we do not use."""
    request = read_search(resource_type, params, strict=True)
    return request.criteria, request.count, request.offset


def _known_modifier(kind: str, name: str, modifier: str) -> bool:
    # A reference parameter may name its target type (patient:Patient), the only one it has.
    return kind == "reference" and modifier == _REFERENCE_TARGETS.get(name, "Patient")


def _reference_values(name: str, values: list[str], base_url: str) -> tuple[str, ...]:
    """``Type/id`` for each value: a bare id gets the parameter's type, and an absolute URL
    of this server (or a version-specific reference) is read as the reference it stands for."""
    target = _REFERENCE_TARGETS.get(name, "Patient")
    prefix = base_url.rstrip("/") + "/" if base_url else None
    refs = []
    for value in values:
        if prefix is not None and value.startswith(prefix):
            value = value[len(prefix) :]
        value = value.split("/_history/")[0]
        refs.append(value if "/" in value else f"{target}/{value}")
    return tuple(refs)


def _criteria(
    resource_type: str, name: str, kind: str, values: list[str], base_url: str
) -> list[Criterion]:
    if kind == "reference":
        return [Criterion(name, "reference", _reference_values(name, values, base_url))]
    if kind == "date":
        out = []
        for value in values:
            match = _DATE.fullmatch(value)
            prefix = (match.group(1) if match else None) or "eq"
            if prefix == "ap":
                raise _bad(
                    f"{name}: the prefix ap (approximately) is not supported; use ge and le",
                    name,
                )
            try:
                if match is None:
                    raise ValueError(value)
                instant = normalise_search_instant(match.group(2))
            except ValueError:  # the pattern lets through times such as T25:00 or T::
                raise _bad(
                    f"{name}: {value!r} is not a FHIR date with an optional prefix", name
                ) from None
            out.append(Criterion(name, "date", (instant,), prefix=prefix))
        return out
    implicit = _IMPLICIT_SYSTEMS_OF_TYPE.get((resource_type, name), _IMPLICIT_SYSTEMS.get(name))
    by_system: dict[str | None, list[str]] = {}
    for value in values:
        if "|" in value:
            system, _, code = value.partition("|")
            # A code element's values have an implicit system (R4 §3.1.1.4.10): naming it is
            # the same as naming none.
            by_system.setdefault(None if system == implicit else system, []).append(code)
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
    ignored: Sequence[str] = (),
) -> dict[str, Any]:
    kept = [(k, v) for k, v in params if k not in ("_count", "_offset", PAGE_PARAM)]
    # ``params`` are the parameters the search used (``SearchRequest.used``).
    position = [(k, v) for k, v in params if k == PAGE_PARAM][-1:]

    # A whole-system search (``resource_type`` ""): its links are on the base itself.
    searched = f"{base_url}/{resource_type}" if resource_type else base_url

    def link(relation: str, at: list[tuple[str, str]]) -> dict[str, str]:
        query = urlencode([*kept, ("_count", str(count)), *at])
        return {"relation": relation, "url": f"{searched}?{query}"}

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
            "fullUrl": f"{base_url}/{s.resource['resourceType']}/{s.resource['id']}",
            "resource": s.resource,
            "search": {"mode": "match"},
        }
        for s in page.resources
    ]
    issues = []
    if page.more_than is not None:
        # Why the Bundle has no total: counting stopped (FHIR R4 http.html#total, estimate).
        issues.append(
            _issue(
                "information",
                "informational",
                f"more than {page.more_than} matches: counting stopped there; "
                "_total=accurate counts them all",
            )
        )
    if ignored:
        issues.append(
            _issue(
                "warning",
                "not-supported",
                f"ignored: {', '.join(ignored)} (not supported here, or no value); "
                "Prefer: handling=strict refuses them instead",
            )
        )
    if issues:
        entries.append(
            {
                "resource": {"resourceType": "OperationOutcome", "issue": issues},
                "search": {"mode": "outcome"},
            }
        )
    bundle["entry"] = entries
    return bundle


def _issue(severity: str, code: str, diagnostics: str) -> dict[str, str]:
    return {"severity": severity, "code": code, "diagnostics": diagnostics}
