"""One thread per process for database writes, and group commit onto it.

Measured under load on SQLite: writes spread over the default thread pool contend for the
single writer lock and halve throughput; serialised on one thread they do not wait for each
other, and the event loop never blocks on the driver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from rights.errors import StorageBusy

__all__ = ["GroupCommit", "LocalFirstCommit", "SingleWriter", "on_loop"]

T = TypeVar("T")
J = TypeVar("J")
R = TypeVar("R")


class SingleWriter:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdr-db-writer")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=True)


async def on_loop(fn: Callable[..., T], *args: Any) -> T:
    """A ``run`` for ``GroupCommit`` that writes on the event loop itself: for a local SQLite
    commit that cannot wait for a lock (``Database.no_wait_engine``), cheaper than the hand-off
    to the writer thread and back (the GIL changing hands at every driver call)."""
    return fn(*args)


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


class GroupCommit(Generic[J, R]):
    """``submit(job)`` resolves with the job's result once the transaction holding it has
    committed (a caller answers only after its data is durable).

    ``write(jobs)`` stores jobs in ONE transaction and returns one result per job; it runs on
    the writer. Jobs submitted while a transaction runs wait for the next one and are written
    together: under load a commit, and each statement, serves many requests; alone, a job is a
    batch of one and waits for nothing. When a batch fails, each of its jobs is written again
    in a transaction of its own, so that one bad job fails alone and the others are stored.

    ``gather_passes``: event-loop passes to wait before taking a batch (see ``_drain``).

    ``durable``: awaited after a batch commits and before its waiters are answered (a flush to
    disk, ``WalSync.sync``). Commits and flushes then alternate: jobs submitted during a flush
    are committed together once it ends. Committing them earlier would not answer them any
    sooner (they would wait for the next flush all the same), and measured under the HL7
    load it cost a commit, and a flush, for every two or three messages instead of one for
    all those that arrived during the flush (BENCHMARKS.md).

    Bound to the event loop of its first ``submit``.
    """

    def __init__(
        self,
        write: Callable[[Sequence[J]], Sequence[R]],
        run: Callable[..., Awaitable[Any]],
        *,
        max_batch: int = 64,
        gather_passes: int = 0,
        durable: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._write = write
        self._run = run
        self._durable = durable
        self._max_batch = max_batch
        self._gather_passes = gather_passes
        self._waiting: list[tuple[J, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, job: J) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                # Let the event loop run a few more passes first: callers one step away from
                # their submit join this transaction instead of waiting for the next one. With
                # nothing else to run, a pass costs microseconds.
                for _ in range(self._gather_passes if len(self._waiting) < self._max_batch else 0):
                    await asyncio.sleep(0)
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    outcomes: list[R | _Failed] = await self._run(
                        self._write_isolated, [job for job, _ in batch]
                    )
                    if self._durable is not None:
                        outcomes = await self._when_durable(outcomes)
                except BaseException as exc:
                    # The writer is gone, or this task was cancelled (shutdown): tell every
                    # waiter, none of whom can be told its job is stored.
                    for _, future in batch + self._waiting:
                        if not future.done():
                            future.set_exception(
                                exc if isinstance(exc, Exception) else asyncio.CancelledError()
                            )
                    self._waiting.clear()
                    if not isinstance(exc, Exception):
                        raise
                    return
                _settle(batch, outcomes)
        finally:
            self._task = None

    async def _when_durable(self, outcomes: list[R | _Failed]) -> list[R | _Failed]:
        """``outcomes`` once the batch is on disk; each one a failure when the flush failed."""
        assert self._durable is not None
        try:
            await self._durable()
        except Exception as exc:  # committed, but not known to be on disk: no answer is "stored"
            return [_Failed(exc)] * len(outcomes)
        return outcomes

    def _write_isolated(self, jobs: list[J]) -> list[R | _Failed]:
        """Where ``run`` runs it: the batch in one transaction, else each job on its own."""
        try:
            return list(self._write(jobs))
        except Exception as exc:
            if len(jobs) == 1:
                return [_Failed(exc)]
        outcomes: list[R | _Failed] = []
        for job in jobs:
            try:
                outcomes.append(self._write([job])[0])
            except Exception as exc:
                outcomes.append(_Failed(exc))
        return outcomes


def _settle(batch: list[tuple[J, asyncio.Future[R]]], outcomes: list[R | _Failed]) -> None:
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():  # its request was cancelled: the data is stored anyway
            continue
        if isinstance(outcome, _Failed):
            future.set_exception(outcome.error)
        else:
            future.set_result(outcome)


class LocalFirstCommit(Generic[J, R]):
    """Jobs committed on the event loop (``local``: a ``GroupCommit`` with ``on_loop`` over an
    engine that never waits for SQLite's write lock), and by ``waiting`` (onto the writer
    thread, which waits for the lock) when there is no ``local`` (PostgreSQL) or when another
    process kept the lock through a few short retries.

    The retries sleep on the event loop (which goes on serving meanwhile): another process's
    commit holds the lock for a millisecond or two, while SQLite's own waiting, on the writer
    thread, sleeps in steps of up to 100 ms (measured with `cdr serve --workers 2` on SQLite)."""

    RETRY_DELAYS_S = (0.0005, 0.001, 0.002, 0.004, 0.008)

    def __init__(self, local: GroupCommit[J, R] | None, waiting: GroupCommit[J, R]) -> None:
        self._local = local
        self._waiting = waiting

    async def submit(self, job: J) -> R:
        if self._local is not None:
            for delay in (*self.RETRY_DELAYS_S, None):
                try:
                    return await self._local.submit(job)
                except StorageBusy:
                    if delay is None:
                        break
                    await asyncio.sleep(delay)
        return await self._waiting.submit(job)
