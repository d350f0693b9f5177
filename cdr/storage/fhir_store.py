"""``FhirStore`` on SQL: resources as JSON text, plus a search index table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from cdr.storage.fhir_batch import (
    Key,
    StoredVersion,
    plan_writes,
    versions_to_read,
    with_version,
)
from cdr.storage.fhir_search import bounded_count_statement, count_statement, page_statement
from cdr.storage.query_budget import time_budget
from cdr.storage.tables import fhir_resource_history, fhir_resources
from cdr.storage.transactions import in_transaction, storage_errors
from cdr.storage.write_statements import (
    DELETE_INDEX,
    INSERT_HISTORY,
    INSERT_INDEX,
    INSERT_RESOURCE,
    UPDATE_RESOURCE,
    read_versions,
)
from fhir_server.store import (
    COUNT_BOUND,
    Cancellation,
    Criterion,
    IndexEntry,
    PagePosition,
    ResourceWrite,
    SearchPage,
    StoredResource,
    TotalMode,
)

__all__ = ["SqlFhirStore", "write_resources"]


def _stored(content: str, version_id: int, last_updated: datetime) -> StoredResource:
    """A resource read back from its stored text."""
    return with_version(json.loads(content), version_id, last_updated)


class SqlFhirStore:
    def __init__(self, engine: Engine, *, search_timeout_s: float = 5.0) -> None:
        self._engine = engine
        self._search_timeout_s = search_timeout_s

    def upsert(
        self, resource: dict[str, Any], index: Sequence[IndexEntry], now: datetime
    ) -> StoredResource:
        return self.upsert_many([(resource, index)], now)[0]

    def upsert_many(
        self, items: Sequence[tuple[dict[str, Any], Sequence[IndexEntry]]], now: datetime
    ) -> list[StoredResource]:
        """Several resources in ONE transaction: an answer is stored whole or not at all, and
        one commit costs far less than one per resource."""
        writes = [ResourceWrite(resource, index) for resource, index in items]
        return in_transaction(
            self._engine,
            lambda connection: self.write(connection, writes, now),
            "store FHIR resources",
        )

    def write(
        self, connection: Connection, writes: Sequence[ResourceWrite], now: datetime
    ) -> list[StoredResource]:
        """``writes`` within the caller's transaction (``write_resources``)."""
        return write_resources(connection, writes, now)

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None:
        with storage_errors("read a FHIR resource"), self._engine.connect() as connection:
            row = connection.execute(
                select(
                    fhir_resources.c.content,
                    fhir_resources.c.version_id,
                    fhir_resources.c.last_updated,
                ).where(
                    fhir_resources.c.resource_type == resource_type,
                    fhir_resources.c.id == resource_id,
                )
            ).first()
        return None if row is None else _stored(row.content, row.version_id, row.last_updated)

    def versions(self, resource_type: str, resource_id: str) -> list[StoredResource]:
        """Every version kept of a resource, the newest first: the current one, then those
        its changes replaced (``fhir_resource_history``). Empty when it does not exist."""
        current = self.read(resource_type, resource_id)
        if current is None:
            return []
        h = fhir_resource_history.c
        with storage_errors("read a FHIR resource's history"), self._engine.connect() as connection:
            rows = connection.execute(
                select(h.content, h.version_id, h.last_updated)
                .where(h.resource_type == resource_type, h.id == resource_id)
                .order_by(h.version_id.desc())
            ).all()
        return [current, *(_stored(r.content, r.version_id, r.last_updated) for r in rows)]

    def read_version(
        self, resource_type: str, resource_id: str, version_id: int
    ) -> StoredResource | None:
        """One version (vread): the current one or one kept in the history."""
        current = self.read(resource_type, resource_id)
        if current is None or current.version_id == version_id:
            return current
        h = fhir_resource_history.c
        with storage_errors("read a FHIR resource version"), self._engine.connect() as connection:
            row = connection.execute(
                select(h.content, h.version_id, h.last_updated).where(
                    h.resource_type == resource_type,
                    h.id == resource_id,
                    h.version_id == version_id,
                )
            ).first()
        return None if row is None else _stored(row.content, row.version_id, row.last_updated)

    def search(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        *,
        count: int,
        offset: int = 0,
        after: PagePosition | None = None,
        total: TotalMode = "estimate",
        cancel: Cancellation | None = None,
    ) -> SearchPage:
        parameters = list(dict.fromkeys(c.param for c in criteria))
        position = None if after is None else (after.last_updated, after.resource_id)
        on_index = [c for c in criteria if c.param not in ("_id", "_lastUpdated")]
        with (
            storage_errors("search FHIR resources"),
            self._engine.connect() as connection,
            time_budget(connection, self._search_timeout_s, cancel, parameters) as run,
        ):
            counted: int | None = None
            few = False  # no criterion on the index: read in order (_id: by primary key)
            driver: Criterion | None = None
            if on_index:
                # How to read the page, and the estimate. Each criterion's matches are
                # counted up to the bound on its own index range (never further); the
                # narrowest one, if it has few, drives the page: its ids, the rest checked
                # on them. If every criterion is broad, the matches are counted reading in
                # order up to the bound (a few hundred rows when they are many).
                bounds = [
                    run(bounded_count_statement(resource_type, c, COUNT_BOUND + 1)).scalar_one()
                    for c in on_index
                ]
                narrowest = min(range(len(bounds)), key=bounds.__getitem__)
                if bounds[narrowest] <= COUNT_BOUND:
                    # One criterion: its ids are the matches (the plain intersection of one
                    # search, which PostgreSQL runs faster than the driver's shape).
                    driver = on_index[narrowest] if len(on_index) > 1 else None
                    counted = run(
                        count_statement(
                            resource_type,
                            criteria,
                            plan="driver" if driver is not None else "intersect",
                            driver=driver,
                        )
                    ).scalar_one()
                else:
                    counted = run(
                        count_statement(
                            resource_type, criteria, up_to=COUNT_BOUND + 1, plan="in_order"
                        )
                    ).scalar_one()
                few = counted <= COUNT_BOUND
            # One row more than the page: whether a next page exists, without counting.
            rows = run(
                page_statement(
                    resource_type,
                    criteria,
                    limit=count + 1,
                    offset=offset,
                    after=position,
                    in_order=not few,
                    driver=driver,
                )
            ).all()
            more = len(rows) > count
            rows = rows[:count]
            more_than: int | None = None
            if total == "none":
                counted = None
            elif not more and offset == 0 and after is None:
                counted = len(rows)  # the whole result is on this page
            elif counted is None or counted > COUNT_BOUND:
                up_to = None if total == "accurate" else COUNT_BOUND + 1
                if counted is None or up_to is None:
                    counted = run(
                        count_statement(resource_type, criteria, up_to=up_to)
                    ).scalar_one()
                if up_to is not None and counted > COUNT_BOUND:
                    counted, more_than = None, COUNT_BOUND
        last = rows[-1] if more and rows else None
        return SearchPage(
            resources=[_stored(r.content, r.version_id, r.last_updated) for r in rows],
            total=counted,
            more_than=more_than,
            next=None if last is None else PagePosition(last.last_updated, last.id),
        )


def write_resources(
    connection: Connection, writes: Sequence[ResourceWrite], now: datetime
) -> list[StoredResource]:
    """``writes`` within the caller's transaction. One read for the whole batch (none for
    the writes marked new), then only the writes that change something: a resource whose
    content is unchanged keeps its version and costs no write at all."""
    to_read = versions_to_read(writes)
    stored: dict[Key, StoredVersion] = {}
    if to_read:
        types = tuple(to_read)
        found = connection.execute(
            read_versions(types), {f"ids_{n}": to_read[t] for n, t in enumerate(types)}
        )
        stored = {
            (row.resource_type, row.id): StoredVersion(
                row.version_id, row.content, row.last_updated
            )
            for row in found
        }
    plan = plan_writes(writes, stored, now)
    if plan.new:
        connection.execute(
            INSERT_RESOURCE,
            [
                {
                    "resource_type": p.resource_type,
                    "id": p.resource_id,
                    "version_id": p.version_id,
                    "last_updated": now,
                    "content": p.content,
                }
                for p in plan.new
            ],
        )
    if plan.changed:
        connection.execute(
            UPDATE_RESOURCE,
            [
                {
                    "key_type": p.resource_type,
                    "key_id": p.resource_id,
                    "new_version_id": p.version_id,
                    "new_last_updated": now,
                    "new_content": p.content,
                }
                for p in plan.changed
            ],
        )
        connection.execute(DELETE_INDEX, plan.replaced_index())
    history = plan.history_rows()
    if history:
        connection.execute(INSERT_HISTORY, history)
    rows = plan.index_rows()
    if rows:
        connection.execute(INSERT_INDEX, rows)
    return plan.results
