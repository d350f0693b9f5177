"""The run's reports: a line per case for the terminal, JUnit XML for CI servers, JSON for
other tools (the HTML page is ``conformance.html_report``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from conformance.runner import CaseResult

__all__ = ["case_line", "json_report", "junit_xml", "summary_line"]


def case_line(result: CaseResult) -> str:
    if result.skipped:
        return f"SKIP {result.case.id}: {result.skipped}"
    head = f"{'PASS' if result.passed else 'FAIL'} {result.case.id} ({result.seconds:.2f} s)"
    if result.passed:
        return head
    return head + "".join(f"\n     {diff}" for diff in result.diffs)


def summary_line(results: Sequence[CaseResult], seconds: float) -> str:
    passed = sum(1 for r in results if r.passed)
    failed = sum(1 for r in results if r.failed)
    skipped = len(results) - passed - failed
    also = f"{skipped} skipped, " if skipped else ""
    return f"{len(results)} cases in {seconds:.1f} s: {also}{passed} passed, {failed} failed"


def junit_xml(results: Sequence[CaseResult], *, name: str = "cdr-conformance") -> bytes:
    """One ``testsuite``, one ``testcase`` per case (classname: its kind and first family tag),
    a ``failure`` whose message is the diff; the clause and the exchange in ``system-out``."""
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(sum(1 for r in results if r.failed)),
        errors="0",
        skipped=str(sum(1 for r in results if r.skipped)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in results:
        case = result.case
        family = case.tags[1] if len(case.tags) > 1 else case.kind
        testcase = ET.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{case.kind}.{family}",
            name=case.id,
            time=f"{result.seconds:.3f}",
        )
        if result.skipped:
            ET.SubElement(testcase, "skipped", message=result.skipped)
        elif result.failed:
            failure = ET.SubElement(testcase, "failure", message="; ".join(result.diffs))
            failure.text = "\n".join(result.diffs)
        out = ET.SubElement(testcase, "system-out")
        out.text = f"{case.title}\nclause: {case.clause}\n{result.request}\n\n{result.response}"
    ET.indent(suite)
    xml: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return xml


def json_report(results: Sequence[CaseResult], *, seconds: float, version: str) -> dict[str, Any]:
    return {
        "manifest_version": version,
        "seconds": round(seconds, 3),
        "passed": sum(1 for r in results if r.passed),
        "failed": sum(1 for r in results if r.failed),
        "skipped": sum(1 for r in results if r.skipped),
        "cases": [
            {
                "id": r.case.id,
                "kind": r.case.kind,
                "title": r.case.title,
                "clause": r.case.clause,
                "tags": list(r.case.tags),
                "input": r.case.input,
                "result": "skipped" if r.skipped else "passed" if r.passed else "failed",
                "differences": list(r.diffs),
                "skipped": r.skipped,
                "seconds": round(r.seconds, 3),
                "request": r.request,
                "response": r.response,
            }
            for r in results
        ],
    }
