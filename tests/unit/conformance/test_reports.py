"""The reports: JUnit XML a CI server parses, and one self-contained HTML page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conformance.cases import load_cases
from conformance.html_report import html_report
from conformance.report import junit_xml
from conformance.runner import CaseResult

CASES = load_cases()
RESULTS = [
    CaseResult(CASES[0], (), 0.01, "MLLP 127.0.0.1:2575", "MSH|^~\\&|…\nMSA|AA|X"),
    CaseResult(CASES[1], ("MSA-1: expected AA, got AE",), 0.02, "MLLP h:1", "<script>x</script>"),
    CaseResult(CASES[2], (), 0.0, skipped="NIR 1 rang 1 is not in the given population"),
]


def test_junit_has_one_testcase_per_case_with_its_failure_or_skip():
    suite = ET.fromstring(junit_xml(RESULTS))
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    first, second, third = suite.iter("testcase")
    assert first.get("name") == CASES[0].id and first.find("failure") is None
    failure = second.find("failure")
    assert failure is not None and failure.get("message") == "MSA-1: expected AA, got AE"
    assert third.find("skipped") is not None


def test_the_html_page_is_self_contained_and_escapes_what_peers_sent():
    page = html_report(RESULTS, seconds=1.0, version="v1")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "src=" not in page and "href=" not in page  # nothing fetched from elsewhere
    for result in RESULTS:
        assert result.case.id in page
    assert '<details class="failed" open>' in page
    assert "1 passed" in page and "1 failed" in page and "1 skipped" in page
