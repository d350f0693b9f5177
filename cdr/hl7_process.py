"""The HL7 lookups and deliveries in a process of their own, beside the MLLP intake.

Why a process: the intake's job is to commit and acknowledge quickly. Sharing one interpreter
with the lookups, a burst's ACKs slow down to the rate of the lookups behind them (measured in
BENCHMARKS.md). Apart, and at a lower scheduling priority (nice 10), the lookups take the CPU
the intake leaves; they still get a share under a steady flood, so they cannot starve. The two
meet only in the database: the processing side polls the inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from multiprocessing.process import BaseProcess

from cdr import event_loop
from cdr.bootstrap import build_gateway
from cdr.hl7_runtime import Hl7Runtime
from cdr.logs import configure_logging
from cdr.settings import Settings

__all__ = ["Hl7ProcessingProcess"]

log = logging.getLogger("cdr")

_PR_SET_PDEATHSIG = 1
_NICENESS = 10


class Hl7ProcessingProcess:
    def __init__(self, settings: Settings) -> None:
        context = multiprocessing.get_context("spawn")
        self._process: BaseProcess = context.Process(
            target=_run, args=(settings,), name="cdr-hl7-processing", daemon=True
        )

    def start(self) -> None:
        self._process.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def stop(self, timeout: float = 15.0) -> None:
        if self._process.pid is None:
            return
        self._process.terminate()
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout)


def _run(settings: Settings) -> None:
    _die_with_parent()
    with contextlib.suppress(OSError):
        os.nice(_NICENESS)
    configure_logging(json_lines=settings.log_format == "json", level=settings.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(_serve(settings), choice=settings.event_loop)


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C reaches the whole process group: the parent stops us with SIGTERM when it is done.
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    gateway = build_gateway(settings, migrate=False)
    runtime = Hl7Runtime(gateway, intake=False)
    await runtime.start()
    log.info("HL7 processing   pid %d (lookups from the inbox, deliveries)", os.getpid())
    try:
        await stop.wait()
    finally:
        await runtime.stop()
        await gateway.aclose()


def _die_with_parent() -> None:
    """If the gateway is killed (even with SIGKILL), this process goes too (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before the call above took effect
        os._exit(0)
