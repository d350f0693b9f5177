"""The periodic purge of `cdr serve` (issue 14 item 5): what is older than the retention period
(``CDR_RETENTION_DAYS``) goes shortly after the start, then every ``CDR_PURGE_INTERVAL_S``.

It runs where the HL7 processing runs (``cdr.hl7_runtime``), which `cdr serve` has exactly once
whatever the number of HTTP workers: one purger per gateway. Each batch of
``cdr.storage.retention.purge_batches`` is handed to the blocking runner on its own (the
gateway's writer thread), so that the event loop never waits for the database and the other
writes of the process pass between two batches; a stop waits for no more than the batch under
way. After each batch the loop rests as long as the batch took: on SQLite the HL7 intake of the
other process waits for the write lock the purge holds, and a purge of a large backlog (its
first, say) taking the lock back to back would make every AA wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from cdr.bootstrap import Gateway
from cdr.storage.retention import DEFAULT_BATCH, PurgeCounts, purge_batches
from rights.errors import StorageError

__all__ = ["FIRST_DELAY_S", "PurgeLoop", "purge_loop_for"]

log = logging.getLogger("cdr.purge")

# After the start, before the first purge: the gateway serves first (migration, conformance,
# listeners), and a restart loop does not purge at every start.
FIRST_DELAY_S = 60.0

Blocking = Callable[..., Awaitable[Any]]


class PurgeLoop:
    def __init__(
        self,
        engine: Engine,
        *,
        retention: timedelta,
        interval_s: float,
        audit_retention: timedelta | None = None,
        now: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        blocking: Blocking = asyncio.to_thread,
        first_delay_s: float = FIRST_DELAY_S,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("a purge loop needs an interval above 0 (0 means: no loop)")
        self._engine = engine
        self._retention = retention
        self._audit_retention = audit_retention  # None: the audit trail is not purged here
        self._interval_s = interval_s
        self._now = now
        self._monotonic = monotonic
        self._blocking = blocking
        self._first_delay_s = first_delay_s
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self.runs = 0  # purges completed, for the tests and the curious

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="cdr-purge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self._first_delay_s)
        while True:
            try:
                await self.run_once()
            except StorageError as exc:  # the database is away: the next round tries again
                log.error("purge failed, tried again in %.0f s: %s", self._interval_s, exc.message)
            except Exception:  # the loop must outlive any fault, or old rows pile up unseen
                log.exception("purge failed, tried again in %.0f s", self._interval_s)
            await asyncio.sleep(self._interval_s)

    async def run_once(self) -> PurgeCounts:
        """One purge of what is older than the retention period, batch by batch; one log line
        with the counts when something went."""
        now = self._now()
        before = now - self._retention
        audit_before = None if self._audit_retention is None else now - self._audit_retention
        steps = purge_batches(self._engine, before, batch=self._batch, audit_before=audit_before)
        total = PurgeCounts()
        while True:
            started = self._monotonic()
            counts = await self._blocking(next, steps, None)
            if counts is None:
                break
            total += counts
            await asyncio.sleep(self._monotonic() - started)
        self.runs += 1
        if total.total:
            deleted = ", ".join(f"{n} {kind}" for kind, n in total.as_dict().items() if n)
            log.info(
                "purged what was older than %s: %s",
                before.isoformat(timespec="seconds"),
                deleted,
                extra={"event": "purge", "before": before.isoformat(), **total.as_dict()},
            )
        return total


def purge_loop_for(gateway: Gateway) -> PurgeLoop | None:
    """The gateway's periodic purge, on its writer thread; None with ``CDR_PURGE_INTERVAL_S``
    at 0 (then only `cdr purge` deletes)."""
    settings = gateway.settings
    if settings.purge_interval_s <= 0:
        return None
    return PurgeLoop(
        gateway.database.engine,
        retention=timedelta(days=settings.retention_days),
        audit_retention=timedelta(days=settings.audit_retention_days),
        interval_s=settings.purge_interval_s,
        now=gateway.clock.now,
        monotonic=gateway.clock.monotonic,
        blocking=gateway.writer.run,
    )
