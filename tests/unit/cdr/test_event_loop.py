"""The servers' event loop: uvloop when installed, the standard library's on request."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
import uvloop

from cdr import event_loop
from rights.errors import ConfigError


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_auto_runs_on_uvloop_when_it_is_installed() -> None:
    assert isinstance(event_loop.run(_running_loop()), uvloop.Loop)
    assert event_loop.uvicorn_loop("auto") == "auto"


def test_asyncio_runs_on_the_standard_librarys_loop() -> None:
    loop = event_loop.run(_running_loop(), choice="asyncio")
    assert not isinstance(loop, uvloop.Loop)
    assert isinstance(loop, asyncio.BaseEventLoop)


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    assert event_loop.loop_factory("auto") is None
    with pytest.raises(ConfigError, match="CDR_EVENT_LOOP=uvloop: the uvloop package"):
        event_loop.loop_factory("uvloop")
    with pytest.raises(ConfigError, match="CDR_EVENT_LOOP=uvloop"):
        event_loop.uvicorn_loop("uvloop")
