"""Structured logs: one JSON object per line, with the request's correlation id, and NIRs
masked (DESIGN §7: NIRs are masked in logs).

What an operator can follow (issue 18.8), one line each: a lookup (``event=lookup``: entry,
correlation id, the regimes asked and how each answered, duration), a regime that failed
(``regime_failure``), a circuit breaker that changed state (``breaker``), an API request answered
4xx/5xx (``http_error``, fhir_server), an MLLP connection opened or closed (``mllp_open``,
``mllp_close``, hl7_listener). Nothing per successful request beyond the lookup line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from fhir_server import json_text
from fhir_server.context import correlation_id
from rights.lookup import RightsLookup
from rights.resilience import BreakerState
from rights.result import LookupReport, RegimeStatus

__all__ = [
    "JsonFormatter",
    "LookupEvents",
    "configure_logging",
    "lookup_entry",
    "mask_nirs",
    "with_entry",
]

# 13 or 15 characters shaped like a NIR (Corsica included), possibly spaced as on a card.
_NIR = re.compile(r"\b([1-8])\s?(\d{2})\s?(\d{2})\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}(?:\s?\d{2})?\b")
# Only text with 13 digits in a row, or spaced ones, can hold a NIR: most values skip the regex.
_MAYBE_NIR = re.compile(r"\d{2}")

# Which entry point asked for the lookup being run: "fhir", "hl7" or "cli".
lookup_entry: ContextVar[str] = ContextVar("lookup_entry", default="")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def mask_nirs(text: str) -> str:
    if _MAYBE_NIR.search(text) is None:
        return text
    return _NIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}********", text)


def with_entry(entry: str, run: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
    """``run`` with the lookups it makes logged as coming from ``entry``."""

    async def run_from_entry(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        token = lookup_entry.set(entry)
        try:
            return await run(*args, **kwargs)
        finally:
            lookup_entry.reset(token)

    return run_from_entry


class JsonFormatter(logging.Formatter):
    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_nirs(record.getMessage()),
        }
        current = correlation_id.get()
        if current:
            entry["correlation_id"] = current
        values = vars(record)
        for key in values.keys() - self._STANDARD:
            if key.startswith("_"):
                continue
            value = values[key]
            entry[key] = value if isinstance(value, int | float | bool) else mask_nirs(str(value))
        if record.exc_info:
            entry["exception"] = mask_nirs(self.formatException(record.exc_info))
        # orjson: the lookup line is written on every request; compact, and UTF-8 as it is.
        return json_text.dumps(entry).decode()


_FAILED = frozenset({RegimeStatus.UNAVAILABLE, RegimeStatus.TIMEOUT, RegimeStatus.REJECTED})

lookup_log = logging.getLogger("cdr.lookup")
regime_log = logging.getLogger("cdr.regimes")


class LookupEvents:
    """Observes each lookup report (beside the metrics): the lookup line, one line per regime
    that failed, one per circuit breaker that changed state since the last report.

    The breakers are compared only after a failure or while one is not closed: a healthy
    gateway pays one check of a flag per lookup for them."""

    def __init__(self, lookup: RightsLookup) -> None:
        self._lookup = lookup
        self._breakers = lookup.breaker_states()
        self._watching = False

    def __call__(self, report: LookupReport) -> None:
        failed = [r for r in report.results if r.status in _FAILED]
        if lookup_log.isEnabledFor(logging.INFO):
            outcome = report.outcome
            lookup_log.info(
                "lookup %s",
                outcome,
                extra={
                    "event": "lookup",
                    "entry": lookup_entry.get() or "other",
                    "nir": mask_nirs(report.query.nir.value),
                    "mode": "discovery" if report.query.is_discovery else "validation",
                    "regimes": " ".join(f"{r.regime}:{r.status.value}" for r in report.results),
                    "outcome": outcome,
                    "duration_ms": round(report.elapsed_ms, 1),
                },
            )
        for result in failed:
            regime_log.warning(
                "regime %s %s: %s",
                result.regime,
                result.status.value,
                result.detail or "no detail",
                extra={
                    "event": "regime_failure",
                    "regime": result.regime,
                    "status": result.status.value,
                    "attempts": result.attempts,
                    "elapsed_ms": round(result.elapsed_ms, 1),
                },
            )
        if failed or self._watching:
            self._breaker_changes()

    def _breaker_changes(self) -> None:
        states = self._lookup.breaker_states()
        for regime, state in states.items():
            before = self._breakers.get(regime, BreakerState.CLOSED)
            if state is not before:
                regime_log.warning(
                    "circuit breaker of %s %s (was %s)",
                    regime,
                    state.value,
                    before.value,
                    extra={"event": "breaker", "regime": regime, "state": state.value},
                )
        self._breakers = states
        self._watching = any(s is not BreakerState.CLOSED for s in states.values())


def configure_logging(*, json_lines: bool, level: int | str = logging.INFO) -> None:
    """JSON lines for machines (the service), plain text for a person at a terminal."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # No line shows the caller's file and line or the multiprocessing name: skip finding them
    # (the logging HOWTO's "Optimization"; a stack walk per line otherwise).
    logging._srcfile = None
    logging.logMultiprocessing = False
    # Alembic narrates every migration step at INFO; the start-up banner is enough.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every regime request at INFO: a formatted line per `$submit` (and 17 per
    # discovery) that the lookup records and /metrics already hold, and a measurable share of
    # the request's CPU. Its warnings and errors still come through.
    logging.getLogger("httpx").setLevel(logging.WARNING)
