from __future__ import annotations

import json
import logging
from dataclasses import replace

from cdr.logs import JsonFormatter, mask_nirs
from cdr.metrics import GatewayMetrics, Histogram
from fhir_server.context import correlation_id
from rights.catalogue import default_catalogue
from rights.evaluation import evaluate
from rights.lookup import RightsLookup
from rights.result import LookupReport, RegimeStatus, RightsResult
from tests.unit.rights.fakes import FakeClock, FakeGateway, query, rights_for

CATALOGUE = default_catalogue()


def _metrics() -> GatewayMetrics:
    gateways = {r.code: FakeGateway(r.family, {}) for r in CATALOGUE}
    return GatewayMetrics(RightsLookup(CATALOGUE, gateways, FakeClock()))


def _report() -> LookupReport:
    q = query("cnam")
    rights = rights_for(CATALOGUE.get("cnam"))
    found = RightsResult(
        "cnam", RegimeStatus.FOUND, evaluate(RegimeStatus.FOUND, rights, q.date_of_care), rights,
        elapsed_ms=30.0,
    )  # fmt: skip
    cached = replace(found, from_cache=True)
    return LookupReport(q, (found, cached), FakeClock().now(), 31.0)


def test_lookups_are_counted_by_regime_status_and_mode():
    metrics = _metrics()
    metrics.observe_report(_report())
    text = metrics.render()
    assert 'cdr_lookups_total{mode="validation",outcome="complete"} 1' in text
    assert 'cdr_regime_answers_total{regime="cnam",status="found"} 2' in text
    # The cached answer took no regime time: one latency observation only.
    assert 'cdr_regime_latency_seconds_count{regime="cnam"} 1' in text
    assert 'cdr_regime_latency_seconds_bucket{regime="cnam",le="0.05"} 1' in text
    assert 'cdr_regime_latency_seconds_bucket{regime="cnam",le="0.025"} 0' in text
    assert 'cdr_circuit_breaker_state{regime="msa"} 0' in text
    assert "cdr_cache_hits_total 0" in text


def test_http_requests_and_extra_sources():
    metrics = _metrics()
    metrics.observe_http("POST", "/fhir/CoverageEligibilityRequest/$submit", 200, 0.012)
    metrics.add_source(lambda: ["# TYPE cdr_hl7_inbox_depth gauge", "cdr_hl7_inbox_depth 3"])
    text = metrics.render()
    assert (
        'cdr_http_requests_total{method="POST",route="/fhir/CoverageEligibilityRequest/$submit",'
        'status="200"} 1'
    ) in text
    assert "cdr_hl7_inbox_depth 3" in text


def test_histogram_buckets_are_cumulative():
    histogram = Histogram("h", "help", ("k",), buckets=(0.1, 1.0))
    for seconds in (0.05, 0.5, 5.0):
        histogram.observe(seconds, "a")
    lines = list(histogram.render())
    assert 'h_bucket{k="a",le="0.1"} 1' in lines
    assert 'h_bucket{k="a",le="1"} 2' in lines
    assert 'h_bucket{k="a",le="+Inf"} 3' in lines
    assert 'h_count{k="a"} 3' in lines
    histogram.observe(1.0, "a")  # a bucket's bound is inside it (le: less or equal)
    lines = list(histogram.render())
    assert 'h_bucket{k="a",le="0.1"} 1' in lines
    assert 'h_bucket{k="a",le="1"} 3' in lines
    assert 'h_bucket{k="a",le="+Inf"} 4' in lines
    assert 'h_sum{k="a"} 6.550000' in lines


def test_nirs_are_masked_in_logs():
    assert mask_nirs("lookup for 185057505612345 done") == "lookup for 18505******** done"
    assert mask_nirs("NIR 2 69 07 2A 123 456 78") == "NIR 26907********"
    assert mask_nirs("order 42 of 2026-11-24") == "order 42 of 2026-11-24"


def test_json_lines_carry_the_correlation_id_and_extras():
    token = correlation_id.set("abc123")
    try:
        record = logging.makeLogRecord(
            {"msg": "lookup %s", "args": ("185057505612345",), "levelno": 20, "levelname": "INFO",
             "name": "cdr", "regime": "cnam"}
        )  # fmt: skip
        entry = json.loads(JsonFormatter().format(record))
    finally:
        correlation_id.reset(token)
    assert entry["correlation_id"] == "abc123"
    assert entry["message"] == "lookup 18505********"
    assert entry["regime"] == "cnam"
    assert entry["level"] == "info"


def test_processes_sharing_a_directory_report_the_sum_of_their_counts(tmp_path):
    """`cdr serve` runs several processes: a scrape of any one reports every process's counts
    (issue 18.12); a metric only another process keeps is reported too."""
    submit = "/fhir/CoverageEligibilityRequest/$submit"
    scraped, other = _metrics(), _metrics()
    other.add_counter("cdr_hl7_messages_total", "HL7 messages.", ("ack",), lambda: {("AA",): 3})
    scraped.share(tmp_path)
    other.share(tmp_path)
    try:
        for metrics, requests in ((scraped, 2), (other, 5)):
            for _ in range(requests):
                metrics.observe_http("POST", submit, 200, 0.012)
        other.observe_report(_report())
    finally:
        other.close()  # writes its last numbers
    try:
        text = scraped.render()
    finally:
        scraped.close()
    assert f'cdr_http_requests_total{{method="POST",route="{submit}",status="200"}} 7' in text
    assert f'cdr_http_request_duration_seconds_count{{route="{submit}"}} 7' in text
    assert 'cdr_lookups_total{mode="validation",outcome="complete"}' in text
    assert "# TYPE cdr_hl7_messages_total counter" in text
    assert 'cdr_hl7_messages_total{ack="AA"} 3' in text
