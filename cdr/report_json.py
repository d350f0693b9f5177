"""The stable JSON form of a lookup report (CLI ``--json`` and the stored per-regime rights)."""

from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime
from typing import Any

from rights.model import RegimeRights
from rights.result import LookupReport, RightsResult

__all__ = ["SCHEMA_VERSION", "report_to_dict", "result_to_dict", "rights_to_dict"]

SCHEMA_VERSION = 1


# What each type of value becomes, decided once per type: the report of every `$submit` is
# stored through here, and a chain of isinstance tests per value was a measurable share of it.
# Exact types, so that a StrEnum (a str) still goes through ``.value``.
_LEAF, _ENUM, _DAY, _RECORD, _SEQUENCE, _SET, _OTHER = range(7)
_KINDS: dict[type, int] = {t: _LEAF for t in (str, int, float, bool, type(None))}
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _kind(cls: type) -> int:
    if issubclass(cls, enum.Enum):
        kind = _ENUM
    elif issubclass(cls, datetime | date):
        kind = _DAY
    elif dataclasses.is_dataclass(cls):
        kind = _RECORD
        # dataclasses.fields() builds its answer on every call: once per class here.
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    elif issubclass(cls, tuple | list):
        kind = _SEQUENCE
    elif issubclass(cls, frozenset | set):
        kind = _SET
    else:
        kind = _OTHER
    _KINDS[cls] = kind
    return kind


def _plain(value: Any) -> Any:
    cls = type(value)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _kind(cls)
    if kind == _LEAF:
        return value
    if kind == _RECORD:
        return {name: _plain(getattr(value, name)) for name in _FIELD_NAMES[cls]}
    if kind == _SEQUENCE:
        return [_plain(v) for v in value]
    if kind == _ENUM:
        return value.value
    if kind == _DAY:
        return value.isoformat()
    if kind == _SET:
        return sorted(_plain(v) for v in value)
    return value


def rights_to_dict(rights: RegimeRights) -> dict[str, Any]:
    out: dict[str, Any] = _plain(rights)
    out["organisation"]["number"] = rights.organisation.number
    for situation, raw in zip(rights.situations, out["situations"], strict=True):
        raw["kind"] = situation.kind.value
        raw["complementary_id"] = situation.complementary_id
    return out


def result_to_dict(result: RightsResult) -> dict[str, Any]:
    evaluation = result.evaluation
    return {
        "regime": result.regime,
        "status": result.status.value,
        "in_force": evaluation.in_force,
        "reason": evaluation.reason.value,
        "c2s_in_force": evaluation.c2s_in_force,
        "ame_in_force": evaluation.ame_in_force,
        "exonerations_in_force": list(evaluation.exonerations_in_force),
        "warnings": [_plain(w) for w in evaluation.warnings],
        "detail": result.detail,
        "elapsed_ms": round(result.elapsed_ms, 3),
        "attempts": result.attempts,
        "from_cache": result.from_cache,
        "rights": rights_to_dict(result.rights) if result.rights is not None else None,
    }


def report_to_dict(report: LookupReport, *, lookup_id: str | None = None) -> dict[str, Any]:
    query = report.query
    return {
        "schema": SCHEMA_VERSION,
        "lookup_id": lookup_id,
        "query": {
            "nir": query.nir.value,
            "nir_kind": query.nir.kind.value,
            "birth_date": query.birth_date,
            "rang": query.rang,
            "date_of_care": query.date_of_care.isoformat(),
            "regime": query.regime,
            "mode": "discovery" if query.is_discovery else "validation",
            "requester": _plain(query.requester),
        },
        "outcome": report.outcome,
        "in_force": report.in_force,
        "started_at": report.started_at.isoformat(),
        "elapsed_ms": round(report.elapsed_ms, 3),
        "warnings": [_plain(w) for w in report.warnings],
        "results": [result_to_dict(r) for r in report.results],
    }
