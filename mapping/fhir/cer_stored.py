"""The CoverageEligibilityRequest as the gateway stores it: every reference it makes resolves.

ITI-124 persists the request; a generic client then reads it and follows its references. The
request as received may point at resources that will not exist here: a Bundle's entries
(``urn:uuid:…`` or ``Type/id`` of the sender), or a contained Patient that the stored request no
longer references once ``patient`` points at the Patient we keep (dom-3: a contained resource
must be referenced). So the stored request contains what it references from the Bundle, under
``#id`` references, and keeps only the contained resources something still references. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["reference_texts", "request_to_store"]


def reference_texts(value: Any) -> Iterator[str]:
    """Every ``Reference.reference`` text inside ``value`` (outside ``contained``)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            elif key != "contained":
                yield from reference_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from reference_texts(item)


def _rewrite(value: Any, change: Callable[[str], str | None]) -> Any:
    """``value`` with each reference text that ``change`` maps to a new one replaced; the
    same object where nothing changes, so containers are copied only along changed paths
    (the received request is otherwise shared, not copied)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] | None = None
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                new = change(item) or item
            elif key == "contained":
                new = item
            else:
                new = _rewrite(item, change)
            if new is not item:
                out = dict(value) if out is None else out
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        items = [_rewrite(item, change) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def request_to_store(
    cer: Mapping[str, Any],
    *,
    request_id: str,
    patient_reference: str,
    referenced: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The request to persist under ``request_id``, its ``patient`` at ``patient_reference``,
    the resources of ``referenced`` (by the reference text that found them) contained."""
    stored = dict(cer)
    stored["id"] = request_id
    stored.pop("meta", None)
    stored["patient"] = {"reference": patient_reference}
    contained = [c for c in cer.get("contained", []) or [] if isinstance(c, Mapping)]
    taken = {str(c.get("id")) for c in contained}
    # Reference text -> what it becomes: the person asked for is the Patient we keep, wherever
    # the request or what it sent points at them; the other resources sent are contained.
    local: dict[str, str] = {}
    became: dict[int, str] = {}  # the same, by the identity of each resource sent
    asked = cer.get("patient")
    asked_text = asked.get("reference") if isinstance(asked, Mapping) else None
    if isinstance(asked_text, str):
        local[asked_text] = patient_reference
        if asked_text in referenced:
            became[id(referenced[asked_text])] = patient_reference
    added: list[dict[str, Any]] = []
    for target, resource in referenced.items():
        if target in local:
            continue
        if id(resource) in became:  # one resource reached by two texts: contained once
            local[target] = became[id(resource)]
            continue
        rid = _free_id(str(resource.get("resourceType", "r")).lower(), taken)
        taken.add(rid)
        added.append({**resource, "id": rid})
        local[target] = became[id(resource)] = f"#{rid}"
    body = _rewrite({k: v for k, v in stored.items() if k != "contained"}, local.get)
    inner = [_rewrite(resource, local.get) for resource in (*contained, *added)]
    kept = _still_referenced(inner, body)
    if kept:
        body = {**body, "contained": kept}
    return _ordered(body)


def _free_id(stem: str, taken: set[str]) -> str:
    n = 1
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


def _still_referenced(
    contained: list[Mapping[str, Any]], body: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The contained resources referenced from the body, or from one so referenced."""
    wanted = {t[1:] for t in reference_texts(body) if t.startswith("#")}
    kept: dict[str, Mapping[str, Any]] = {}
    while True:
        grew = False
        for resource in contained:
            rid = str(resource.get("id"))
            if rid in wanted and rid not in kept:
                kept[rid] = resource
                wanted |= {t[1:] for t in reference_texts(resource) if t.startswith("#")}
                grew = True
        if not grew:
            break
    return [dict(r) for r in contained if str(r.get("id")) in kept]


def _ordered(body: Mapping[str, Any]) -> dict[str, Any]:
    # resourceType and id first, contained after them: the order FHIR writes a resource in,
    # kept so that the stored JSON reads like the received one.
    head = ("resourceType", "id", "contained")
    out = {k: body[k] for k in head if k in body}
    out.update({k: v for k, v in body.items() if k not in head})
    return out
