"""The kit's cases written out for other tools (`cdr conformance fixtures export DIR`): the
manifest, every input file as committed, and each FHIR case as an R4 ``TestScript`` so that
TestScript-driven tools (Touchstone, Inferno's TestScript engine, HAPI's runner) can run it.

A TestScript names its request as a fixture (the exported input file, by a relative reference),
posts it to ``CoverageEligibilityRequest/$submit`` and asserts what the case expects: the HTTP
status, the resource type, and the outcome, ``inforce`` or OperationOutcome issues as FHIRPath
expressions that must be true.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.cases import Case, FhirExpectation, manifest_text
from rights.errors import InputError

__all__ = ["Exported", "export_fixtures", "script_for"]

_CANONICAL = "https://cdr-gateway.example.org/fhir/TestScript"
_SUBMIT = "/CoverageEligibilityRequest/$submit"


@dataclass(frozen=True, slots=True)
class Exported:
    inputs: int
    test_scripts: int


def export_fixtures(directory: Path, cases: Sequence[Case]) -> Exported:
    """The manifest, the inputs and the TestScripts written under ``directory``, which must be
    new or empty (nothing of a tester's is overwritten). ``InputError`` naming it otherwise."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"{directory} is not an empty directory", location="DIR")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cases.json").write_text(manifest_text(), encoding="utf-8")
        inputs = 0
        for case in cases:
            target = directory / case.input
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(case.payload())
            inputs += 1
        scripts = directory / "testscript"
        written = 0
        for case in cases:
            if case.kind != "fhir":
                continue
            scripts.mkdir(exist_ok=True)
            text = json.dumps(script_for(case), indent=2, ensure_ascii=False) + "\n"
            (scripts / f"{case.id}.json").write_text(text, encoding="utf-8")
            written += 1
    except OSError as exc:
        raise InputError(
            f"cannot write to {directory}: {exc.strerror or exc}", location="DIR"
        ) from exc
    return Exported(inputs, written)


def script_for(case: Case) -> dict[str, Any]:
    """The R4 TestScript of one FHIR case."""
    expect = case.expect
    if not isinstance(expect, FhirExpectation):
        raise ValueError(f"{case.id} is not a FHIR case")
    asserts: list[dict[str, Any]] = [
        _assert(f"HTTP status {expect.status}", responseCode=str(expect.status)),
        _assert(f"the answer is a {expect.resource_type}", resource=expect.resource_type),
    ]
    # The response itself, or the one in the collection Bundle a Bundle request is answered with.
    response = (
        "CoverageEligibilityResponse"
        if expect.resource_type != "Bundle"
        else "Bundle.entry.resource.ofType(CoverageEligibilityResponse)"
    )
    if expect.outcome is not None:
        asserts.append(
            _assert(
                f"outcome is {expect.outcome}",
                expression=f"{response}.outcome",
                operator="equals",
                value=expect.outcome,
            )
        )
    if expect.inforce is not None:
        flag = "true" if expect.inforce else "false"
        asserts.append(
            _true(
                f"some insurance has inforce {flag}",
                f"{response}.insurance.where(inforce = {flag}).exists()",
            )
        )
    for issue in expect.issues:
        where = f"code = '{issue.code}'"
        if issue.expression is not None:
            where += f" and expression.where($this = '{_quoted(issue.expression)}').exists()"
        asserts.append(
            _true(
                f"an issue {issue.code}" + (f" at {issue.expression}" if issue.expression else ""),
                f"OperationOutcome.issue.where({where}).exists()",
            )
        )
    return {
        "resourceType": "TestScript",
        "id": case.id[:64],
        "url": f"{_CANONICAL}/{case.id}",
        "name": _name(case.id),
        "title": case.title,
        "status": "active",
        "description": f"{case.title}. Checks: {case.clause}.",
        "fixture": [
            {
                "id": "request",
                "autocreate": False,
                "autodelete": False,
                "resource": {"reference": f"../{case.input}"},
            }
        ],
        "test": [
            {
                "name": "submit",
                "description": "POST the request to $submit and check the answer",
                "action": [
                    {
                        "operation": {
                            "resource": "CoverageEligibilityRequest",
                            "description": "CoverageEligibilityRequest/$submit",
                            "accept": "json",
                            "contentType": "json",
                            "encodeRequestUrl": True,
                            "method": "post",
                            "url": _SUBMIT,
                            "sourceId": "request",
                        }
                    },
                    *({"assert": a} for a in asserts),
                ],
            }
        ],
    }


def _assert(description: str, **check: str) -> dict[str, Any]:
    return {"description": description, "direction": "response", **check, "warningOnly": False}


def _true(description: str, expression: str) -> dict[str, Any]:
    return _assert(description, expression=expression, operator="equals", value="true")


def _quoted(text: str) -> str:
    # A FHIRPath string literal: its quote and backslash escaped.
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _name(case_id: str) -> str:
    """A computer-friendly name (R4 inv-0: starts with a capital, letters, digits, _)."""
    words = re.split(r"[^A-Za-z0-9]+", case_id)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name if name[:1].isalpha() else f"Case{name}"
