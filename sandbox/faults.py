"""Fault injection per regime: latency, errors, hanging requests and downtime.

A ``FaultBook`` holds one ``FaultSettings`` per regime, set at start (``{"*": {...}, "msa":
{...}}``, ``*`` meaning every regime) and changed at run time through the admin endpoints.
``FaultMiddleware`` applies them to ``/regimes/{code}/...`` so that the gateway's timeouts,
retries, circuit breakers and partial discovery results can be exercised against real HTTP.
The random draws come from one seeded ``random.Random``: a test run can be replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rights.errors import ConfigError, InputError, UnknownRegimeError

__all__ = [
    "ALL_REGIMES",
    "FAULT_HEADER",
    "FaultBook",
    "FaultKind",
    "FaultMiddleware",
    "FaultSettings",
]

ALL_REGIMES = "*"
FAULT_HEADER = "X-CDR-Sandbox-Fault"

_RATES = ("error_rate", "timeout_rate")
_DURATIONS = ("latency_ms", "hang_s")


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """What one regime suffers. Rates are fractions of requests (0-1), drawn independently."""

    latency_ms: float = 0
    error_rate: float = 0
    timeout_rate: float = 0
    hang_s: float = 30
    down: bool = False

    def __post_init__(self) -> None:
        for name in _DURATIONS + _RATES:
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InputError(f"{name} must be a finite number >= 0", location=name)
        for name in _RATES:
            if getattr(self, name) > 1:
                raise InputError(f"{name} must be between 0 and 1", location=name)
        # One draw decides error, then timeout: their sum is the share of failed requests.
        if self.error_rate + self.timeout_rate > 1:
            raise InputError("error_rate + timeout_rate must not exceed 1", location="error_rate")

    def updated(self, changes: Mapping[str, Any]) -> FaultSettings:
        """These settings with ``changes`` applied; unknown fields and bad types raise."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise InputError(
                f"unknown fault setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                location=unknown[0],
            )
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "down":
                if not isinstance(value, bool):
                    raise InputError("down must be true or false", location=name)
            elif isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"{name} must be a number", location=name)
            checked[name] = value
        return replace(self, **checked)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultKind(enum.StrEnum):
    """What the middleware does to one request."""

    NONE = "none"
    DOWN = "down"
    ERROR = "error"
    TIMEOUT = "timeout"


class FaultBook:
    """The fault settings of every regime, and the seeded draws that apply them."""

    def __init__(
        self,
        codes: Iterable[str],
        *,
        seed: int = 0,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.codes: tuple[str, ...] = tuple(codes)
        self._settings = dict.fromkeys(self.codes, FaultSettings())
        self._rng = random.Random(seed)
        if settings:
            try:
                # "*" first, so that a named regime refines the common settings.
                for code in sorted(settings, key=lambda c: c != ALL_REGIMES):
                    self.update(code, settings[code])
            except InputError as exc:
                raise ConfigError(f"fault settings are not valid: {exc.message}") from exc

    @classmethod
    def from_config(
        cls, config: Mapping[str, Mapping[str, Any]], codes: Iterable[str], *, seed: int = 0
    ) -> FaultBook:
        """The book for settings read from configuration (``CDR_SANDBOX_FAULTS``)."""
        return cls(codes, seed=seed, settings=config)

    def __contains__(self, code: object) -> bool:
        return code in self._settings

    def get(self, code: str) -> FaultSettings:
        try:
            return self._settings[code]
        except KeyError:
            raise UnknownRegimeError(code, self.codes, location="regime") from None

    def update(self, code: str, changes: Mapping[str, Any]) -> dict[str, FaultSettings]:
        """Apply a partial change to one regime, or to all with ``*``; return what changed."""
        targets = self.codes if code == ALL_REGIMES else (code,)
        updated = {c: self.get(c).updated(changes) for c in targets}
        self._settings.update(updated)
        return updated

    def set(self, code: str, settings: FaultSettings) -> None:
        self.get(code)
        self._settings[code] = settings

    def reset(self) -> None:
        self._settings = dict.fromkeys(self.codes, FaultSettings())

    def snapshot(self) -> dict[str, FaultSettings]:
        return dict(self._settings)

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {code: s.to_json() for code, s in self._settings.items()}

    def draw(self, settings: FaultSettings) -> FaultKind:
        """The fate of one request under ``settings`` (health checks do not draw)."""
        if settings.down:
            return FaultKind.DOWN
        if settings.error_rate == 0 and settings.timeout_rate == 0:
            return FaultKind.NONE
        roll = self._rng.random()
        if roll < settings.error_rate:
            return FaultKind.ERROR
        if roll < settings.error_rate + settings.timeout_rate:
            return FaultKind.TIMEOUT
        return FaultKind.NONE


def _regime_of(path: str) -> tuple[str, bool]:
    """The regime code of a ``/regimes/{code}/...`` path and whether it is the health check."""
    rest = path[len("/regimes/") :]
    code, _, tail = rest.partition("/")
    return code, tail == "health"


class FaultMiddleware:
    """Applies the ``FaultBook`` to ``/regimes/{code}/...`` (pure ASGI, no per-request copy)."""

    def __init__(
        self,
        app: ASGIApp,
        book: FaultBook,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.book = book
        self.sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/regimes/"):
            await self.app(scope, receive, send)
            return
        code, is_health = _regime_of(path)
        if code not in self.book:
            await self.app(scope, receive, send)
            return
        settings = self.book.get(code)
        if settings.down:
            await _reply(scope, receive, send, 503, code, FaultKind.DOWN, "is down")
            return
        if is_health:
            await self.app(scope, receive, send)
            return
        if settings.latency_ms:
            await self.sleep(settings.latency_ms / 1000)
        kind = self.book.draw(settings)
        if kind is FaultKind.ERROR:
            await _reply(scope, receive, send, 500, code, kind, "failed (injected error)")
        elif kind is FaultKind.TIMEOUT:
            if not await _hang(settings.hang_s, receive):
                await _reply(scope, receive, send, 504, code, kind, "timed out (injected)")
        else:
            await self.app(scope, receive, send)


async def _reply(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, kind: FaultKind, what: str
) -> None:
    body = {"error": f"regime {code} {what}", "regime": code, "fault": kind.value}
    response = JSONResponse(body, status_code=status, headers={FAULT_HEADER: kind.value})
    await response(scope, receive, send)


async def _hang(seconds: float, receive: Receive) -> bool:
    """Hold the request for ``seconds``; True if the client went away first.

    A gateway that times out closes the connection: stopping then keeps a sandbox under load
    from piling up sleeping requests nobody waits for.
    """

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait({watcher}, timeout=seconds)
    finally:
        if not watcher.done():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    return watcher in done and watcher.exception() is None
