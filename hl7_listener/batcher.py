"""Group commit: many connections' messages stored in one transaction.

An AA may only be sent once its message is committed. Committing each message on its own makes
the commit the bottleneck; instead, messages that arrive while a transaction runs wait for the
next one, and all of them are committed together. Under no load a batch holds one message and
costs one commit, so latency does not suffer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """``submit(item)`` resolves with that item's result once its batch has been flushed."""

    def __init__(
        self, flush: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 500
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                results = await self._flush([item for item, _ in batch])
            except BaseException as exc:  # every waiter learns the batch failed, then it re-raises
                for _, future in batch:
                    if not future.done():
                        future.set_exception(
                            exc if isinstance(exc, Exception) else asyncio.CancelledError()
                        )
                if not isinstance(exc, Exception):
                    raise
                continue
            if len(results) != len(batch):  # a broken store must not leave waiters hanging
                error = RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def aclose(self) -> None:
        """Wait for the batch in flight and those queued behind it."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
