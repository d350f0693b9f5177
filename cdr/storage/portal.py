"""What the staff portal keeps: the terms of use accepted (per user and version) and, read
back from the lookups table, a professional's recent lookups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from cdr.storage.inbox import from_db, to_utc
from cdr.storage.tables import lookup_results, lookups, portal_terms_acceptances
from cdr.storage.transactions import storage_errors
from cdr.stored_report import report_from_rows
from fhir_server.portal.ports import RecentLookup
from rights.result import LookupReport

__all__ = ["SqlRecentLookups", "SqlStoredReports", "SqlTermsAcceptances"]


class SqlTermsAcceptances:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def has_accepted(self, user_id: str, version: str) -> bool:
        table = portal_terms_acceptances
        with storage_errors("read the terms accepted"), self._engine.connect() as connection:
            row = connection.execute(
                select(table.c.user_id).where(
                    table.c.user_id == user_id, table.c.terms_version == version
                )
            ).first()
        return row is not None

    def accept(self, user_id: str, version: str, at: datetime) -> None:
        with storage_errors("store the terms accepted"):
            try:
                with self._engine.begin() as connection:
                    connection.execute(
                        insert(portal_terms_acceptances).values(
                            user_id=user_id, terms_version=version, accepted_at=to_utc(at)
                        )
                    )
            except IntegrityError:
                return  # accepted twice (two tabs): the first time stands


class SqlRecentLookups:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def recent(self, rpps: str, limit: int) -> list[RecentLookup]:
        if not rpps:
            return []
        query = (
            select(
                lookups.c.id,
                lookups.c.created_at,
                lookups.c.nir,
                lookups.c.requested_regime,
                lookups.c.in_force,
                lookups.c.outcome,
            )
            .where(lookups.c.requester_rpps == rpps)
            .order_by(lookups.c.created_at.desc())
            .limit(limit)
        )
        with storage_errors("read the recent lookups"), self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            RecentLookup(
                lookup_id=row.id,
                created_at=from_db(row.created_at),
                # As in the logs: sex, birth year and month only.
                nir_masked=row.nir[:5] + "*" * 10,
                regime=row.requested_regime,
                in_force=bool(row.in_force),
                outcome=row.outcome,
            )
            for row in rows
        ]


class SqlStoredReports:
    """A professional's stored lookup as its report (for the result page and the attestation
    on any worker process, or after a restart)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def report(self, lookup_id: str, rpps: str) -> tuple[LookupReport, datetime] | None:
        if not rpps:
            return None
        with storage_errors("read a stored lookup"), self._engine.connect() as connection:
            row = connection.execute(
                select(lookups).where(lookups.c.id == lookup_id, lookups.c.requester_rpps == rpps)
            ).first()
            if row is None:
                return None
            results = connection.execute(
                select(lookup_results)
                .where(lookup_results.c.lookup_id == lookup_id)
                .order_by(lookup_results.c.id)
            ).all()
        created = from_db(row.created_at)
        report = report_from_rows(dict(row._mapping), [dict(r._mapping) for r in results], created)
        return report, created
