"""A FHIR answer judged against a case's expectations: one sentence per difference.

Checked: the HTTP status, that the body is a FHIR JSON resource of the expected type, the
OperationOutcome issues a refusal must carry (code and FHIRPath expression), and for an answer
the CoverageEligibilityResponse's outcome and ``insurance[].inforce``. Every answer is also
checked against the whole official R4 JSON schema and the R4 invariants (FHIRPath, fhirpathpy),
the resources in a Bundle and the contained ones included; the first few violations are said.
"""

from __future__ import annotations

import json
from typing import Any

from conformance.cases import FhirExpectation, IssueExpectation
from conformance.fhir_invariants import invariant_violations
from conformance.fhir_schema import schema_errors

__all__ = ["judge_fhir_answer"]

# R4 CoverageEligibilityResponse: 1..1 status, purpose 1..*, patient, created, request, outcome,
# insurer (http://hl7.org/fhir/R4/coverageeligibilityresponse.html).
_CERSP_REQUIRED = ("status", "purpose", "patient", "created", "request", "outcome", "insurer")
_CERSP_OUTCOMES = ("queued", "complete", "error", "partial")  # RemittanceOutcome, required
_FM_STATUSES = ("active", "cancelled", "draft", "entered-in-error")
# R4 OperationOutcome.issue: severity and code 1..1 (IssueSeverity, IssueType: required).
_SEVERITIES = ("fatal", "error", "warning", "information")


def judge_fhir_answer(status: int, body: bytes, expect: FhirExpectation) -> list[str]:
    diffs: list[str] = []
    if status != expect.status:
        diffs.append(f"HTTP status: expected {expect.status}, got {status}")
    try:
        resource = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        diffs.append(f"the answer is not JSON: {_excerpt(body)}")
        return diffs
    if not isinstance(resource, dict) or "resourceType" not in resource:
        diffs.append(f"the answer is not a FHIR resource: {_excerpt(body)}")
        return diffs
    kind = resource["resourceType"]
    if kind != expect.resource_type:
        diffs.append(f"resourceType: expected {expect.resource_type}, got {kind}")
        return diffs
    diffs += _r4_diffs(resource)
    if kind == "OperationOutcome":
        diffs += _outcome_diffs(resource, expect.issues)
    elif kind == "Bundle":
        diffs += _bundle_diffs(resource, expect)
    elif kind == "CoverageEligibilityResponse":
        diffs += _response_diffs(resource, expect, where="CoverageEligibilityResponse")
    return diffs


_SAID = 5  # violations said per answer: enough to act on, not a page of them


def _r4_diffs(resource: dict[str, Any]) -> list[str]:
    """The R4 schema's and invariants' verdict on the answer (a Bundle's entries included)."""
    found = [f"R4 schema: {e}" for e in schema_errors(resource)]
    if resource.get("resourceType") == "Bundle":
        for n, entry in enumerate(resource.get("entry") or []):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict):
                found += [f"R4 schema, Bundle.entry[{n}]: {e}" for e in schema_errors(inner)]
    if not found:  # the invariants are meaningful on a resource of the right shape only
        found = [f"R4 invariant: {v}" for v in invariant_violations(resource)]
    if len(found) > _SAID:
        found = [*found[:_SAID], f"… and {len(found) - _SAID} more R4 violations"]
    return found


def _outcome_diffs(outcome: dict[str, Any], wanted: tuple[IssueExpectation, ...]) -> list[str]:
    issues = outcome.get("issue")
    if not isinstance(issues, list) or not issues:
        return ["OperationOutcome.issue: required (1..*), absent"]
    diffs: list[str] = []
    got: list[tuple[str, tuple[str, ...]]] = []
    for n, issue in enumerate(issues):
        if not isinstance(issue, dict):
            diffs.append(f"OperationOutcome.issue[{n}]: not an object")
            continue
        if issue.get("severity") not in _SEVERITIES:
            diffs.append(f"OperationOutcome.issue[{n}].severity: {issue.get('severity')!r}")
        expressions = issue.get("expression", [])
        got.append(
            (str(issue.get("code")), tuple(expressions if isinstance(expressions, list) else ()))
        )
    for want in wanted:
        if not any(
            code == want.code and (want.expression is None or want.expression in expressions)
            for code, expressions in got
        ):
            at = f" at {want.expression}" if want.expression else ""
            seen = ", ".join(f"{code} at {'/'.join(ex) or '-'}" for code, ex in got)
            diffs.append(f"no issue {want.code}{at} (the answer has: {seen})")
    return diffs


def _bundle_diffs(bundle: dict[str, Any], expect: FhirExpectation) -> list[str]:
    # docs/fhir-profile.md: a Bundle input is answered by a collection Bundle holding the
    # CoverageEligibilityResponse and the resources it references.
    diffs = (
        []
        if bundle.get("type") == "collection"
        else [f"Bundle.type: expected collection, got {bundle.get('type')!r}"]
    )
    entry = bundle.get("entry")
    entries: list[Any] = entry if isinstance(entry, list) else []
    found = [
        (n, e["resource"])
        for n, e in enumerate(entries)
        if isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == "CoverageEligibilityResponse"
    ]
    if len(found) != 1:
        return [
            *diffs,
            f"Bundle.entry: expected one CoverageEligibilityResponse, found {len(found)}",
        ]
    n, response = found[0]
    return diffs + _response_diffs(response, expect, where=f"Bundle.entry[{n}].resource")


def _response_diffs(response: dict[str, Any], expect: FhirExpectation, *, where: str) -> list[str]:
    diffs = [
        f"{where}.{name}: required, absent" for name in _CERSP_REQUIRED if name not in response
    ]
    if response.get("status", "active") not in _FM_STATUSES:
        diffs.append(f"{where}.status: {response.get('status')!r} is not an fm-status code")
    outcome = response.get("outcome")
    if outcome is not None and outcome not in _CERSP_OUTCOMES:
        diffs.append(f"{where}.outcome: {outcome!r} is not a RemittanceOutcome code")
    if expect.outcome is not None and outcome != expect.outcome:
        diffs.append(f"{where}.outcome: expected {expect.outcome}, got {outcome}")
    if expect.inforce is not None:
        insurance = response.get("insurance")
        items = insurance if isinstance(insurance, list) else []
        flags = [i.get("inforce") for i in items if isinstance(i, dict)]
        if expect.inforce not in flags:
            diffs.append(
                f"{where}.insurance.inforce: expected some insurance with inforce "
                f"{str(expect.inforce).lower()}, got {json.dumps(flags)}"
            )
    return diffs


def _excerpt(body: bytes, limit: int = 120) -> str:
    text = body[:limit].decode("utf-8", errors="replace").replace("\n", " ")
    return repr(text + ("…" if len(body) > limit else ""))
