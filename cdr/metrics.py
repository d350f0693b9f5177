"""Prometheus metrics of the gateway, in the text exposition format (version 0.0.4).

Small on purpose: counters and histograms keyed by label values, rendered on scrape. Gauges
that mirror live state (breakers, cache) are read from their owners at scrape time rather than
copied on every change.

``cdr serve`` runs several processes (HTTP workers, the HL7 processing process): each counter
and histogram a scrape reports is the sum over all of them (``MetricsShare``). An observation
stays a dict update in memory (about a microsecond; prometheus_client's multiprocess mode costs
5 to 15 times that per observation, measured, and a discovery makes some 40 of them); each
process writes the totals it holds to a file of the shared directory every half second and the
process that answers a scrape adds the others' files to its live numbers. Gauges describe the
process that answered.

Another process's file may be up to half a second old, so two scrapes answered by two processes
could see a counter go down, which Prometheus reads as a restart. Every value a scrape reports
is therefore also kept in the shared directory, and no later scrape reports less: each series
is the larger of its sum and what was last reported. That is never more than the true total
(a sum of counts that only grow, each read at some earlier time).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any, Protocol

from rights.lookup import RightsLookup
from rights.resilience import BreakerState
from rights.result import LookupReport

__all__ = ["Counter", "GatewayMetrics", "Histogram", "MetricsShare", "ReadCounter"]

log = logging.getLogger("cdr.metrics")

# Series of one metric: label values -> a number (counters) or per-slot counts and the sum.
Series = dict[tuple[str, ...], Any]

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
    kind = "counter"
    _values: dict[tuple[str, ...], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def snapshot(self) -> Series:
        with self._lock:
            return dict(self._values)

    def render(self, others: Iterable[Series] = ()) -> Iterable[str]:
        return _counter_lines(self, others)


@dataclass
class ReadCounter:
    """A counter its owner keeps (e.g. the cache's hits), read when snapshotted or rendered."""

    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[], Mapping[tuple[str, ...], float]]
    kind = "counter"

    def snapshot(self) -> Series:
        return dict(self.read())

    def render(self, others: Iterable[Series] = ()) -> Iterable[str]:
        return _counter_lines(self, others)


class _Metric(Protocol):
    name: str
    help: str
    labels: tuple[str, ...]
    kind: str

    def snapshot(self) -> Series: ...

    def render(self, others: Iterable[Series] = ()) -> Iterable[str]: ...


def _counter_lines(counter: _Metric, others: Iterable[Series]) -> Iterable[str]:
    totals = counter.snapshot()
    for other in others:
        for values, number in other.items():
            totals[values] = totals.get(values, 0.0) + number
    yield f"# HELP {counter.name} {counter.help}"
    yield f"# TYPE {counter.name} counter"
    for values, number in sorted(totals.items()):
        yield f"{counter.name}{_labels(counter.labels, values)} {number:g}"


@dataclass
class Histogram:
    name: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = _LATENCY_BUCKETS
    kind = "histogram"
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

    def snapshot(self) -> Series:
        with self._lock:
            return {values: list(series) for values, series in self._series.items()}

    def render(self, others: Iterable[Series] = ()) -> Iterable[str]:
        totals = self.snapshot()
        for other in others:
            for values, series in other.items():
                mine = totals.get(values)
                totals[values] = (
                    list(series)
                    if mine is None
                    else [a + b for a, b in zip(mine, series, strict=True)]
                )
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        names = (*self.labels, "le")
        for values, series in sorted(totals.items()):
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
        cache = lookup.cache
        self._summed: list[_Metric] = [
            self.lookups,
            self.regime_answers,
            self.regime_latency,
            self.lookup_latency,
            self.http_requests,
            self.http_latency,
            ReadCounter(
                "cdr_cache_hits_total", "Answers served from the lookup cache.", (),
                lambda: {(): cache.hits},
            ),
            ReadCounter(
                "cdr_cache_misses_total", "Lookups the cache could not answer.", (),
                lambda: {(): cache.misses},
            ),
        ]  # fmt: skip
        self._extra: list[Callable[[], Iterable[str]]] = []
        self._share: MetricsShare | None = None

    def add_source(self, render: Callable[[], Iterable[str]]) -> None:
        """More metrics rendered on scrape (e.g. the HL7 inbox and outbox depths)."""
        self._extra.append(render)

    def add_counter(
        self,
        name: str,
        help: str,
        labels: tuple[str, ...],
        read: Callable[[], Mapping[tuple[str, ...], float]],
    ) -> None:
        """A counter its owner keeps, summed over processes like the others."""
        self._summed.append(ReadCounter(name, help, labels, read))

    def share(self, directory: Path) -> None:
        """Sum counters and histograms with the other processes writing to ``directory``."""
        self._share = MetricsShare(directory, self.snapshot)
        self._share.start()

    def close(self) -> None:
        if self._share is not None:
            self._share.stop()
            self._share = None

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every summed metric: what it is and its series (what ``MetricsShare`` writes)."""
        return {
            metric.name: {
                "type": metric.kind,
                "help": metric.help,
                "labels": list(metric.labels),
                "buckets": list(getattr(metric, "buckets", ())),
                "series": [[list(v), n] for v, n in metric.snapshot().items()],
            }
            for metric in self._summed
        }

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
        others = self._share.others() if self._share is not None else []
        metrics = list(self._summed)
        known = {metric.name for metric in metrics}
        for other in others:  # kept by another process only (e.g. the HL7 intake's)
            for name, about in other.items():
                if name not in known:
                    known.add(name)
                    metrics.append(_metric_like(name, about))
        lines: list[str] = []
        for metric in metrics:
            lines += metric.render(_series(o[metric.name]) for o in others if metric.name in o)
        if self._share is not None:
            lines = self._share.never_less(lines)
        cache = self._lookup.cache
        lines += [
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


def _series(about: dict[str, Any]) -> Series:
    return {tuple(values): number for values, number in about["series"]}


def _metric_like(name: str, about: dict[str, Any]) -> _Metric:
    """An empty metric of this process described as another process wrote it."""
    if about["type"] == "histogram":
        return Histogram(name, about["help"], tuple(about["labels"]), tuple(about["buckets"]))
    return Counter(name, about["help"], tuple(about["labels"]))


class MetricsShare:
    """This process's totals in a file of ``directory``, rewritten every ``interval_s`` when
    they changed (replaced whole: a reader never sees half a file), and the other processes'
    totals read back at scrape time. A file stays after its process ends: its counts are part
    of the totals until ``cdr serve`` starts again with an empty directory."""

    def __init__(
        self,
        directory: Path,
        snapshot: Callable[[], dict[str, dict[str, Any]]],
        *,
        interval_s: float = 0.5,
    ) -> None:
        self._directory = directory
        self._snapshot = snapshot
        self._interval_s = interval_s
        self.path = directory / f"{os.getpid()}-{secrets.token_hex(4)}.json"
        self._written = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cdr-metrics", daemon=True)

    def start(self) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        self.write()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.write()

    def write(self) -> None:
        text = json.dumps(self._snapshot())
        if text == self._written:
            return
        temporary = self.path.with_suffix(".tmp")
        try:
            temporary.write_text(text)
            os.replace(temporary, self.path)
        except OSError as exc:  # a full disk must not stop the service; the scrape lags
            log.warning("cannot write the metrics of this process to %s: %s", self.path, exc)
            return
        self._written = text

    def others(self) -> list[dict[str, dict[str, Any]]]:
        """What the other processes wrote: metric name -> its description and series."""
        found: list[dict[str, dict[str, Any]]] = []
        for path in self._directory.glob("*.json"):
            if path == self.path:
                continue
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text())
                if isinstance(data, dict) and all(isinstance(m, dict) for m in data.values()):
                    found.append(data)
        return found

    def never_less(self, lines: list[str]) -> list[str]:
        """``lines`` of counters and histograms (``name{labels} value`` and comments), each value
        raised to what a scrape of any process reported before (kept in ``reported.state``)."""
        state = self._directory / "reported.state"
        try:
            with (self._directory / "reported.lock").open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    before: dict[str, float] = json.loads(state.read_text())
                except (OSError, ValueError):
                    before = {}
                out, now = _raised(lines, before)
                temporary = state.with_suffix(".tmp")
                temporary.write_text(json.dumps(now))
                os.replace(temporary, state)
        except OSError as exc:  # the scrape still answers, as the file-less sum
            log.warning("cannot keep the reported metrics in %s: %s", self._directory, exc)
            return lines
        return out

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.write()


def _raised(lines: list[str], before: dict[str, float]) -> tuple[list[str], dict[str, float]]:
    out: list[str] = []
    now = dict(before)
    for line in lines:
        key, _, text = line.rpartition(" ")
        if line.startswith("#") or not key:
            out.append(line)
            continue
        value = max(float(text), before.get(key, 0.0))
        now[key] = value
        out.append(
            f"{key} {value:g}"
            if not key.endswith("_sum") and "_sum{" not in key
            else f"{key} {value:.6f}"
        )
    return out, now
