"""One thread per process for database writes.

Measured under load on SQLite: writes spread over the default thread pool contend for the
single writer lock and halve throughput; serialised on one thread they do not wait for each
other, and the event loop never blocks on the driver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

__all__ = ["SingleWriter"]

T = TypeVar("T")


class SingleWriter:
    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdr-db-writer")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
