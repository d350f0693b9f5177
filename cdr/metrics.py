"""Prometheus metrics of one gateway process, in the text exposition format (version 0.0.4).

Small on purpose: counters and histograms keyed by label values, rendered on scrape. Gauges
that mirror live state (breakers, cache) are read from their owners at scrape time rather than
copied on every change. With `cdr serve --workers N` each worker exposes its own numbers.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from rights.lookup import RightsLookup
from rights.resilience import BreakerState
from rights.result import LookupReport

__all__ = ["Counter", "GatewayMetrics", "Histogram"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for v in values)
    return "{" + ",".join(f'{n}="{v}"' for n, v in zip(names, escaped, strict=True)) + "}"


@dataclass
class Counter:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    _values: dict[tuple[str, ...], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for values, number in sorted(self._values.items()):
            yield f"{self.name}{_labels(self.labels, values)} {number:g}"


@dataclass
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = _LATENCY_BUCKETS
    _series: dict[tuple[str, ...], list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, seconds: float, *label_values: str) -> None:
        # Per series: the count of each bucket alone (the first bound >= seconds; the last slot
        # is above every bound), then the sum; render() makes the counts cumulative.
        slot = bisect_left(self.buckets, seconds)
        with self._lock:
            series = self._series.get(label_values)
            if series is None:
                series = self._series[label_values] = [0.0] * (len(self.buckets) + 2)
            series[slot] += 1
            series[-1] += seconds

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        names = (*self.labels, "le")
        for values, series in sorted(self._series.items()):
            counts = list(accumulate(series[:-1]))  # per bound, then +Inf: the total
            for bound, count in zip(self.buckets, counts, strict=False):
                yield f"{self.name}_bucket{_labels(names, (*values, f'{bound:g}'))} {count:g}"
            yield f"{self.name}_bucket{_labels(names, (*values, '+Inf'))} {counts[-1]:g}"
            yield f"{self.name}_count{_labels(self.labels, values)} {counts[-1]:g}"
            yield f"{self.name}_sum{_labels(self.labels, values)} {series[-1]:.6f}"


_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class GatewayMetrics:
    """Lookups by regime and outcome, their latency, HTTP requests, cache and breakers."""

    def __init__(self, lookup: RightsLookup) -> None:
        self._lookup = lookup
        self.lookups = Counter(
            "cdr_lookups_total", "Lookups by mode and outcome.", ("mode", "outcome")
        )
        self.regime_answers = Counter(
            "cdr_regime_answers_total",
            "Per-regime answers by status (found, unknown, unavailable, timeout, rejected).",
            ("regime", "status"),
        )
        self.regime_latency = Histogram(
            "cdr_regime_latency_seconds",
            "Time to a regime's answer, retries included (cache hits excluded).",
            ("regime",),
        )
        self.lookup_latency = Histogram(
            "cdr_lookup_latency_seconds", "Whole lookup time by mode.", ("mode",)
        )
        self.http_requests = Counter(
            "cdr_http_requests_total", "HTTP requests by method, route and status.",
            ("method", "route", "status"),
        )  # fmt: skip
        self.http_latency = Histogram(
            "cdr_http_request_duration_seconds", "HTTP request duration by route.", ("route",)
        )
        self._extra: list[Callable[[], Iterable[str]]] = []

    def add_source(self, render: Callable[[], Iterable[str]]) -> None:
        """More metrics rendered on scrape (e.g. the HL7 inbox and outbox depths)."""
        self._extra.append(render)

    def observe_report(self, report: LookupReport) -> None:
        mode = "discovery" if report.query.is_discovery else "validation"
        self.lookups.inc(mode, report.outcome)
        self.lookup_latency.observe(report.elapsed_ms / 1000, mode)
        for result in report.results:
            self.regime_answers.inc(result.regime, result.status.value)
            if not result.from_cache:
                self.regime_latency.observe(result.elapsed_ms / 1000, result.regime)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.inc(method, route, str(status))
        self.http_latency.observe(seconds, route)

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.lookups,
            self.regime_answers,
            self.regime_latency,
            self.lookup_latency,
            self.http_requests,
            self.http_latency,
        ):
            lines += metric.render()
        cache = self._lookup.cache
        lines += [
            "# HELP cdr_cache_hits_total Answers served from the lookup cache.",
            "# TYPE cdr_cache_hits_total counter",
            f"cdr_cache_hits_total {cache.hits}",
            "# HELP cdr_cache_misses_total Lookups the cache could not answer.",
            "# TYPE cdr_cache_misses_total counter",
            f"cdr_cache_misses_total {cache.misses}",
            "# HELP cdr_cache_entries Answers held in the lookup cache.",
            "# TYPE cdr_cache_entries gauge",
            f"cdr_cache_entries {len(cache)}",
            "# HELP cdr_circuit_breaker_state Per regime: 0 closed, 1 half-open, 2 open.",
            "# TYPE cdr_circuit_breaker_state gauge",
        ]
        lines += [
            f"cdr_circuit_breaker_state{_labels(('regime',), (code,))} {_BREAKER_VALUE[state]}"
            for code, state in self._lookup.breaker_states().items()
        ]
        for render in self._extra:
            lines += render()
        return "\n".join(lines) + "\n"
