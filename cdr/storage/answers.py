"""``AnswerStore`` on SQL: a `$submit` answer — its FHIR resources and the lookup record behind
it — in one transaction, and the answers of concurrent requests committed together.

Measured under load (BENCHMARKS.md): one commit and one set of statements for many requests
instead of two transactions per request. How the rows reach the database is the store's
``write`` (``AnswerWrite``): ``write_answers`` here, through SQLAlchemy, or the sqlite3
driver's ``answers_sqlite.write_answers_sqlite``; the composition root chooses
(``cdr.storage.strategy``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine

from cdr.storage.fhir_store import write_resources
from cdr.storage.lookups import LookupAudit, LookupRecord, insert_lookup_records, lookup_record
from cdr.storage.transactions import in_transaction
from cdr.storage.writer import GroupCommit, LocalFirstCommit, on_loop
from fhir_server.store import ResourceWrite, StoredResource
from rights.caller import Caller
from rights.result import LookupReport

__all__ = ["AnswerWrite", "SqlAnswerStore", "write_answers"]

AnswerWrite = Callable[
    [Connection, Sequence[LookupRecord], Sequence[ResourceWrite], datetime], list[StoredResource]
]
"""Writes lookup records then resources within the caller's transaction; returns one stored
resource per write, in order."""


def write_answers(
    connection: Connection,
    records: Sequence[LookupRecord],
    writes: Sequence[ResourceWrite],
    now: datetime,
) -> list[StoredResource]:
    """The ``AnswerWrite`` of SQLAlchemy's statements (any database)."""
    insert_lookup_records(connection, records)
    return write_resources(connection, writes, now)


@dataclass(frozen=True, slots=True)
class _Answer:
    writes: Sequence[ResourceWrite]
    record: LookupRecord | None


_GATHER_PASSES = 2


class SqlAnswerStore:
    def __init__(
        self,
        engine: Engine,
        *,
        now: Callable[[], datetime],
        run: Callable[..., Awaitable[Any]],
        write: AnswerWrite = write_answers,
        quick_engine: Engine | None = None,
        audit: LookupAudit | None = None,
    ) -> None:
        """``write``: how a batch's rows are written (the composition root's choice).
        ``run`` hands a batch to the writer thread. ``quick_engine`` (SQLite: an engine on
        the same file that never waits for the write lock, ``Database.no_wait_engine``): a
        batch is written on the event loop itself, and goes to the writer thread only when
        another process keeps the lock through a few short retries (``LocalFirstCommit``).
        Measured under `$submit` load (BENCHMARKS.md): the GIL changing hands at every
        driver call of the writer thread cost more CPU than the commit itself. ``audit``:
        each lookup's audit event, appended with its record (None: auditing is off)."""
        self._now = now
        self._audit = audit
        self._write_rows = write
        # Two loop passes gathered before each commit: measured under load, batches of about 10
        # answers became larger ones, and each answer cost ~10 % less CPU (BENCHMARKS.md).
        self._commits: LocalFirstCommit[_Answer, list[StoredResource]] = LocalFirstCommit(
            None
            if quick_engine is None
            else GroupCommit(
                partial(self._write, quick_engine), on_loop, gather_passes=_GATHER_PASSES
            ),
            GroupCommit(partial(self._write, engine), run, gather_passes=_GATHER_PASSES),
        )

    async def save(
        self,
        writes: Sequence[ResourceWrite],
        report: LookupReport | None,
        caller: Caller | None = None,
    ) -> list[StoredResource]:
        record = None if report is None else lookup_record(report, caller, self._audit)
        return await self._commits.submit(_Answer(writes, record))

    def _write(self, engine: Engine, answers: Sequence[_Answer]) -> list[list[StoredResource]]:
        return in_transaction(
            engine, lambda connection: self._write_in(connection, answers), "store answers"
        )

    def _write_in(
        self, connection: Connection, answers: Sequence[_Answer]
    ) -> list[list[StoredResource]]:
        records = [a.record for a in answers if a.record is not None]
        # All the answers' resources in one write: one read, one insert per table.
        writes = [w for a in answers for w in a.writes]
        stored = self._write_rows(connection, records, writes, self._now())
        out: list[list[StoredResource]] = []
        start = 0
        for answer in answers:
            out.append(stored[start : start + len(answer.writes)])
            start += len(answer.writes)
        return out
