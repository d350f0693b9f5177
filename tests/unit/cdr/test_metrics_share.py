"""Summed metrics never go down between scrapes, whichever process answers them (issue 18.12)."""

from __future__ import annotations

from pathlib import Path

from cdr.metrics import MetricsShare


def _share(directory: Path) -> MetricsShare:
    return MetricsShare(directory, dict)


def test_a_later_scrape_from_another_process_never_reports_less(tmp_path: Path) -> None:
    first, second = _share(tmp_path), _share(tmp_path)  # two processes, one directory
    reported = first.never_less(
        [
            "# TYPE cdr_lookups_total counter",
            'cdr_lookups_total{mode="validation"} 24',
            'cdr_http_latency_seconds_sum{route="/fhir"} 1.500000',
        ]
    )
    assert reported[1:] == [
        'cdr_lookups_total{mode="validation"} 24',
        'cdr_http_latency_seconds_sum{route="/fhir"} 1.500000',
    ]
    # The second process still holds the first's counts of half a second ago: 22, not 24.
    later = second.never_less(
        [
            "# TYPE cdr_lookups_total counter",
            'cdr_lookups_total{mode="validation"} 22',
            'cdr_lookups_total{mode="discovery"} 3',
            'cdr_http_latency_seconds_sum{route="/fhir"} 1.250000',
        ]
    )
    assert later == [
        "# TYPE cdr_lookups_total counter",
        'cdr_lookups_total{mode="validation"} 24',
        'cdr_lookups_total{mode="discovery"} 3',
        'cdr_http_latency_seconds_sum{route="/fhir"} 1.500000',
    ]
    # Once the sum passes what was reported, the sum is reported.
    assert first.never_less(['cdr_lookups_total{mode="validation"} 30']) == [
        'cdr_lookups_total{mode="validation"} 30'
    ]


def test_without_a_writable_directory_the_scrape_still_answers(tmp_path: Path) -> None:
    lines = ['cdr_lookups_total{mode="validation"} 2']
    assert _share(tmp_path / "missing").never_less(lines) == lines
