"""The HL7 side in a thread of its own, for `cdr serve --workers N` (``cdr.hl7_runtime``)."""

from __future__ import annotations

import asyncio
import socket
import threading

from cdr import event_loop
from cdr.bootstrap import build_gateway
from cdr.hl7_runtime import Hl7Runtime
from cdr.settings import Settings

__all__ = ["Hl7Thread"]


class Hl7Thread:
    """The HL7 side in its own thread and event loop, beside uvicorn's worker supervisor
    (``cdr serve --workers N``: HTTP is served by N processes, MLLP by the parent alone, so the
    per-patient order of the inbox holds)."""

    def __init__(self, settings: Settings, sock: socket.socket) -> None:
        self._settings = settings
        self._sock = sock
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="cdr-hl7", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)

    def _main(self) -> None:
        event_loop.run(self._run(), choice=self._settings.event_loop)

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            gateway = build_gateway(self._settings, migrate=False)
            runtime = Hl7Runtime(gateway, processing=not self._settings.hl7_processing_process)
            await runtime.start(sock=self._sock)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runtime.stop()
            await gateway.aclose()
