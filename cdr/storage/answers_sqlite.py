"""`$submit` answers on SQLite, written on the sqlite3 driver itself.

Profiled under load, the writer thread spent much of a batch in SQLAlchemy's statement
machinery (parameter processing, executemany wrapping, result rows), holding the GIL the event
loop needs; the driver's own ``execute`` does that work in C. Same tables and the very same
rows (``sqlite_values``), the same decisions (``fhir_batch``) as ``insert_lookup_records``
then ``SqlFhirStore.write``; PostgreSQL keeps the SQLAlchemy path.

It runs on the driver's cursor of the caller's transaction (``in_transaction``), which
retries its conflicts and turns its driver errors into ``StorageError`` exactly as for every
other write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import StatementError

from cdr.storage.fhir_batch import (
    INDEX_VALUE_LENGTH,
    Key,
    StoredVersion,
    plan_writes,
    versions_to_read,
)
from cdr.storage.lookups import LookupRecord
from cdr.storage.sqlite_values import Rule, column_rules, sqlite_datetime
from cdr.storage.tables import lookup_results, lookups
from fhir_server.store import ResourceWrite, StoredResource

__all__ = ["write_answers_sqlite"]

_INSERT_RESOURCE = (
    "INSERT INTO fhir_resources (resource_type, id, version_id, last_updated, content) "
    "VALUES (?, ?, ?, ?, ?)"
)
_UPDATE_RESOURCE = (
    "UPDATE fhir_resources SET version_id = ?, last_updated = ?, content = ? "
    "WHERE resource_type = ? AND id = ?"
)
_DELETE_INDEX = "DELETE FROM fhir_search_index WHERE resource_type = ? AND resource_id = ?"
_INSERT_INDEX = (
    "INSERT INTO fhir_search_index (resource_type, resource_id, param, system, value) "
    "VALUES (?, ?, ?, ?, ?)"
)


def write_answers_sqlite(
    connection: Connection,
    records: Sequence[LookupRecord],
    writes: Sequence[ResourceWrite],
    now: datetime,
) -> list[StoredResource]:
    """The ``AnswerWrite`` of the sqlite3 driver: ``records`` and ``writes`` within the
    caller's transaction, in the order and with the outcome of ``answers.write_answers``."""
    cursor = connection.connection.cursor()  # the driver's, in this same transaction
    try:
        return write_answers_on(cursor, records, writes, now)
    finally:
        cursor.close()


def write_answers_on(
    cursor: DBAPICursor,
    records: Sequence[LookupRecord],
    writes: Sequence[ResourceWrite],
    now: datetime,
) -> list[StoredResource]:
    """``write_answers_sqlite`` on ``cursor``."""
    if records:
        _insert(cursor, lookups, [r.row for r in records])
        results = [result for r in records for result in r.results]
        if results:
            _insert(cursor, lookup_results, results)
    return _write_resources(cursor, writes, now)


def _write_resources(
    cursor: DBAPICursor, writes: Sequence[ResourceWrite], now: datetime
) -> list[StoredResource]:
    to_read = versions_to_read(writes)
    stored: dict[Key, StoredVersion] = {}
    if to_read:
        statement, parameters = _read_versions(to_read)
        _run(cursor, statement, parameters, many=False)
        stored = {
            (resource_type, resource_id): StoredVersion(
                version_id, content, datetime.fromisoformat(last_updated)
            )
            for resource_type, resource_id, version_id, content, last_updated in cursor.fetchall()
        }
    plan = plan_writes(writes, stored, now)
    stamp = sqlite_datetime(now)
    if plan.new:
        rows = [(p.resource_type, p.resource_id, p.version_id, stamp, p.content) for p in plan.new]
        _run(cursor, _INSERT_RESOURCE, rows)
    if plan.changed:
        updates = [
            (p.version_id, stamp, p.content, p.resource_type, p.resource_id) for p in plan.changed
        ]
        _run(cursor, _UPDATE_RESOURCE, updates)
        _run(cursor, _DELETE_INDEX, [(p.resource_type, p.resource_id) for p in plan.changed])
    index = [
        (p.resource_type, p.resource_id, e.param, e.system, e.value[:INDEX_VALUE_LENGTH])
        for p in plan.indexed
        for e in p.index
    ]
    if index:
        _run(cursor, _INSERT_INDEX, index)
    return plan.results


def _read_versions(to_read: dict[str, list[str]]) -> tuple[str, list[str]]:
    """The stored versions of ``to_read`` (ids by type) by primary key: one
    ``type = ? AND id IN (...)`` per type, as ``fhir_store._read_statement`` (SQLite 3.40 runs
    a row-value IN as a scan of the whole table)."""
    terms = " OR ".join(
        f"(resource_type = ? AND id IN ({', '.join('?' * len(ids))}))" for ids in to_read.values()
    )
    statement = (
        "SELECT resource_type, id, version_id, content, last_updated FROM fhir_resources "
        f"WHERE {terms}"
    )
    return statement, [value for t, ids in to_read.items() for value in (t, *ids)]


def _insert(cursor: DBAPICursor, table: Table, rows: list[dict[str, Any]]) -> None:
    """``rows`` into ``table``, their columns those of the first row (as SQLAlchemy's
    executemany takes them), each value stored as SQLAlchemy stores its column's type."""
    statement, columns = _insert_statement(table, tuple(rows[0]))
    try:
        values = [tuple([row[n] if r is None else r(row[n]) for n, r in columns]) for row in rows]
    except (TypeError, ValueError) as exc:  # where SQLAlchemy's bind processors fail alike
        raise StatementError(str(exc), statement, None, exc) from exc
    _run(cursor, statement, values)


@lru_cache(maxsize=8)
def _insert_statement(
    table: Table, names: tuple[str, ...]
) -> tuple[str, tuple[tuple[str, Rule | None], ...]]:
    statement = (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    )
    return statement, tuple(zip(names, column_rules(table, names), strict=True))


def _run(cursor: DBAPICursor, statement: str, parameters: Any, *, many: bool = True) -> None:
    if many:
        cursor.executemany(statement, parameters)
    else:
        cursor.execute(statement, parameters)
