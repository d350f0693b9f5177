"""The cost of one metrics observation on the request path (issue 18.12).

``python -m benchmarks.metrics_bench``: our in-memory counter and histogram against
prometheus_client's multiprocess mode (when it is installed; it is not a dependency), and the
cost of one write of a process's totals to the shared directory (every half second, off the
request path). Best of five runs of 200,000 observations each.
"""

from __future__ import annotations

import os
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from cdr.metrics import Counter, GatewayMetrics, Histogram, MetricsShare
from rights.catalogue import default_catalogue

ROUTE = "/fhir/CoverageEligibilityRequest/$submit"
N = 200_000


def per_call_us(call: Callable[[], object], number: int = N) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6


def ours() -> tuple[float, float]:
    counter = Counter("c_total", "c", ("method", "route", "status"))
    histogram = Histogram("h_seconds", "h", ("route",))
    return (
        per_call_us(lambda: counter.inc("POST", ROUTE, "200")),
        per_call_us(lambda: histogram.observe(0.012, ROUTE)),
    )


def prometheus_multiprocess(directory: str) -> tuple[float, float] | None:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        import prometheus_client
    except ImportError:
        return None
    registry = prometheus_client.CollectorRegistry()
    counter = prometheus_client.Counter("c", "c", ("method", "route", "status"), registry=registry)
    histogram = prometheus_client.Histogram("h", "h", ("route",), registry=registry)
    return (
        per_call_us(lambda: counter.labels("POST", ROUTE, "200").inc()),
        per_call_us(lambda: histogram.labels(ROUTE).observe(0.012)),
    )


def share_write(directory: Path) -> float:
    """One write of a busy process's totals: every regime, status and route seen."""
    catalogue = default_catalogue()
    # Only the cache's two counts are read from the lookup when writing.
    lookup = SimpleNamespace(cache=SimpleNamespace(hits=0, misses=0))
    metrics = GatewayMetrics(lookup)  # type: ignore[arg-type]
    for regime in catalogue.codes:
        for status in ("found", "unknown", "unavailable", "timeout", "rejected"):
            metrics.regime_answers.inc(regime, status)
        metrics.regime_latency.observe(0.02, regime)
    for status in ("200", "400", "404", "422", "500"):
        metrics.observe_http("POST", ROUTE, int(status), 0.01)
    share = MetricsShare(directory, metrics.snapshot)

    def write() -> None:
        share._written = ""  # force the write (unchanged totals are not rewritten)
        share.write()

    return per_call_us(write, number=200)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        counter_us, histogram_us = ours()
        print(f"ours: counter inc {counter_us:.2f} us, histogram observe {histogram_us:.2f} us")
        measured = prometheus_multiprocess(directory)
        if measured is not None:
            print(
                f"prometheus_client multiprocess: counter inc {measured[0]:.2f} us, "
                f"histogram observe {measured[1]:.2f} us"
            )
        print(f"one share write (off the request path): {share_write(Path(directory)):.0f} us")


if __name__ == "__main__":
    main()
