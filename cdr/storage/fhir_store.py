"""``FhirStore`` on SQL: resources as JSON text, plus a search index table."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from cdr.storage.tables import fhir_resources, fhir_search_index
from cdr.storage.transactions import in_transaction
from fhir_server import json_text
from fhir_server.store import Criterion, IndexEntry, ResourceWrite, StoredResource
from rights.errors import StorageError

__all__ = ["SqlFhirStore"]


def _content_without_meta(resource: dict[str, Any]) -> str:
    body = {k: v for k, v in resource.items() if k != "meta"}
    meta = {
        k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")
    }
    if meta:
        body["meta"] = meta
    return json_text.dumps(body, sort_keys=True).decode()


def _stored(content: str, version_id: int, last_updated: datetime) -> StoredResource:
    """A resource read back from its stored text."""
    return _with_version(json.loads(content), version_id, last_updated)


def _written(resource: dict[str, Any], version_id: int, last_updated: datetime) -> StoredResource:
    """A resource just written (or found unchanged): the caller's dict is its content, so it
    is not parsed back from the text (that parse was the largest single cost of a `$submit`
    under load). A copy at the top level only: nested values are shared with the caller."""
    return _with_version(dict(resource), version_id, last_updated)


def _with_version(
    resource: dict[str, Any], version_id: int, last_updated: datetime
) -> StoredResource:
    if last_updated.tzinfo is None:  # SQLite hands back naive datetimes: they were stored in UTC
        last_updated = last_updated.replace(tzinfo=UTC)
    meta = {
        k: v for k, v in resource.get("meta", {}).items() if k not in ("versionId", "lastUpdated")
    }
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
        """``writes`` within the caller's transaction. One read for the whole batch (none for
        the writes marked new), then only the writes that change something: a resource whose
        content is unchanged keeps its version and costs no write at all."""
        wanted = [
            (w.resource["resourceType"], w.resource["id"], _content_without_meta(w.resource), w)
            for w in writes
        ]
        current: dict[tuple[str, str], _Version] = {}
        to_read: dict[str, dict[str, None]] = {}  # ids by type, each once, in order
        for resource_type, resource_id, _, write in wanted:
            if not write.new:
                to_read.setdefault(resource_type, {})[resource_id] = None
        if to_read:
            types = tuple(to_read)
            found = connection.execute(
                _read_statement(types),
                {f"ids_{n}": list(to_read[t]) for n, t in enumerate(types)},
            )
            current = {
                (row.resource_type, row.id): _Version(row.version_id, row.content, row.last_updated)
                for row in found
            }
        new: dict[tuple[str, str], dict[str, Any]] = {}
        changed: dict[tuple[str, str], dict[str, Any]] = {}
        index_rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        results: list[StoredResource] = []
        for resource_type, resource_id, content, write in wanted:
            key = (resource_type, resource_id)
            known = current.get(key)
            if known is not None and known.content == content:
                results.append(_written(write.resource, known.version_id, known.last_updated))
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
                for e in write.index
            ]
            results.append(_written(write.resource, values["version_id"], now))
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
                    _keys_in(
                        fhir_search_index.c.resource_type,
                        fhir_search_index.c.resource_id,
                        list(changed),
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


@lru_cache(maxsize=64)
def _read_statement(types: tuple[str, ...]) -> Select[Any]:
    """The versions of resources of ``types``, their ids bound as ``ids_<n>`` per type. One
    statement per tuple of types, reused: building it took longer than running it."""
    return select(
        fhir_resources.c.resource_type,
        fhir_resources.c.id,
        fhir_resources.c.version_id,
        fhir_resources.c.content,
        fhir_resources.c.last_updated,
    ).where(
        or_(
            *(
                and_(
                    fhir_resources.c.resource_type == resource_type,
                    fhir_resources.c.id.in_(bindparam(f"ids_{n}", expanding=True)),
                )
                for n, resource_type in enumerate(types)
            )
        )
    )


def _keys_in(
    type_column: ColumnElement[str], id_column: ColumnElement[str], keys: list[tuple[str, str]]
) -> ColumnElement[bool]:
    """``(type, id) IN (...)`` written as one ``type = ? AND id IN (...)`` per type: SQLite
    (3.40) runs a row-value IN as a scan of the whole table, these terms as index searches.
    (``_read_statement`` is the same, with the ids bound.)"""
    by_type: dict[str, list[str]] = {}
    for resource_type, resource_id in keys:
        by_type.setdefault(resource_type, []).append(resource_id)
    return or_(*(and_(type_column == t, id_column.in_(ids)) for t, ids in by_type.items()))


def _matches(resource_type: str, criterion: Criterion) -> ColumnElement[bool]:
    if criterion.param == "_id":
        return _id_matches(criterion)
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


def _id_matches(criterion: Criterion) -> ColumnElement[bool]:
    """``_id`` on the resources' key. A logical id has no system: ``_id=|x`` is ``x``, an
    ``_id`` with any other system matches nothing, and ``_id=|`` matches every id."""
    if criterion.system:
        return false()
    if criterion.system == "" and "" in criterion.values:
        return true()
    return fhir_resources.c.id.in_(criterion.values)
