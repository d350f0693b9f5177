"""The worker pool that drains the durable inbox after the ACKs.

Messages are read from the inbox in arrival order and dealt to lanes by patient: one lane works
one message at a time, so two admissions of the same patient are processed in the order they
arrived, while different patients proceed in parallel. Nothing is held in memory beyond the
messages in flight (bounded), so memory does not grow with the inbox; after a crash the pending
rows are simply read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from hl7_listener.ports import InboxStore, PendingMessage
from hl7_listener.processing import Processed
from rights.errors import CdrError, StorageError

__all__ = ["InboxWorker"]

log = logging.getLogger("cdr.hl7")

Blocking = Callable[..., Awaitable[Any]]


class InboxWorker:
    def __init__(
        self,
        *,
        inbox: InboxStore,
        blocking: Blocking,
        process: Callable[[PendingMessage], Awaitable[Processed]],
        now: Callable[[], datetime],
        lanes: int = 32,
        max_in_flight: int = 256,
        poll_interval_s: float = 1.0,
        retry_s: float = 0.5,
        busy_window_s: float = 0.05,
        busy_rate: float = 10.0,
        on_processed: Callable[[], None] = lambda: None,
    ) -> None:
        self._inbox = inbox
        self._blocking = blocking
        self._process = process
        self._now = now
        self._lanes: list[asyncio.Queue[PendingMessage]] = [asyncio.Queue() for _ in range(lanes)]
        self._max_in_flight = max_in_flight
        self._poll_interval_s = poll_interval_s
        self._on_processed = on_processed
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._cursor = 0
        self._retry_s = retry_s
        self._busy_window_s = busy_window_s
        self._busy_rate = busy_rate
        self._next_busy_start = 0.0
        self._last_intake = -1e9
        self._newest_seen = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.processed = 0
        self.failed = 0

    def wake(self) -> None:
        """A message was just accepted: read the inbox now (and note that the intake is busy)."""
        self._last_intake = asyncio.get_running_loop().time()
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._lane(q)) for q in self._lanes]
        self._tasks.append(asyncio.create_task(self._dispatch()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def idle(self) -> bool:
        """True when nothing is in flight (for tests and graceful shutdown)."""
        return not self._in_flight

    async def _dispatch(self) -> None:
        woken = False
        while True:
            self._wake.clear()
            if not woken:
                await self._watch_arrivals()
            woken = False
            try:
                fetched = await self._fetch()
            except StorageError as exc:
                log.error("hl7 inbox unreadable, retrying: %s", exc.message)
                fetched = 0
            except Exception:  # the dispatcher must outlive any fault, or the inbox stalls
                log.exception("hl7 inbox dispatcher: unexpected error, retrying")
                fetched = 0
            if fetched == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
                    woken = True

    async def _watch_arrivals(self) -> None:
        """Notice messages stored by an intake in another process (nobody calls ``wake`` then):
        the newest inbox id moving means messages are arriving. A cheap primary-key read, made
        when the dispatcher was not woken (at most once per poll when idle)."""
        loop = asyncio.get_running_loop()
        try:
            newest: int = await self._blocking(self._inbox.last_id)
        except StorageError:
            return
        if newest > self._newest_seen:
            if self._newest_seen:
                # Busy at least until the next look, which may be a poll interval away.
                self._last_intake = loop.time() + self._poll_interval_s
            self._newest_seen = newest

    async def _fetch(self) -> int:
        room = self._max_in_flight - len(self._in_flight)
        if room <= 0:
            return 0
        cursor = self._cursor
        rows: list[PendingMessage] = await self._blocking(
            lambda: self._inbox.pending(after_id=cursor, limit=room)
        )
        dealt = 0
        for row in rows:
            # Rows come above the cursor only, so none of them is in flight yet.
            self._cursor = max(self._cursor, row.inbox_id)
            self._in_flight.add(row.inbox_id)
            lane = zlib.crc32(row.patient_key.encode()) % len(self._lanes)
            self._lanes[lane].put_nowait(row)
            dealt += 1
        return dealt

    async def _lane(self, queue: asyncio.Queue[PendingMessage]) -> None:
        while True:
            row = await queue.get()
            try:
                await self._yield_to_intake()
                await self._handle(row)
            finally:
                self._in_flight.discard(row.inbox_id)

    async def _yield_to_intake(self) -> None:
        """While messages are arriving, start lookups at a trickle.

        Lookups and the MLLP intake share one process. Left to an even share, a burst's lookups
        slow its ACKs down to the lookup rate, and the engine then queues on its side what our
        durable inbox would hold just as well. So during a burst the ACKs go first: lookups
        start at most ``busy_rate`` per second (never zero, so a steady stream of messages
        cannot starve them); once the intake is quiet for ``busy_window_s`` they run at full
        width again.
        """
        loop = asyncio.get_running_loop()
        while loop.time() - self._last_intake < self._busy_window_s:
            now = loop.time()
            if now >= self._next_busy_start:
                self._next_busy_start = now + 1.0 / self._busy_rate
                return
            await asyncio.sleep(self._next_busy_start - now)

    async def _handle(self, row: PendingMessage) -> None:
        try:
            result = await self._process(row)
        except CdrError as exc:
            log.error("hl7 message %d could not be processed: %s", row.inbox_id, exc.message)
            await self._settle(self._inbox.fail, row.inbox_id, exc.message, now=self._now())
            self.failed += 1
            return
        except Exception as exc:
            log.exception("hl7 message %d: unexpected error", row.inbox_id)
            await self._settle(self._inbox.fail, row.inbox_id, repr(exc), now=self._now())
            self.failed += 1
            return
        await self._settle(
            self._inbox.complete,
            row.inbox_id,
            result.outbound,
            lookup_id=result.lookup_id,
            now=self._now(),
            relookup=result.relookup,
        )
        self.processed += 1
        if result.outbound:
            self._on_processed()

    async def _settle(self, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Record the outcome, retrying while the database refuses.

        The lane waits meanwhile: the patient's next message must not overtake this one. If the
        gateway stops first, the row is still pending and is processed again after the restart
        (its results were not queued, so nothing is sent twice).
        """
        delay = self._retry_s
        while True:
            try:
                await self._blocking(lambda: fn(*args, **kwargs))
                return
            except StorageError as exc:
                log.error("hl7 inbox update failed, retrying in %.1f s: %s", delay, exc.message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
