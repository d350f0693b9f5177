"""``FhirStore`` on SQL: resources as JSON text, plus a search index table."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from cdr.storage.tables import fhir_resources, fhir_search_index
from fhir_server.store import Criterion, IndexEntry, StoredResource
from rights.errors import StorageError

__all__ = ["SqlFhirStore"]


def _content_without_meta(resource: dict[str, Any]) -> str:
    body = {k: v for k, v in resource.items() if k != "meta"}
    meta = {
        k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")
    }
    if meta:
        body["meta"] = meta
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _stored(content: str, version_id: int, last_updated: datetime) -> StoredResource:
    if last_updated.tzinfo is None:  # SQLite hands back naive datetimes: they were stored in UTC
        last_updated = last_updated.replace(tzinfo=UTC)
    resource = json.loads(content)
    meta = dict(resource.get("meta", {}))
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = last_updated.isoformat().replace("+00:00", "Z")
    resource["meta"] = meta
    return StoredResource(resource, version_id, last_updated)


@contextmanager
def _storage_errors(doing: str) -> Iterator[None]:
    """The one place driver errors become ``StorageError`` (503 at the FHIR edge, not 500)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot {doing}: {exc}") from exc


_WRITE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class _Version:
    version_id: int
    content: str
    last_updated: datetime


class SqlFhirStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upsert(
        self, resource: dict[str, Any], index: Sequence[IndexEntry], now: datetime
    ) -> StoredResource:
        return self.upsert_many([(resource, index)], now)[0]

    def upsert_many(
        self, items: Sequence[tuple[dict[str, Any], Sequence[IndexEntry]]], now: datetime
    ) -> list[StoredResource]:
        """Several resources in ONE transaction: an answer is stored whole or not at all, and
        one commit costs far less than one per resource.

        Another process (`cdr serve --workers N`, or a second gateway on PostgreSQL) may store
        the same new resource between our read and our insert: a duplicate key (PostgreSQL) or
        a stale snapshot (SQLite WAL). The transaction is then run again from its reads, which
        now see the other writer's row, a bounded number of times.
        """
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with self._engine.begin() as connection:
                    return self._write_batch(connection, items, now)
            except (IntegrityError, OperationalError) as exc:
                if attempt + 1 == _WRITE_ATTEMPTS:
                    raise StorageError(f"cannot store FHIR resources: {exc}") from exc
            except SQLAlchemyError as exc:
                raise StorageError(f"cannot store FHIR resources: {exc}") from exc
        raise AssertionError("unreachable")  # the loop returns or raises

    def _write_batch(
        self,
        connection: Connection,
        items: Sequence[tuple[dict[str, Any], Sequence[IndexEntry]]],
        now: datetime,
    ) -> list[StoredResource]:
        """One read for the whole batch, then only the writes that change something: a
        resource whose content is unchanged keeps its version and costs no write at all."""
        wanted = [
            (r["resourceType"], r["id"], _content_without_meta(r), index) for r, index in items
        ]
        key_columns = tuple_(fhir_resources.c.resource_type, fhir_resources.c.id)
        current: dict[tuple[str, str], _Version] = {
            (row.resource_type, row.id): _Version(row.version_id, row.content, row.last_updated)
            for row in connection.execute(
                select(
                    fhir_resources.c.resource_type,
                    fhir_resources.c.id,
                    fhir_resources.c.version_id,
                    fhir_resources.c.content,
                    fhir_resources.c.last_updated,
                ).where(key_columns.in_([(t, i) for t, i, _, _ in wanted]))
            )
        }
        new: dict[tuple[str, str], dict[str, Any]] = {}
        changed: dict[tuple[str, str], dict[str, Any]] = {}
        index_rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        results: list[StoredResource] = []
        for resource_type, resource_id, content, index in wanted:
            key = (resource_type, resource_id)
            known = current.get(key)
            if known is not None and known.content == content:
                results.append(_stored(content, known.version_id, known.last_updated))
                continue
            values = {
                "resource_type": resource_type,
                "id": resource_id,
                "version_id": 1 if known is None else known.version_id + 1,
                "last_updated": now,
                "content": content,
            }
            # The same resource twice in a batch: the later one wins, as two upserts would.
            (changed if key in changed or (known is not None and key not in new) else new)[key] = (
                values
            )
            current[key] = _Version(values["version_id"], content, now)
            index_rows[key] = [
                {
                    "resource_type": resource_type,
                    "resource_id": resource_id,
                    "param": e.param,
                    "system": e.system,
                    "value": e.value[:255],
                }
                for e in index
            ]
            results.append(_stored(content, values["version_id"], now))
        if new:
            self._insert_new(connection, list(new.values()))
        for values in changed.values():
            connection.execute(
                update(fhir_resources)
                .where(
                    fhir_resources.c.resource_type == values["resource_type"],
                    fhir_resources.c.id == values["id"],
                )
                .values(
                    version_id=values["version_id"],
                    last_updated=now,
                    content=values["content"],
                )
            )
        if changed:
            connection.execute(
                delete(fhir_search_index).where(
                    tuple_(fhir_search_index.c.resource_type, fhir_search_index.c.resource_id).in_(
                        list(changed)
                    )
                )
            )
        rows = [row for key_rows in index_rows.values() for row in key_rows]
        if rows:
            connection.execute(insert(fhir_search_index), rows)
        return results

    def _insert_new(self, connection: Connection, rows: list[dict[str, Any]]) -> None:
        connection.execute(insert(fhir_resources), rows)

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None:
        with _storage_errors("read a FHIR resource"), self._engine.connect() as connection:
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

    def search(
        self, resource_type: str, criteria: Sequence[Criterion], *, count: int, offset: int
    ) -> tuple[int, list[StoredResource]]:
        where = [fhir_resources.c.resource_type == resource_type]
        where += [_matches(resource_type, c) for c in criteria]
        with _storage_errors("search FHIR resources"), self._engine.connect() as connection:
            total = connection.execute(
                select(func.count()).select_from(fhir_resources).where(*where)
            ).scalar_one()
            rows = connection.execute(
                select(
                    fhir_resources.c.content,
                    fhir_resources.c.version_id,
                    fhir_resources.c.last_updated,
                )
                .where(*where)
                .order_by(fhir_resources.c.last_updated.desc(), fhir_resources.c.id)
                .limit(count)
                .offset(offset)
            ).all()
        return int(total), [_stored(r.content, r.version_id, r.last_updated) for r in rows]


def _matches(resource_type: str, criterion: Criterion) -> ColumnElement[bool]:
    idx = fhir_search_index.c
    alternatives: list[ColumnElement[bool]] = []
    for value in criterion.values:
        if criterion.kind == "date":
            op = {
                "eq": idx.value.startswith(value, autoescape=True),
                "ge": idx.value >= value,
                # A value at coarser precision is a range (2024-01-01 is the whole day): gt
                # excludes it, le includes it.
                "gt": and_(idx.value > value, ~idx.value.startswith(value, autoescape=True)),
                "le": or_(idx.value <= value, idx.value.startswith(value, autoescape=True)),
                "lt": idx.value < value,
            }[criterion.prefix]
            alternatives.append(op)
        elif criterion.kind == "token" and criterion.system is not None:
            system_match = (
                idx.system.is_(None) if criterion.system == "" else idx.system == criterion.system
            )
            alternatives.append(and_(system_match, idx.value == value) if value else system_match)
        else:
            alternatives.append(idx.value == value)
    return exists().where(
        idx.resource_type == resource_type,
        idx.resource_id == fhir_resources.c.id,
        idx.param == criterion.param,
        or_(*alternatives),
    )
