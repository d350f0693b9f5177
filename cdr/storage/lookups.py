"""``LookupStore`` on SQL: every lookup with its per-regime outcome, timings and requester."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from cdr.ids import time_ordered_id
from cdr.report_json import rights_to_dict
from cdr.storage.audit import append_audit
from cdr.storage.audit_chain import AuditDraft
from cdr.storage.tables import lookup_results, lookups
from cdr.storage.transactions import storage_errors
from rights.caller import Caller
from rights.result import LookupReport

__all__ = [
    "LookupAudit",
    "LookupRecord",
    "SqlLookupStore",
    "insert_lookup_records",
    "lookup_record",
]

LookupAudit = Callable[[LookupReport, Caller, str], AuditDraft]
"""The audit event of a lookup (report, who asked, lookup id): ``cdr.audit.Auditor.lookup``."""


@dataclass(frozen=True, slots=True)
class LookupRecord:
    """The rows of one stored lookup, made before its transaction so that a caller can write
    them with other rows (a `$submit` answer) in one."""

    lookup_id: str
    row: dict[str, Any]
    results: list[dict[str, Any]]
    audit: AuditDraft | None = None


def lookup_record(
    report: LookupReport, caller: Caller | None = None, audit: LookupAudit | None = None
) -> LookupRecord:
    """``audit`` (with ``caller``): the record carries its audit event, appended with it."""
    lookup_id = time_ordered_id()
    query = report.query
    row = {
        "id": lookup_id,
        "created_at": report.started_at,
        "requester_finess": query.requester.finess,
        "requester_rpps": query.requester.rpps,
        "nir": query.nir.value,
        "nir_kind": query.nir.kind.value,
        "birth_date": query.birth_date,
        "rang": query.rang,
        "date_of_care": query.date_of_care,
        "requested_regime": query.regime,
        "mode": "discovery" if query.is_discovery else "validation",
        "outcome": report.outcome,
        "in_force": report.in_force,
        "elapsed_ms": report.elapsed_ms,
        "warnings": [{"code": w.code, "message": w.message} for w in report.warnings],
    }
    results = [
        {
            "lookup_id": lookup_id,
            "regime": r.regime,
            "status": r.status.value,
            "in_force": r.evaluation.in_force,
            "reason": r.evaluation.reason.value,
            "attempts": r.attempts,
            "elapsed_ms": r.elapsed_ms,
            "from_cache": r.from_cache,
            "detail": r.detail,
            "rights": rights_to_dict(r.rights) if r.rights is not None else None,
        }
        for r in report.results
    ]
    made = None if audit is None or caller is None else audit(report, caller, lookup_id)
    return LookupRecord(lookup_id, row, results, made)


def insert_lookup_records(connection: Connection, records: Sequence[LookupRecord]) -> None:
    """Within the caller's transaction: two statements however many lookups, then their
    audit events appended to the chain."""
    if not records:
        return
    connection.execute(insert(lookups), [r.row for r in records])
    results = [result for r in records for result in r.results]
    if results:
        connection.execute(insert(lookup_results), results)
    append_audit(connection, [r.audit for r in records if r.audit is not None])


class SqlLookupStore:
    def __init__(self, engine: Engine, *, audit: LookupAudit | None = None) -> None:
        """``audit``: each lookup's audit event (None: auditing is off)."""
        self._engine = engine
        self.audit = audit

    def save(self, report: LookupReport, caller: Caller) -> str:
        record = lookup_record(report, caller, self.audit)
        with storage_errors("store lookup"), self._engine.begin() as connection:
            insert_lookup_records(connection, [record])
        return record.lookup_id

    def get(self, lookup_id: str) -> dict[str, Any] | None:
        """One stored lookup with its results, as plain values (for audit and tests)."""
        with self._engine.connect() as connection:
            row = connection.execute(select(lookups).where(lookups.c.id == lookup_id)).first()
            if row is None:
                return None
            result_rows = connection.execute(
                select(lookup_results)
                .where(lookup_results.c.lookup_id == lookup_id)
                .order_by(lookup_results.c.id)
            ).all()
        out = dict(row._mapping)
        out["results"] = [dict(r._mapping) for r in result_rows]
        return out

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(lookups)).scalar_one())
