"""Retention (issue 14 item 5): what is older than the retention period is deleted, in batches.

``purge(engine, before)`` deletes the stored lookups, the FHIR answers and the finished HL7
messages older than ``before``; ``purge_batches`` is the same work one transaction at a time,
for a caller that wants the database between two batches (the periodic purge of `cdr serve`
hands each batch to the writer thread on its own). A transaction takes at most ``batch``
lookups, messages or resources (with their results, index rows and history), so the write
lock is never held for long, and finds its rows by an index
(``tests/unit/cdr/storage/test_retention.py`` checks every statement's plan on both
databases). What stays, whatever its age: an HL7 message still pending, a result still to send,
a re-lookup still running, a message whose result or re-lookup stays; the resources the
gateway publishes itself (conformance); and what ``retention_fhir`` says a kept answer needs.
The audit trail has its own, longer period and is not purged here; the ids of used client
assertions expire on their own (``auth_assertion_ids``).

A dry run makes the same decisions on the same conditions, reading instead of deleting: its
counts are what a purge at that moment would delete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    delete,
    func,
    not_,
    or_,
    select,
    union,
)

from cdr.storage.audit_retention import purge_audit_batch
from cdr.storage.inbox import from_db, to_utc
from cdr.storage.index_types import index_type
from cdr.storage.retention_fhir import PURGED_TYPES, still_needed, unindexed
from cdr.storage.tables import (
    fhir_resource_history,
    fhir_resources,
    fhir_search_index,
    hl7_inbox,
    hl7_outbox,
    hl7_relookups,
    lookup_results,
    lookups,
)
from cdr.storage.transactions import in_transaction
from hl7_listener.ports import InboxStatus, OutboxStatus
from hl7_listener.relookup_policy import RelookupStatus

__all__ = ["DEFAULT_BATCH", "PurgeCounts", "purge", "purge_batches"]

# Rows taken per transaction. Measured on SQLite (a laptop-class machine): about 30 ms of
# write lock for 1,000 FHIR answers with their index rows, the largest batch: an HL7 commit
# that finds the lock taken meanwhile is retried, then waits for it (``LocalFirstCommit``).
DEFAULT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """Rows deleted (or, for a dry run, that would be), by table."""

    lookups: int = 0
    lookup_results: int = 0
    fhir_resources: int = 0
    fhir_search_index: int = 0
    fhir_resource_history: int = 0
    hl7_inbox: int = 0
    hl7_outbox: int = 0
    hl7_relookups: int = 0
    audit_events: int = 0  # with their own, longer period (``audit_before``)

    def __add__(self, other: PurgeCounts) -> PurgeCounts:
        return PurgeCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def purge(
    engine: Engine,
    before: datetime,
    *,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    audit_before: datetime | None = None,
) -> PurgeCounts:
    """Everything ``purge_batches`` deletes, deleted; the counts summed."""
    total = PurgeCounts()
    steps = purge_batches(engine, before, batch=batch, dry_run=dry_run, audit_before=audit_before)
    for counts in steps:
        total += counts
    return total


def purge_batches(
    engine: Engine,
    before: datetime,
    *,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    audit_before: datetime | None = None,
) -> Iterator[PurgeCounts]:
    """One committed transaction per item taken (at most ``batch`` lookups, messages or
    resources), yielding its counts. The HL7 tables go children first (re-lookups, outbox, then the
    messages they came from); then the lookups, then the FHIR answers; then, when
    ``audit_before`` is given, the audit trail's events recorded before it (oldest first, the
    chain's anchor moved with them: ``cdr.storage.audit``). Instants must be timezone-aware."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    at = to_utc(before)
    passes: list[_Pass] = [
        _ArrivalOrder(hl7_relookups, "created_at", _FINISHED_RELOOKUPS, "hl7_relookups"),
        _ArrivalOrder(hl7_outbox, "created_at", _FINISHED_OUTBOX, "hl7_outbox"),
        _ArrivalOrder(hl7_inbox, "received_at", _FINISHED_INBOX, "hl7_inbox", _held_messages),
        _LookupPass(),
        *(_FhirPass(resource_type) for resource_type in PURGED_TYPES),
    ]
    for step in passes:
        cursor: Any = None
        while True:
            work = partial(step.run, before=at, cursor=cursor, batch=batch, dry_run=dry_run)
            counts, cursor = in_transaction(engine, work, f"purge {step.name}")
            yield counts
            if cursor is None:
                break
    if audit_before is not None:
        gone = 0
        while True:
            taken = purge_audit_batch(
                engine, to_utc(audit_before), batch=batch, dry_run=dry_run, skip=gone
            )
            gone += taken
            yield PurgeCounts(audit_events=taken)
            if taken < batch:
                break


_Held = Callable[[Connection, list[int], datetime], set[int]]
"""Of a batch's finished old rows, those to keep all the same."""


class _Pass(Protocol):
    """One kind of row: ``run`` takes up to ``batch`` rows after ``cursor`` (None: from the
    start) and returns the counts and the cursor of the next batch (None: none left)."""

    @property
    def name(self) -> str: ...

    def run(
        self, connection: Connection, before: datetime, cursor: Any, *, batch: int, dry_run: bool
    ) -> tuple[PurgeCounts, Any]: ...


# The states in which a row has nothing left to do. A pending message, a result still to be
# sent, a re-lookup still waiting: never deleted, whatever their age.
_FINISHED_INBOX = (InboxStatus.DONE, InboxStatus.IGNORED, InboxStatus.FAILED)
_FINISHED_OUTBOX = (OutboxStatus.DELIVERED, OutboxStatus.DEAD)
_FINISHED_RELOOKUPS = (RelookupStatus.FINAL, RelookupStatus.EXPIRED, RelookupStatus.SUPERSEDED)


def _stays(table: Table, time: str, finished: tuple[str, ...], before: datetime) -> Any:
    """The rows of ``table`` this purge keeps: not finished, or not older than ``before``."""
    return or_(table.c.status.not_in(finished), table.c[time] >= before)


def _held_messages(connection: Connection, ids: list[int], before: datetime) -> set[int]:
    """Of the inbox ``ids``, those an outbox row or a re-lookup that stays still points to: a
    message goes with, never before, what it led to (read through their unique indexes, which
    start with ``inbox_id``)."""
    outbox = select(hl7_outbox.c.inbox_id).where(
        hl7_outbox.c.inbox_id.in_(ids),
        _stays(hl7_outbox, "created_at", _FINISHED_OUTBOX, before),
    )
    relookups = select(hl7_relookups.c.inbox_id).where(
        hl7_relookups.c.inbox_id.in_(ids),
        _stays(hl7_relookups, "created_at", _FINISHED_RELOOKUPS, before),
    )
    return {int(i) for i in connection.execute(union(outbox, relookups)).scalars()}


@dataclass(frozen=True)
class _ArrivalOrder:
    """An HL7 table read in id order, which is the order its rows arrived in (ids are never
    reused: AUTOINCREMENT on SQLite, a sequence on PostgreSQL). The read goes by the primary
    key and stops at the first row newer than ``before``: no index on the time column is
    needed (it would cost every message of the HL7 intake a write more). A row stored a
    moment out of order behind a newer one waits for the next purge."""

    table: Table
    time: str
    finished: tuple[str, ...]
    name: str
    held: _Held | None = None

    def run(
        self, connection: Connection, before: datetime, cursor: Any, *, batch: int, dry_run: bool
    ) -> tuple[PurgeCounts, Any]:
        c = self.table.c
        rows = connection.execute(
            select(c.id, c.status, c[self.time])
            .where(c.id > (cursor or 0))
            .order_by(c.id)
            .limit(batch)
        ).all()
        old = []
        for row in rows:
            if from_db(row[2]) >= before:
                break
            old.append(row)
        reached_end = len(old) < len(rows) or len(rows) < batch
        ids = [int(row.id) for row in old if row.status in self.finished]
        if ids and self.held is not None:
            kept = self.held(connection, ids, before)
            ids = [i for i in ids if i not in kept]
        deleted = len(ids)
        if ids and not dry_run:
            deleted = connection.execute(
                delete(self.table).where(c.id.in_(ids), c.status.in_(self.finished))
            ).rowcount
        counts = PurgeCounts(**{self.name: deleted})
        return counts, None if reached_end or not old else int(old[-1].id)


class _LookupPass:
    """The lookups older than ``before`` (by ``ix_lookups_created_at``), their per-regime
    results first (by ``ix_lookup_results_lookup_id``)."""

    name = "lookups"

    def run(
        self, connection: Connection, before: datetime, cursor: Any, *, batch: int, dry_run: bool
    ) -> tuple[PurgeCounts, Any]:
        c = lookups.c
        where: list[ColumnElement[bool]] = [c.created_at < before]
        if cursor is not None:
            # The first term bounds the index range; the second keeps the ties after it.
            at, last_id = cursor
            where += [
                c.created_at >= at,
                or_(c.created_at > at, and_(c.created_at == at, c.id > last_id)),
            ]
        rows = connection.execute(
            select(c.id, c.created_at).where(*where).order_by(c.created_at, c.id).limit(batch)
        ).all()
        ids = [row.id for row in rows]
        if not ids:
            return PurgeCounts(), None
        results = lookup_results.c
        if dry_run:
            counted = connection.execute(
                select(func.count()).select_from(lookup_results).where(results.lookup_id.in_(ids))
            ).scalar_one()
            counts = PurgeCounts(lookups=len(ids), lookup_results=int(counted))
        else:
            counts = PurgeCounts(
                lookup_results=connection.execute(
                    delete(lookup_results).where(results.lookup_id.in_(ids))
                ).rowcount,
                lookups=connection.execute(
                    delete(lookups).where(c.id.in_(ids), unindexed(c.created_at) < before)
                ).rowcount,
            )
        last = rows[-1]
        return counts, None if len(rows) < batch else (last.created_at, last.id)


_resource = fhir_resources.c


@dataclass(frozen=True)
class _FhirPass:
    """The resources of one type older than ``before``, most recently updated first (the order
    of ``ix_fhir_resources_recent``, read from the cursor's position), those still needed left
    in place and stepped over."""

    resource_type: str

    @property
    def name(self) -> str:
        return f"FHIR {self.resource_type} resources"

    def run(
        self, connection: Connection, before: datetime, cursor: Any, *, batch: int, dry_run: bool
    ) -> tuple[PurgeCounts, Any]:
        where: list[Any] = [
            _resource.resource_type == self.resource_type,
            _resource.last_updated < before,
        ]
        if cursor is not None:
            # The first term bounds the index range; the second keeps the ties after it.
            at, last_id = cursor
            where += [
                _resource.last_updated <= at,
                or_(
                    _resource.last_updated < at,
                    and_(_resource.last_updated == at, _resource.id > last_id),
                ),
            ]
        rows = connection.execute(
            select(_resource.id, _resource.last_updated)
            .where(*where)
            .order_by(_resource.last_updated.desc(), _resource.id)
            .limit(batch)
        ).all()
        if not rows:
            return PurgeCounts(), None
        # Decided again in the statement that deletes: a concurrent answer naming the person,
        # or a change of the resource, since the read above keeps it.
        going: list[Any] = [
            _resource.resource_type == self.resource_type,
            _resource.id.in_([row.id for row in rows]),
            unindexed(_resource.last_updated) < before,
        ]
        needed = still_needed(self.resource_type, before)
        if needed is not None:
            going.append(not_(needed))
        if dry_run:
            ids = list(connection.execute(select(_resource.id).where(*going)).scalars())
        else:
            ids = list(
                connection.execute(
                    delete(fhir_resources).where(*going).returning(_resource.id)
                ).scalars()
            )
        counts = PurgeCounts(
            fhir_resources=len(ids),
            fhir_search_index=self._dependants(connection, ids, dry_run, history=False),
            fhir_resource_history=self._dependants(connection, ids, dry_run, history=True),
        )
        last = rows[-1]
        return counts, None if len(rows) < batch else (last.last_updated, last.id)

    def _dependants(
        self, connection: Connection, ids: list[str], dry_run: bool, *, history: bool
    ) -> int:
        """The index rows (or the history rows) of the resources ``ids``: deleted, or counted."""
        if not ids:
            return 0
        if history:
            table = fhir_resource_history
            where = [table.c.resource_type == self.resource_type, table.c.id.in_(ids)]
        else:
            table = fhir_search_index
            where = [
                table.c.resource_type == index_type(self.resource_type),
                table.c.resource_id.in_(ids),
            ]
        if dry_run:
            count = select(func.count()).select_from(table).where(*where)
            return int(connection.execute(count).scalar_one())
        return int(connection.execute(delete(table).where(*where)).rowcount)
