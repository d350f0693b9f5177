"""A time budget for the statements of one search, and their stop when nobody waits.

Issue 19: an abandoned search ran for 15 minutes after its client left, and held ``cdr serve``
past SIGTERM. Each search now has a deadline: PostgreSQL's ``statement_timeout`` (set per
statement to what is left of the budget, local to the transaction), SQLite's progress handler
(called every few thousand virtual-machine steps, it aborts the statement past the deadline).
A ``Cancellation`` stops the statement at once from another thread: ``interrupt()`` on SQLite,
a cancel request on PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from typing import Any

from sqlalchemy import Connection, Executable, Result, text
from sqlalchemy.exc import OperationalError

from cdr.storage.transactions import is_interrupted
from fhir_server.store import Cancellation
from rights.errors import SearchTooCostly, StorageError

__all__ = ["time_budget"]

# SQLite virtual-machine steps between two looks at the clock: about a tenth of a millisecond.
_SQLITE_STEPS = 10_000
_SET_TIMEOUT = text("SELECT set_config('statement_timeout', :ms, true)")


class _PostgresCancel:
    """Cancel requests for the statements of one search, from another thread, until it ends.

    A cancel request that reaches the server between two messages of a statement is ignored,
    so one is sent every half second until the search ends; each from a thread of its own
    (the request is a network round trip, and cancelling happens on the event loop). The lock
    keeps any request from leaving once the search has ended: the connection may then run
    someone else's statement."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver
        self._lock = threading.Lock()
        self._ended = False

    def __call__(self) -> None:
        threading.Thread(target=self._repeat, name="cdr-search-cancel", daemon=True).start()

    def _repeat(self) -> None:
        while True:
            with self._lock:
                if self._ended:
                    return
                # A server gone is nothing to stop (the statement_timeout still holds).
                with suppress(Exception):
                    self._driver.cancel_safe(timeout=2.0)
            time.sleep(0.5)

    def end(self) -> None:
        with self._lock:
            self._ended = True


@contextmanager
def time_budget(
    connection: Connection,
    seconds: float,
    cancel: Cancellation | None,
    parameters: Sequence[str],
) -> Iterator[Callable[[Executable], Result[Any]]]:
    """A function running statements on ``connection`` within ``seconds`` in all; past it
    ``SearchTooCostly`` naming ``parameters``; once ``cancel`` is set, ``StorageError``."""
    deadline = time.monotonic() + seconds
    driver: Any = connection.connection.driver_connection
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Looks at the cancellation too: an interrupt() made before a statement starts is lost.
        def over() -> bool:
            return time.monotonic() > deadline or (cancel is not None and cancel.cancelled)

        driver.set_progress_handler(over, _SQLITE_STEPS)
        stop: Callable[[], None] = driver.interrupt
    else:
        stop = pg_cancel = _PostgresCancel(driver)

    def run(statement: Executable) -> Result[Any]:
        if cancel is not None and cancel.cancelled:
            raise StorageError("search stopped: nobody waits for its answer any more")
        if not sqlite:
            left_ms = max(1, int((deadline - time.monotonic()) * 1000))
            connection.execute(_SET_TIMEOUT, {"ms": str(left_ms)})
        return connection.execute(statement)

    try:
        with cancel.stops(stop) if cancel is not None else nullcontext():
            yield run
    except OperationalError as exc:
        if cancel is not None and cancel.cancelled:
            raise StorageError("search stopped: nobody waits for its answer any more") from exc
        if is_interrupted(exc):
            raise SearchTooCostly(
                f"the search did not finish within its time budget of {seconds:g} s; "
                "narrow it with more selective parameters",
                parameters,
            ) from exc
        raise
    finally:
        if sqlite:
            driver.set_progress_handler(None, 0)
        else:
            pg_cancel.end()
