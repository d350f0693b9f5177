"""Running a search in a worker thread, stopped when nobody waits for its answer any more.

The store's query runs in a thread (``asyncio.to_thread``): cancelling the request's task
does not stop a thread, so the store is handed a ``Cancellation`` that interrupts its
statement. It is set when the client disconnects (ASGI ``http.disconnect``) and when the
request's task is cancelled (the server stopping after its grace period).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from starlette.types import Receive

from fhir_server.store import Cancellation

__all__ = ["run_until_disconnected"]

T = TypeVar("T")


async def _disconnected(receive: Receive) -> None:
    # A GET's (empty) body comes first; the next message is the disconnect, whenever it comes.
    while (await receive())["type"] != "http.disconnect":
        pass


async def run_until_disconnected(receive: Receive, work: Callable[[Cancellation], T]) -> T | None:
    """``work(cancel)`` run in a thread; None when the client went first or the request was
    cancelled, ``work`` then told to stop."""
    cancel = Cancellation()
    running = asyncio.ensure_future(asyncio.to_thread(work, cancel))
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((running, gone), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # The server stopping past its grace period: nobody will read this answer either. Not
        # raised on: uvicorn would log the cancellation as a crash of the application.
        pass
    finally:
        gone.cancel()
    if running.done():
        return running.result()
    cancel.cancel()
    # What the stopped work raises (or returns) has no reader: retrieve it, so that asyncio
    # does not log it as never retrieved.
    running.add_done_callback(lambda task: task.cancelled() or task.exception())
    return None
