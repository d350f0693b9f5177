"""``LookupStore`` on SQL: every lookup with its per-regime outcome, timings and requester."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from cdr.report_json import rights_to_dict
from cdr.storage.tables import lookup_results, lookups
from rights.errors import StorageError
from rights.result import LookupReport

__all__ = ["SqlLookupStore"]


class SqlLookupStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, report: LookupReport) -> str:
        lookup_id = uuid.uuid4().hex
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
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(lookups), [row])
                if results:
                    connection.execute(insert(lookup_results), results)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot store lookup: {exc}") from exc
        return lookup_id

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
