"""A search whose client has gone, or whose request is cancelled, is told to stop; one past
its budget is answered 400 too-costly naming its parameters (issue 19)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fhir_server.outcome import error_status_and_outcome
from fhir_server.search_run import run_until_disconnected
from fhir_server.store import Cancellation
from rights.errors import SearchTooCostly


def _work_until_cancelled(started: threading.Event, stopped: threading.Event) -> Any:
    def work(cancel: Cancellation) -> str:
        stop = threading.Event()
        with cancel.stops(stop.set):
            started.set()
            if not stop.wait(timeout=60):
                return "ran to its end"
        stopped.set()
        return "stopped"

    return work


def test_a_search_whose_client_disconnects_is_stopped():
    started, stopped = threading.Event(), threading.Event()

    async def scenario() -> object:
        disconnect = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await disconnect.wait()
            return {"type": "http.disconnect"}

        running = asyncio.ensure_future(
            run_until_disconnected(receive, _work_until_cancelled(started, stopped))
        )
        await asyncio.to_thread(started.wait, 60)
        disconnect.set()
        return await running

    assert asyncio.run(scenario()) is None
    assert stopped.wait(timeout=60)


def test_a_cancelled_request_stops_its_search():
    started, stopped = threading.Event(), threading.Event()

    async def scenario() -> None:
        async def receive() -> dict[str, Any]:
            await asyncio.Event().wait()  # the client stays
            return {}

        running = asyncio.ensure_future(
            run_until_disconnected(receive, _work_until_cancelled(started, stopped))
        )
        await asyncio.to_thread(started.wait, 60)
        running.cancel()  # as uvicorn does past its shutdown grace period
        assert await running is None  # answered "client gone", not logged as a crash

    asyncio.run(scenario())
    assert stopped.wait(timeout=60)


def test_a_search_that_ends_is_answered():
    async def scenario() -> object:
        messages = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.Event().wait()  # the client stays
            return {}

        return await run_until_disconnected(receive, lambda _cancel: "found")

    assert asyncio.run(scenario()) == "found"


def test_too_costly_is_a_400_naming_the_parameters():
    error = SearchTooCostly("over its time budget of 5 s", ["created", "status"])
    status, outcome = error_status_and_outcome(error, "cid")
    assert status == 400
    [issue] = outcome["issue"]
    assert issue["code"] == "too-costly"
    assert issue["expression"] == ["created", "status"]
