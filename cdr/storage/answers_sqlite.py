"""`$submit` answers on SQLite, written on the sqlite3 driver itself.

Profiled under load, the writer thread spent much of a batch in SQLAlchemy's statement
machinery (parameter processing, executemany wrapping, result rows), holding the GIL the event
loop needs; the driver's own ``execute`` does that work in C. The very same statements
(``write_statements``, compiled once by ``driver_sql``), the very same rows
(``sqlite_values``) and the same decisions (``fhir_batch``) as ``answers.write_answers``.

It runs on the driver's cursor of the caller's transaction (``in_transaction``), which
retries its conflicts and turns its driver errors into ``StorageError`` exactly as for every
other write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.exc import StatementError

from cdr.storage.audit import HEAD, chained_rows
from cdr.storage.audit_chain import AuditDraft
from cdr.storage.driver_sql import DriverStatement, sqlite_statement
from cdr.storage.fhir_batch import (
    Key,
    StoredVersion,
    plan_writes,
    versions_to_read,
)
from cdr.storage.lookups import LookupRecord
from cdr.storage.packed import pack, unpack
from cdr.storage.sqlite_values import Rule, column_rules, sqlite_datetime
from cdr.storage.tables import audit_chain, audit_events, lookup_results, lookups
from cdr.storage.write_statements import (
    DELETE_INDEX,
    INSERT_HISTORY,
    INSERT_INDEX,
    INSERT_RESOURCE,
    UPDATE_RESOURCE,
    read_versions,
)
from fhir_server.store import ResourceWrite, StoredResource

__all__ = ["write_answers_sqlite"]

_INSERT_RESOURCE = sqlite_statement(
    INSERT_RESOURCE, column_keys=("resource_type", "id", "version_id", "last_updated", "content")
)
_INSERT_HISTORY = sqlite_statement(
    INSERT_HISTORY, column_keys=("resource_type", "id", "version_id", "last_updated", "content")
)
_UPDATE_RESOURCE = sqlite_statement(UPDATE_RESOURCE)
# The audit chain's head: written first (the lock an append takes), read, moved.
_LOCK_HEAD = sqlite_statement(
    update(audit_chain).where(HEAD).values(last_seq=audit_chain.c.last_seq)
)
_READ_HEAD = sqlite_statement(select(audit_chain.c.last_seq, audit_chain.c.last_hash).where(HEAD))
_MOVE_HEAD = sqlite_statement(
    update(audit_chain).where(HEAD), column_keys=("last_seq", "last_hash")
)
_DELETE_INDEX = sqlite_statement(DELETE_INDEX)
_INSERT_INDEX = sqlite_statement(
    INSERT_INDEX, column_keys=("resource_type", "resource_id", "param", "system", "value")
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
        stored = write_answers_on(cursor, records, writes, now)
        append_audit_on(cursor, [r.audit for r in records if r.audit is not None])
        return stored
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


def append_audit_on(cursor: DBAPICursor, drafts: Sequence[AuditDraft]) -> None:
    """``audit.append_audit`` on the driver's cursor: the same statements and rows."""
    if not drafts:
        return
    cursor.execute(_LOCK_HEAD.sql, _LOCK_HEAD.held)
    cursor.execute(_READ_HEAD.sql, _READ_HEAD.held)
    head = cursor.fetchone()
    if head is None:
        raise StatementError("the audit chain has no head row", _READ_HEAD.sql, None, None)
    rows = chained_rows(int(head[0]), str(head[1]), drafts)
    _insert(cursor, audit_events, rows)
    last = rows[-1]
    moved = {"last_seq": last["seq"], "last_hash": last["hash"]}
    cursor.execute(_MOVE_HEAD.sql, _MOVE_HEAD.parameters(moved))


def _write_resources(
    cursor: DBAPICursor, writes: Sequence[ResourceWrite], now: datetime
) -> list[StoredResource]:
    to_read = versions_to_read(writes)
    stored: dict[Key, StoredVersion] = {}
    if to_read:
        cursor.execute(*_read_versions(to_read))
        stored = {
            (resource_type, resource_id): StoredVersion(
                version_id, unpack(content), datetime.fromisoformat(last_updated)
            )
            for resource_type, resource_id, version_id, content, last_updated in cursor.fetchall()
        }
    plan = plan_writes(writes, stored, now)
    stamp = sqlite_datetime(now)
    if plan.new:
        rows = [
            {
                "resource_type": p.resource_type,
                "id": p.resource_id,
                "version_id": p.version_id,
                "last_updated": stamp,
                "content": pack(p.content),
            }
            for p in plan.new
        ]
        cursor.executemany(_INSERT_RESOURCE.sql, _INSERT_RESOURCE.many(rows))
    if plan.changed:
        updates = [
            {
                "key_type": p.resource_type,
                "key_id": p.resource_id,
                "new_version_id": p.version_id,
                "new_last_updated": stamp,
                "new_content": pack(p.content),
            }
            for p in plan.changed
        ]
        cursor.executemany(_UPDATE_RESOURCE.sql, _UPDATE_RESOURCE.many(updates))
        cursor.executemany(_DELETE_INDEX.sql, _DELETE_INDEX.many(plan.replaced_index()))
    history = [
        {
            **row,
            "last_updated": sqlite_datetime(row["last_updated"]),
            "content": pack(row["content"]),
        }
        for row in plan.history_rows()
    ]
    if history:
        cursor.executemany(_INSERT_HISTORY.sql, _INSERT_HISTORY.many(history))
    index = plan.index_rows()
    if index:
        cursor.executemany(_INSERT_INDEX.sql, _INSERT_INDEX.many(index))
    return plan.results


def _read_versions(to_read: dict[str, list[str]]) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of ``write_statements.read_versions`` for ``to_read`` (ids by
    type)."""
    types = tuple(to_read)
    return _read_statement(types).expanded({f"ids_{n}": to_read[t] for n, t in enumerate(types)})


@lru_cache(maxsize=64)
def _read_statement(types: tuple[str, ...]) -> DriverStatement:
    return sqlite_statement(read_versions(types))


def _insert(cursor: DBAPICursor, table: Table, rows: list[dict[str, Any]]) -> None:
    """``rows`` into ``table``, their columns those of the first row (as SQLAlchemy's
    executemany takes them), each value stored as SQLAlchemy stores its column's type."""
    statement, columns = _insert_statement(table, tuple(rows[0]))
    try:
        values = [{n: row[n] if r is None else r(row[n]) for n, r in columns} for row in rows]
    except (TypeError, ValueError) as exc:  # where SQLAlchemy's bind processors fail alike
        raise StatementError(str(exc), statement.sql, None, exc) from exc
    cursor.executemany(statement.sql, values)


@lru_cache(maxsize=8)
def _insert_statement(
    table: Table, names: tuple[str, ...]
) -> tuple[DriverStatement, tuple[tuple[str, Rule | None], ...]]:
    statement = sqlite_statement(insert(table), column_keys=names)
    return statement, tuple(zip(names, column_rules(table, names), strict=True))
