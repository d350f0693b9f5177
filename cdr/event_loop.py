"""The event loop each long-running process of the gateway runs on.

uvloop where it is installed (``uvicorn[standard]`` brings it on Linux and macOS): measured on
the HL7 intake, it cut the server's CPU per acknowledged message by about a tenth and raised
the ACK rate on 16 connections from 0.79 to 0.93 times the python-hl7 peer's in the same
run (BENCHMARKS.md). ``CDR_EVENT_LOOP=asyncio`` keeps the standard library's loop (to tell a
loop's fault from ours); ``uvloop`` insists on it. uvicorn's worker processes get the same
choice through its ``loop`` option.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from rights.errors import ConfigError

__all__ = ["EventLoopChoice", "loop_factory", "run", "uvicorn_loop"]

T = TypeVar("T")
EventLoopChoice = Literal["auto", "asyncio", "uvloop"]


def loop_factory(choice: EventLoopChoice) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the loop ``choice`` names; None for the standard library's own."""
    if choice == "asyncio":
        return None
    if importlib.util.find_spec("uvloop") is None:
        if choice == "uvloop":
            raise ConfigError("CDR_EVENT_LOOP=uvloop: the uvloop package is not installed")
        return None
    import uvloop

    return uvloop.new_event_loop


def uvicorn_loop(choice: EventLoopChoice) -> str:
    """``choice`` as uvicorn's ``loop`` option spells it (its "auto" prefers uvloop too)."""
    loop_factory(choice)  # the same error when uvloop is asked for and missing
    return choice


def run(main: Coroutine[Any, Any, T], *, choice: EventLoopChoice = "auto") -> T:
    """``asyncio.run(main)`` on the loop ``choice`` names (in the calling thread)."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)
