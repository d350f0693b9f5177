"""What each resource type can be searched by, and the index values a resource yields."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fhir_server.store import IndexEntry
from rights.dates import check_partial_date, utc_instant

__all__ = [
    "SEARCH_PARAMS",
    "SearchParam",
    "index_entries",
    "normalise_instant",
    "normalise_search_instant",
]


@dataclass(frozen=True, slots=True)
class SearchParam:
    name: str
    kind: str  # token | reference | date
    documentation: str


def _params(*items: tuple[str, str, str]) -> dict[str, SearchParam]:
    params = {name: SearchParam(name, kind, doc) for name, kind, doc in items}
    # Every type: when the resource was last written (meta.lastUpdated), searched on the
    # resources' own column, as _id is on their key.
    params["_lastUpdated"] = SearchParam(
        "_lastUpdated", "date", "when the resource was last written (every date prefix)"
    )
    return params


SEARCH_PARAMS: Mapping[str, Mapping[str, SearchParam]] = {
    "CoverageEligibilityResponse": _params(
        ("_id", "token", "logical id"),
        ("request", "reference", "the CoverageEligibilityRequest answered"),
        ("requestor", "reference", "the structure that asked (Organization, by its FINESS)"),
        ("patient", "reference", "the patient"),
        ("created", "date", "creation instant (eq, ne, ge, gt, le, lt, sa, eb)"),
        ("outcome", "token", "queued | complete | error | partial"),
        ("status", "token", "active | cancelled | draft | entered-in-error"),
    ),
    "CoverageEligibilityRequest": _params(
        ("_id", "token", "logical id"),
        ("patient", "reference", "the patient"),
        ("created", "date", "creation instant"),
        ("status", "token", "request status"),
    ),
    "Coverage": _params(
        ("_id", "token", "logical id"),
        ("beneficiary", "reference", "the covered patient"),
        ("patient", "reference", "the covered patient (same as beneficiary)"),
        ("payor", "reference", "the paying organisation (caisse)"),
        ("status", "token", "active | cancelled | draft | entered-in-error"),
        ("identifier", "token", "system|value, e.g. an AT/MP number"),
    ),
    "Patient": _params(
        ("_id", "token", "logical id"),
        ("identifier", "token", "system|value, e.g. urn:oid:1.2.250.1.213.1.4.8|<NIR>"),
        ("birthdate", "date", "date of birth"),
    ),
    "Organization": _params(
        ("_id", "token", "logical id"),
        ("identifier", "token", "system|value, e.g. an organisation number"),
    ),
    "Practitioner": _params(
        ("_id", "token", "logical id"), ("identifier", "token", "system|value")
    ),
    # The audit trail (R4 AuditEvent, IHE BALP): read and searched, never written through the API.
    "AuditEvent": _params(
        ("_id", "token", "logical id"),
        ("date", "date", "when the event was recorded (every date prefix)"),
        (
            "agent",
            "reference",
            "who took part: Device/<client id> (a bare id is a client), Organization/<id> the "
            "structure, Practitioner/<id> the professional",
        ),
        ("patient", "reference", "the patient looked up"),
        ("outcome", "token", "0 success | 4 minor failure (partial, refused) | 8 serious failure"),
        ("type", "token", "110112 query (a lookup) | rest | 110113 security alert | 110114 login"),
        ("subtype", "token", "fhir-submit | hl7-admission | hl7-rqi | cli-lookup | 110126 …"),
    ),
    "CodeSystem": _params(("_id", "token", "logical id"), ("url", "token", "canonical URL")),
    "StructureDefinition": _params(
        ("_id", "token", "logical id"), ("url", "token", "canonical URL")
    ),
}


def normalise_instant(text: str) -> str:
    """A stored FHIR date/dateTime/instant as UTC text that sorts and prefixes correctly, to
    the microsecond (``2026-12-07T09:36:05.537143``, always six digits, so that text order is
    time order and a search at any precision is a prefix); ValueError when it is off the
    calendar or has no UTC time in years 1-9999."""
    if len(text) <= 10:  # a date (YYYY, YYYY-MM or YYYY-MM-DD): no time zone to apply
        return check_partial_date(text)
    return utc_instant(text).strftime("%Y-%m-%dT%H:%M:%S.%f")


def normalise_search_instant(text: str) -> str:
    """A searched date in UTC, at the precision it was written (R4 §3.1.1.5.6: the precision
    of the value is the range it stands for): ``T10:00`` is that minute, ``T10:00:00.5`` that
    tenth of a second, each the prefix of every stored instant inside it."""
    if len(text) <= 10:
        return check_partial_date(text)
    moment = utc_instant(text)
    clock = text.partition("T")[2]
    for zone in ("Z", "+", "-"):
        clock = clock.partition(zone)[0]
    if clock.count(":") == 1:  # hh:mm
        return moment.strftime("%Y-%m-%dT%H:%M")
    fraction = clock.partition(".")[2]
    if not fraction:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[: 20 + min(len(fraction), 6)]


def _reference(value: Any) -> Iterator[str]:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        yield value["reference"]


def _identifiers(resource: Mapping[str, Any]) -> Iterator[IndexEntry]:
    for identifier in resource.get("identifier", []) or []:
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            yield IndexEntry("identifier", identifier["value"], identifier.get("system"))


def index_entries(resource: Mapping[str, Any]) -> list[IndexEntry]:
    """The search index of ``resource`` for the parameters its type supports. ``_id`` has no
    entries: the store searches it on the resources' own key (a row fewer per resource)."""
    kind = resource.get("resourceType")
    entries: list[IndexEntry] = []
    if "status" in resource:
        entries.append(IndexEntry("status", str(resource["status"])))
    if kind in ("CoverageEligibilityResponse", "CoverageEligibilityRequest"):
        entries += [IndexEntry("patient", r) for r in _reference(resource.get("patient"))]
        if isinstance(resource.get("created"), str):
            entries.append(IndexEntry("created", normalise_instant(resource["created"])))
        if kind == "CoverageEligibilityResponse":
            entries += [IndexEntry("request", r) for r in _reference(resource.get("request"))]
            entries += [IndexEntry("requestor", r) for r in _reference(resource.get("requestor"))]
            if "outcome" in resource:
                entries.append(IndexEntry("outcome", str(resource["outcome"])))
    elif kind == "Coverage":
        for ref in _reference(resource.get("beneficiary")):
            entries += [IndexEntry("beneficiary", ref), IndexEntry("patient", ref)]
        for payor in resource.get("payor", []) or []:
            entries += [IndexEntry("payor", r) for r in _reference(payor)]
        entries += list(_identifiers(resource))
    elif kind in ("Patient", "Organization", "Practitioner"):
        entries += list(_identifiers(resource))
        if kind == "Patient" and isinstance(resource.get("birthDate"), str):
            entries.append(IndexEntry("birthdate", resource["birthDate"]))
    elif kind == "AuditEvent":
        entries += list(_audit_entries(resource))
    elif kind in ("CodeSystem", "StructureDefinition") and isinstance(resource.get("url"), str):
        entries.append(IndexEntry("url", resource["url"]))
    return entries


def _audit_entries(event: Mapping[str, Any]) -> Iterator[IndexEntry]:
    """An AuditEvent's search values. The audit trail keeps them in columns of its own rather
    than in the search index; these say what they are (and the store-at-scale bench searches
    by them)."""
    if isinstance(event.get("recorded"), str):
        yield IndexEntry("date", normalise_instant(event["recorded"]))
    if isinstance(event.get("outcome"), str):
        yield IndexEntry("outcome", event["outcome"])
    for name, codings in (("type", [event.get("type")]), ("subtype", event.get("subtype", []))):
        for coding in codings or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                yield IndexEntry(name, coding["code"], coding.get("system"))
    for agent in event.get("agent", []) or []:
        if isinstance(agent, dict):
            yield from (IndexEntry("agent", r) for r in _reference(agent.get("who")))
    for entity in event.get("entity", []) or []:
        if isinstance(entity, dict) and (entity.get("role") or {}).get("code") == "1":
            yield from (IndexEntry("patient", r) for r in _reference(entity.get("what")))
