"""The conformance kit for interface testers (issue 16): the cases (fixtures and what they
expect), the validators that judge a file by the gateway's own rules, and the runner that
judges any FHIR or MLLP endpoint. The names below are the entry points; ``cdr conformance``
wires them."""

from conformance.cases import Case, load_cases, manifest_version, select
from conformance.html_report import html_report
from conformance.report import case_line, json_report, junit_xml, summary_line
from conformance.runner import CaseResult, Endpoints, run_cases
from conformance.validate import FileVerdict, validate_file

__all__ = [
    "Case",
    "CaseResult",
    "Endpoints",
    "FileVerdict",
    "case_line",
    "html_report",
    "json_report",
    "junit_xml",
    "load_cases",
    "manifest_version",
    "run_cases",
    "select",
    "summary_line",
    "validate_file",
]
